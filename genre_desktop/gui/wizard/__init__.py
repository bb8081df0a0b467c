"""The "Train on my library" wizard: choose music, check it, train, see the results."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWizard

from genre_desktop.gui.wizard.check_page import CheckPage
from genre_desktop.gui.wizard.choose_page import ChoosePage
from genre_desktop.gui.wizard.results_page import ResultsPage
from genre_desktop.gui.wizard.train_page import TrainPage

PAGE_CHOOSE, PAGE_CHECK, PAGE_TRAIN, PAGE_RESULTS = range(4)


class TrainWizard(QWizard):
    """Emits ``use_model(path)`` when the person chooses to switch to the new model."""

    use_model = Signal(str)
    open_track = Signal(str)

    def __init__(self, base_model: str | None = None, parent=None, settings=None):
        super().__init__(parent)
        self.setWindowTitle("Train on my library")
        self.setWizardStyle(QWizard.ModernStyle)
        self.setOption(QWizard.NoBackButtonOnLastPage, True)
        self.settings = settings  # gui.settings.Settings: remembers the library folder
        self.scan = None  # LabelledScan, set by the check page
        self.outcome = None  # TrainOutcome, set by the train page
        self.choose_page = ChoosePage(base_model, settings)
        self.check_page = CheckPage()
        self.train_page = TrainPage()
        self.results_page = ResultsPage()
        for page_id, page in enumerate((self.choose_page, self.check_page, self.train_page, self.results_page)):
            self.setPage(page_id, page)
        self.resize(900, 640)

    @property
    def base_model(self) -> str | None:
        """The model training starts from: what the person picked on the first page."""
        return self.choose_page.base_model()

    def reject(self) -> None:
        self.check_page.cancel()
        self.train_page.cancel()
        super().reject()
