"""What a person can do to a track in the list: the Track menu, its shortcuts and the
right-click menu (re-analyse, reveal in the file manager, copy the path, remove)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QPoint, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from .main_window import MainWindow


class TrackActions:
    """The actions on the selected track, shared by the Track menu and the context menu."""

    def __init__(self, window: "MainWindow"):
        self.window = window
        self.reanalyse = self._action("&Re-analyse", QKeySequence("Ctrl+R"), self.reanalyse_selected)
        self.reveal = self._action("Re&veal in file manager", QKeySequence("Ctrl+Shift+R"), self.reveal_selected)
        self.copy_path = self._action("&Copy path", QKeySequence("Ctrl+Shift+C"), self.copy_selected_path)
        self.remove = self._action("Re&move from list", QKeySequence(Qt.Key_Delete), self.remove_selected)
        menu = window.menuBar().addMenu("&Track")
        for act in self.all():
            menu.addAction(act)
        window.table.setContextMenuPolicy(Qt.CustomContextMenu)
        window.table.customContextMenuRequested.connect(self.show_context_menu)

    def _action(self, text: str, shortcut: QKeySequence, slot) -> QAction:
        act = QAction(text, self.window)
        act.setShortcut(shortcut)
        act.setShortcutContext(Qt.WindowShortcut)
        act.triggered.connect(lambda _checked=False: slot())
        self.window.addAction(act)
        return act

    def all(self) -> list[QAction]:
        return [self.reanalyse, self.reveal, self.copy_path, self.remove]

    def show_context_menu(self, pos: QPoint) -> Optional[QMenu]:
        index = self.window.table.indexAt(pos)
        if not index.isValid():
            return None
        self.window.table.selectRow(index.row())
        menu = QMenu(self.window.table)
        for act in self.all():
            menu.addAction(act)
        menu.popup(self.window.table.viewport().mapToGlobal(pos))
        return menu

    def reanalyse_selected(self) -> None:
        path = self.window._selected_path()
        if path:
            self.window.reanalyse([path])

    def reveal_selected(self) -> None:
        path = self.window._selected_path()
        if path:  # the folder that holds it: portable, and every file manager opens a folder
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))

    def copy_selected_path(self) -> None:
        path = self.window._selected_path()
        if path:
            QGuiApplication.clipboard().setText(path)

    def remove_selected(self) -> None:
        path = self.window._selected_path()
        if path:
            self.window.remove_tracks([path])
