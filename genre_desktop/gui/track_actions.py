"""What a person can do to a track in the list: the Track menu, its shortcuts and the
right-click menu (re-analyse, reveal in the file manager, copy the path, remove, add to the
library), and the bulk actions after Cancel all (retry or remove the cancelled tracks)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QPoint, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QMenu, QTableView

from genre_desktop.gui.window_api import WindowApi

if TYPE_CHECKING:  # types only
    from genre_desktop.gui.library_view import LibraryView
    from genre_desktop.gui.track_table import TrackTableModel


class TrackActions:
    """The actions on the selected track, shared by the Track menu and the context menu.

    Parameters
    ----------
    window : WindowApi
        The main window: its menu bar, selection, ``reanalyse``, ``remove_tracks`` and status bar.
    table : QTableView
        The track list the right-click menu opens over.
    tracks : TrackTableModel
        The list's rows (their paths, states and results).
    library : LibraryView
        Where "Add to library" puts the analysed tracks.
    """

    def __init__(self, window: WindowApi, table: QTableView, tracks: "TrackTableModel",
                 library: "LibraryView"):
        self.window = window
        self.table = table
        self.tracks = tracks
        self.library = library
        self.reanalyse = self._action("&Re-analyse", QKeySequence("Ctrl+R"), self.reanalyse_selected)
        self.reveal = self._action("Re&veal in file manager", QKeySequence("Ctrl+Shift+R"), self.reveal_selected)
        self.copy_path = self._action("&Copy path", QKeySequence("Ctrl+Shift+C"), self.copy_selected_path)
        self.remove = self._action("Re&move from list", QKeySequence(Qt.Key_Delete), self.remove_selected)
        self.add_to_library = self._action("&Add to library", QKeySequence("Ctrl+L"), self.add_selected_to_library)
        self.add_all_to_library = self._action("Add all analysed tracks to the library", QKeySequence(),
                                               self.add_all_analysed_to_library)
        self.retry_cancelled = self._action("Retry cancelled tracks", QKeySequence(), self.retry_all_cancelled)
        self.remove_cancelled = self._action("Remove cancelled tracks", QKeySequence(), self.remove_all_cancelled)
        menu = window.menuBar().addMenu("&Track")
        for act in self.all():
            menu.addAction(act)
        menu.addSeparator()
        for act in self.bulk():
            menu.addAction(act)
        menu.aboutToShow.connect(self.update_enabled)
        self.update_enabled()
        table.setContextMenuPolicy(Qt.CustomContextMenu)
        table.customContextMenuRequested.connect(self.show_context_menu)

    def _action(self, text: str, shortcut: QKeySequence, slot) -> QAction:
        act = QAction(text, self.window)  # type: ignore[call-overload]  # a QMainWindow
        act.setShortcut(shortcut)
        act.setShortcutContext(Qt.WindowShortcut)
        act.triggered.connect(lambda _checked=False: slot())
        self.window.addAction(act)
        return act

    def all(self) -> list[QAction]:
        """The actions on the selected track (the right-click menu)."""
        return [self.reanalyse, self.reveal, self.copy_path, self.remove, self.add_to_library]

    def bulk(self) -> list[QAction]:
        return [self.add_all_to_library, self.retry_cancelled, self.remove_cancelled]

    def _paths(self, status: str) -> list[str]:
        return [row.path for row in self.tracks.rows if row.status == status]

    def update_enabled(self) -> None:
        """The bulk actions only when there is something for them to do."""
        cancelled = bool(self._paths("cancelled"))
        self.retry_cancelled.setEnabled(cancelled)
        self.remove_cancelled.setEnabled(cancelled)
        self.add_all_to_library.setEnabled(bool(self._paths("done")))

    def show_context_menu(self, pos: QPoint) -> Optional[QMenu]:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return None
        self.table.selectRow(index.row())
        menu = QMenu(self.table)
        for act in self.all():
            menu.addAction(act)
        self.update_enabled()
        if self.retry_cancelled.isEnabled():
            menu.addSeparator()
            menu.addAction(self.retry_cancelled)
            menu.addAction(self.remove_cancelled)
        menu.popup(self.table.viewport().mapToGlobal(pos))
        return menu

    def reanalyse_selected(self) -> None:
        path = self.window.selected_path()
        if path:
            self.window.reanalyse([path])

    def reveal_selected(self) -> None:
        path = self.window.selected_path()
        if path:  # the folder that holds it: portable, and every file manager opens a folder
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))

    def copy_selected_path(self) -> None:
        path = self.window.selected_path()
        if path:
            QGuiApplication.clipboard().setText(path)

    def remove_selected(self) -> None:
        path = self.window.selected_path()
        if path:
            self.window.remove_tracks([path])

    def add_selected_to_library(self) -> None:
        path = self.window.selected_path()
        if path:
            self._add_to_library([path])

    def add_all_analysed_to_library(self) -> None:
        self._add_to_library(self._paths("done"))

    def _add_to_library(self, paths: list[str]) -> None:
        """Only tracks that were analysed join (an unreadable or empty file never does)."""
        rows = [self.tracks.row_for(p) for p in paths]
        ready = [(row.path, row.result) for row in rows if row is not None and row.result is not None]
        added = self.library.add_tracks(ready)
        left = len(paths) - added
        self.window.show_status(
            f"{added:,} track{'s' if added != 1 else ''} added to the library"
            + (f"; {left:,} not (not analysed, or not readable audio)" if left else "") + ".", 10000)

    def retry_all_cancelled(self) -> None:
        self.window.reanalyse(self._paths("cancelled"))
        self.update_enabled()

    def remove_all_cancelled(self) -> None:
        self.window.remove_tracks(self._paths("cancelled"))
        self.update_enabled()
