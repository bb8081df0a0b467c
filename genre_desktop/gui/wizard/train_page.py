"""Wizard page 3: name, mode, train in a worker with progress, ETA, live curves, Cancel."""
from __future__ import annotations

import time

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QButtonGroup, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QProgressBar,
                               QPushButton, QRadioButton, QSpinBox, QVBoxLayout, QWizardPage)

from genre_desktop.core.errors import BundleError
from genre_desktop.core.engine.models.registry import user_model_path
from genre_desktop.core.training.train_on_library import TrainOptions, train_on_library
from genre_desktop.gui.tasks import Task
from genre_desktop.gui.theme import style_plot



SUBTITLE = ("Starting from {base}. Quick trains a new genre layer on its network's features (about "
            "a minute); thorough also fine-tunes the network's later layers (several minutes; with a "
            "few dozen tracks per genre quick is usually as good).")
ONLY_WARNING = ("\u26a0 A model that knows only your genres calls all music one of them: a track of any "
                "other genre gets the nearest of yours, or \u201cnone of my genres\u201d when it is far enough "
                "away. Keep the base model's genres unless your library covers all the music you will play.")
THOROUGH_NEEDS_ONLY = ("Thorough fine-tunes the network on your tracks alone, which would change the base "
                       "model's other genres: it trains only your genres.")


def base_genre_count(base_model) -> int | None:
    """How many genres the base model knows (None when its labels cannot be read)."""
    from genre_desktop.core.engine.models.bundle import read_meta
    from genre_desktop.core.engine.models.registry import resolve_model

    try:
        return len(read_meta(resolve_model(base_model))["labels"])
    except (BundleError, OSError, KeyError, TypeError):
        return None


class TrainPage(QWizardPage):
    training_finished = Signal(object)
    _epoch = Signal(list, list)  # train losses, validation accuracies so far (from the worker)

    def __init__(self):
        super().__init__()
        self.setTitle("Train")
        self.setSubTitle(SUBTITLE.format(base="the chosen model"))
        self.name_edit = QLineEdit("my-genres")
        self.name_edit.textChanged.connect(self._validate_name)
        self.name_note = QLabel("")
        self.name_note.setStyleSheet("color: #b26a00;")
        self.quick = QRadioButton("Quick")
        self.thorough = QRadioButton("Thorough")
        self.quick.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.quick)
        group.addButton(self.thorough)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 100)
        self.epochs.setValue(8)
        self.epochs.setEnabled(False)
        self.thorough.toggled.connect(self.epochs.setEnabled)
        modes = QHBoxLayout()
        modes.addWidget(self.quick)
        modes.addWidget(self.thorough)
        modes.addWidget(QLabel("epochs:"))
        modes.addWidget(self.epochs)
        modes.addStretch(1)
        self.extend = QRadioButton("Add my genres to the base model's")
        self.only = QRadioButton("Only my genres")
        self.extend.setChecked(True)
        scopes = QButtonGroup(self)
        scopes.addButton(self.extend)
        scopes.addButton(self.only)
        scope_row = QHBoxLayout()
        scope_row.addWidget(self.extend)
        scope_row.addWidget(self.only)
        scope_row.addStretch(1)
        self.scope_note = QLabel("")
        self.scope_note.setWordWrap(True)
        self.extend.toggled.connect(self._scope_changed)
        self.thorough.toggled.connect(self._scope_changed)
        form = QFormLayout()
        form.addRow("Model name:", self.name_edit)
        form.addRow("", self.name_note)
        form.addRow("Genres:", scope_row)
        form.addRow("", self.scope_note)
        form.addRow("Mode:", modes)
        self.start_button = QPushButton("Start training")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel("")
        plots = self.plots = pg.GraphicsLayoutWidget()
        self.loss_plot = plots.addPlot(row=0, col=0, title="Training loss")
        self.loss_plot.setLabel("bottom", "epoch")
        self.acc_plot = plots.addPlot(row=0, col=1, title="Validation accuracy")
        self.acc_plot.setLabel("bottom", "epoch")
        self.acc_plot.setYRange(0, 1)
        style_plot(plots, [self.loss_plot, self.acc_plot])
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen("#1f77b4", width=2), symbol="o", symbolSize=6)
        self.acc_curve = self.acc_plot.plot(pen=pg.mkPen("#2ca02c", width=2), symbol="o", symbolSize=6)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(plots, 1)
        # quick mode fits the genre layer in one step: no epochs, so no curves to draw
        self.quick_note = QLabel("Quick mode fits the genre layer in one step, so there are no epochs to "
                                 "plot. Its accuracy (cross-validated on a small library) is on the next page.")
        self.quick_note.setWordWrap(True)
        layout.addWidget(self.quick_note)
        layout.addStretch(0)
        self.thorough.toggled.connect(self._show_curves)
        self._show_curves(self.thorough.isChecked())
        self.worker = None  # the running training Task
        self._epoch.connect(self._on_epoch)
        self.outcome = None
        self._started_at = 0.0

    def initializePage(self) -> None:
        base = self.wizard().choose_page.base_combo.currentText() or "the bundled model"
        self.setSubTitle(SUBTITLE.format(base=base))
        n = base_genre_count(self.wizard().base_model)
        self.extend.setText(f"Add my genres to the base model's {n}" if n else "Add my genres to the base model's")
        self._scope_changed()
        self.outcome = None
        self.progress.setValue(0)
        self.status.setText("")
        self._validate_name(self.name_edit.text())

    def scope(self) -> str:
        """What the model will know: ``"extend"`` (the base's genres and yours) or ``"only"``."""
        return "extend" if self.extend.isChecked() else "only"

    def _scope_changed(self, *_) -> None:
        """Say what each choice means; thorough mode trains only your genres."""
        if self.thorough.isChecked() and self.extend.isChecked():
            self.only.setChecked(True)
        self.extend.setEnabled(not self.thorough.isChecked())
        self.extend.setToolTip(THOROUGH_NEEDS_ONLY if self.thorough.isChecked() else
                               "The base model's genres are kept; yours are added, or re-taught when it knows them")
        if self.extend.isChecked():
            self.scope_note.setText("Your genres are added to those the base model knows (a genre it knows is "
                                    "re-taught from your tracks); music of other genres keeps its genre.")
            self.scope_note.setStyleSheet("")
        else:
            self.scope_note.setText(ONLY_WARNING + (" " + THOROUGH_NEEDS_ONLY if self.thorough.isChecked() else ""))
            self.scope_note.setStyleSheet("color: #b26a00;")

    def _validate_name(self, text: str) -> None:
        try:
            folder = user_model_path(text)
        except BundleError as exc:
            self.name_note.setText(str(exc)[:1].upper() + str(exc)[1:] + ".")
            self.start_button.setEnabled(False)
        else:
            just_saved = self.outcome is not None and self.outcome.path.name == folder.name
            exists = folder.exists() and not just_saved
            self.name_note.setText("A model of this name exists: it will be replaced (the old one is kept "
                                   "as a backup)." if exists else "")
            self.start_button.setEnabled(self.worker is None)

    def start(self) -> None:
        wizard = self.wizard()
        options = TrainOptions(mode="thorough" if self.thorough.isChecked() else "quick",
                               epochs=self.epochs.value(), scope=self.scope())
        self.worker = Task(train_on_library, wizard.scan, self.name_edit.text().strip(), options,
                           base_model=wizard.base_model, name="training", parent=self,
                           on_epoch=lambda h: self._epoch.emit(list(h.train_loss), list(h.val_accuracy)))
        self.worker.progress.connect(self._on_progress)
        self.worker.finished.connect(self._on_done)
        self.worker.errored.connect(self._on_failed)
        self.worker.cancelled.connect(self._on_cancelled)
        self.loss_curve.setData([], [])
        self.acc_curve.setData([], [])
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._started_at = time.monotonic()
        self.worker.start()

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.status.setText("Stopping\u2026")

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        elapsed = time.monotonic() - self._started_at
        eta = f", about {elapsed / fraction * (1 - fraction):.0f} s left" if fraction > 0.05 else ""
        self.status.setText(f"{message} ({elapsed:.0f} s{eta})")

    def _on_failed(self, message: str) -> None:
        self._finish(f"Training failed: {message}")

    def _on_cancelled(self) -> None:
        self._finish("Cancelled: nothing was saved.")

    def _show_curves(self, thorough: bool) -> None:
        self.plots.setVisible(thorough)
        self.quick_note.setVisible(not thorough)

    def _on_epoch(self, losses: list, accuracies: list) -> None:
        epochs = list(range(1, len(losses) + 1))
        self.loss_curve.setData(epochs, losses)
        self.acc_curve.setData(epochs, accuracies)

    def _on_done(self, outcome) -> None:
        self.outcome = outcome
        self.wizard().outcome = outcome
        estimate = outcome.estimate
        self._finish(f"Done in {outcome.seconds['total']:.0f} s: {estimate.accuracy:.0%} of {estimate.tracks} "
                     "tracks right. Press Next for how this was measured.")
        self.completeChanged.emit()
        self.training_finished.emit(outcome)

    def _finish(self, message: str) -> None:
        self.status.setText(message)
        self.cancel_button.setEnabled(False)
        if self.worker is not None:
            self.worker.wait(5000)
        self.worker = None
        self._validate_name(self.name_edit.text())

    def isComplete(self) -> bool:
        return self.outcome is not None
