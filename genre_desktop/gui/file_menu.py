"""The File menu: open files or a folder, open recent, export the results, clear the list,
add a folder to the library, quit."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu

from genre_desktop.gui.recent import RecentMenu
from genre_desktop.gui.window_api import WindowApi


class FileMenu:
    """Fills ``menu``; the dialogs it opens answer into the window (a :class:`WindowApi`)."""

    def __init__(self, menu: QMenu, window: WindowApi):
        self.window = window
        menu.addAction("&Open files\u2026", self.open_files).setShortcut(QKeySequence.Open)
        menu.addAction("Open &folder\u2026", self.open_folder).setShortcut(QKeySequence("Ctrl+Shift+O"))
        self.recent = RecentMenu(menu.addMenu("Open &recent"), window.settings, window.open_paths)
        menu.addSeparator()
        menu.addAction("&Export results\u2026", self.export_results).setShortcut(QKeySequence("Ctrl+E"))
        menu.addAction("&Clear list", window.clear_tracks)
        menu.addAction("Add folder to &library\u2026", self.add_library_folder)
        menu.addSeparator()
        menu.addAction("&Quit", window.close).setShortcut(QKeySequence.Quit)

    def add_library_folder(self) -> None:
        self.window.show_library().add_folder()

    def open_files(self) -> None:
        window = self.window
        start = window.settings.start_folder()
        files, _ = QFileDialog.getOpenFileNames(
            window, "Open music", start, "Audio (*.mp3 *.flac *.ogg *.opus *.wav *.m4a *.aac *.aiff *.wma);;All files (*)")
        if files:
            window.settings.set("paths/last_folder", str(Path(files[0]).parent))
            window.open_paths(files)

    def open_folder(self) -> None:
        window = self.window
        start = window.settings.start_folder()
        folder = QFileDialog.getExistingDirectory(window, "Open a folder of music", start)
        if folder:
            window.settings.set("paths/last_folder", folder)
            window.open_paths([folder])

    def export_results(self) -> None:
        window = self.window
        start = str(Path(window.settings.start_folder()) / "genres.csv")
        target, _ = QFileDialog.getSaveFileName(window, "Export results", start, "CSV (*.csv);;JSON (*.json)")
        if not target:
            return
        try:
            n = window.export_results(Path(target))
        except OSError as exc:
            window.show_status(f"Could not write {target}: {exc.strerror or exc}", 15000)
            return
        if n is None:
            window.show_status("Nothing exported: the model is not loaded yet.", 8000)
            return
        window.show_status(f"Exported {n} tracks to {target}", 8000)
