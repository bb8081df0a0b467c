"""The Model menu: train, manage, and pick the model the window uses."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QMenu

from genre_desktop.core.engine.models.registry import list_models, resolve_model
from genre_desktop.gui.window_api import WindowApi

log = logging.getLogger(__name__)


class ModelMenu(QObject):
    """Fills ``menu`` with the installed models (broken ones listed, disabled, with why),
    checks the window's current one, and opens the training wizard and the model manager.

    Parameters
    ----------
    menu : QMenu
    window : WindowApi
        The main window (its ``bundle``, ``settings``, ``load_model``, ``show_tracks`` and
        messages); also the parent of the dialogs this menu opens.

    Attributes
    ----------
    notice : str
        Why the window fell back to the bundled model, if it did ("" otherwise).
    """

    def __init__(self, menu: QMenu, window: WindowApi):
        super().__init__(window)  # type: ignore[arg-type]  # the window is a QMainWindow
        self.menu = menu
        self.window = window
        self.notice = ""
        menu.setToolTipsVisible(True)

    def refresh(self) -> None:
        menu, window = self.menu, self.window
        menu.clear()
        menu.addAction("&Train on my library…", self.open_wizard)
        menu.addAction("&Manage my models…", self.manage_models)
        menu.addSeparator()
        group = QActionGroup(menu)
        current = window.bundle.path.resolve() if window.bundle else None
        for entry in list_models(include_broken=True):
            label = entry.name + ("  (bundled)" if entry.bundled else "")
            if entry.error:  # listed, so a person sees it is there and why it cannot be used
                act = menu.addAction(f"{label}  (broken)")
                act.setEnabled(False)
                act.setToolTip(f"Cannot be used: {entry.error}. Delete it in Manage my models.")
                continue
            act = menu.addAction(label)
            act.setCheckable(True)
            act.setChecked(current is not None and entry.path.resolve() == current)
            act.setData(str(entry.path))
            act.triggered.connect(lambda checked=False, p=str(entry.path): self.switch(p))
            group.addAction(act)
        if not group.actions():
            menu.addAction("(no models installed)").setEnabled(False)

    def switch(self, name_or_path: Optional[str], remember: bool = True) -> None:
        """Load a model (a name or a folder; None: the bundled default) in the window's
        worker; a remembered model that was deleted falls back to the default."""
        from genre_desktop.core.errors import BundleError

        window = self.window
        try:
            folder = resolve_model(name_or_path)
        except BundleError as exc:
            if name_or_path:  # a remembered model was deleted: fall back to the default
                return self.switch(None, remember)
            self.failed("", str(exc))
            return
        if remember:
            installed = [e.name for e in list_models() if e.path.resolve() == folder.resolve()]
            # an installed model is remembered by name (it survives a reinstall elsewhere)
            window.settings.set("model/name", installed[0] if installed else str(folder))
        window.show_status(f"Loading model {folder.name}\u2026")
        window.load_model(str(folder))

    def failed(self, folder: str, message: str) -> None:
        """A model did not load: fall back to the bundled default, saying so; if that fails
        too, say there is no model (queued tracks wait)."""
        from genre_desktop.core.errors import BundleError

        window = self.window
        try:
            default = resolve_model(None)
        except BundleError:
            default = None
        if default is not None and folder and Path(folder).resolve() != default.resolve():
            name = Path(folder).name
            log.warning("model %s failed to load (%s); using %s", folder, message, default.name)
            window.settings.set("model/name", "")
            self.notice = f"The model “{name}” could not be loaded ({message}); " \
                          f"using the bundled model {default.name} instead."
            window.show_notice("Using the bundled model", self.notice)
            self.switch(None, remember=False)
            return
        window.show_status(f"No model: {message}")
        window.show_notice("No genre model", message)

    def open_wizard(self):
        from genre_desktop.gui.wizard import TrainWizard

        window = self.window
        wizard = TrainWizard(None, window, settings=window.settings)  # starts from the bundled model unless changed
        wizard.use_model.connect(self.switch)
        wizard.open_track.connect(lambda p: window.show_tracks([p]))
        wizard.finished.connect(lambda _: self.refresh())
        wizard.show()
        return wizard

    def manage_models(self) -> None:
        from genre_desktop.gui.manage_models import ManageModelsDialog

        ManageModelsDialog(self.window).exec()
        self.refresh()
