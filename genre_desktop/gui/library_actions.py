"""What a person does to the Library tab's rows: the right-click menu (open in the Tracks
tab, re-analyse, more like this, reveal, remove), writing genre tags after a review and
undoing the last write, and exporting playlists and the table.

:class:`LibraryActions` is a part of :class:`~genre_desktop.gui.library_view.LibraryView`
(which builds the widgets and the state these methods use); it imports nothing of it.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QPoint, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox

from genre_desktop.core.library.listing import present, write_playlists, write_table
from genre_desktop.core.library.writing import undoable_batches
from genre_desktop.gui.tag_review import TagReviewDialog, undo_batch
from genre_desktop.gui.tasks import Task


class LibraryActions:
    """The right-click menu, tag writes and undo, and the exports of the Library tab."""

    def show_context_menu(self, pos: QPoint) -> Optional[QMenu]:
        if not self.table.indexAt(pos).isValid():
            return None
        menu = QMenu(self.table)
        menu.addAction("Open in the Tracks tab (full timeline)", self.open_selected)
        menu.addAction("Re-analyse", lambda: self.start_scan(self.selected_paths(), reanalyse=True))
        menu.addAction("Write genre tags of these\u2026", lambda: self.review_tags(self.selected_paths()))
        menu.addAction("More like this\u2026", self.more_like_this)
        menu.addAction("Reveal in file manager", self.reveal_selected)
        menu.addSeparator()
        menu.addAction("Remove from library", self.remove_selected)
        menu.popup(self.table.viewport().mapToGlobal(pos))
        return menu

    def more_like_this(self, path: Optional[str] = None):
        """The tracks that sound most like the selected one (:mod:`.similar_view`)."""
        from genre_desktop.gui.similar_view import SimilarDialog

        path = path or next(iter(self.selected_paths()), None)
        if path is None or self.ref is None:
            return None
        dialog = SimilarDialog(self.db, self.ref.key, path, self)
        dialog.open_requested.connect(self.open_requested)
        dialog.open()
        return dialog

    def open_selected(self) -> None:
        paths = self.selected_paths()
        if paths:
            self.open_requested.emit(paths)

    def reveal_selected(self) -> None:
        paths = self.selected_paths()
        if paths:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(paths[0]).parent)))

    def remove_selected(self) -> None:
        paths = self.selected_paths()
        if paths:
            removed = self.db.remove_files(paths)
            self.message.emit(f"{removed:,} tracks removed from the library (the files are untouched).")
            self.refresh()

    def review_tags(self, paths: Optional[list[str]] = None) -> Optional[TagReviewDialog]:
        if self.ref is None:
            return None
        dialog = TagReviewDialog(self.db, self.ref.key, self.settings, paths or None, self,
                                 model_folder=self.ref.folder)
        dialog.written.connect(lambda _summary: self.refresh())
        dialog.finished.connect(lambda _code: self.refresh())
        dialog.open()
        return dialog

    def undo_last(self, confirm: bool = True) -> None:
        """Put back the genre tags the last batch replaced (after asking)."""
        if self.side_task is not None:
            return
        try:
            batches = undoable_batches(self.db)
        except sqlite3.Error as exc:
            self.message.emit(f"Undo: the library cannot be read: {self.db.error(exc)}")
            return
        if not batches:
            self.message.emit("No tag writes to undo.")
            return
        if confirm and QMessageBox.question(
                self, "Undo tag writes", f"Put back the genre tags that batch {batches[0]['id']} "
                f"({batches[0]['created_at']}) replaced in {batches[0]['written']:,} files?") != QMessageBox.Yes:
            return
        self.side_task = Task(undo_batch, self.db.path, None, name="tag-undo", parent=self)
        self.side_task.finished.connect(lambda s: self.message.emit(
            f"Undo: {s.written:,} files put back, {len(s.failed):,} left alone"
            + (f" ({s.failed[0][1]})" if s.failed else "") + "."))
        self.side_task.errored.connect(lambda message: self.message.emit(f"Nothing undone: {message}"))
        self.side_task.done.connect(self._on_undo_done)
        self.side_task.start()

    def _on_undo_done(self) -> None:
        self.side_task = None
        self.refresh()

    def export_playlists(self, folder: Optional[str] = None) -> list:
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Folder for the playlists",
                                                      self.settings.start_folder("library/playlists_folder"))
            if not folder:
                return []
        self.settings.set("library/playlists_folder", folder)
        gone: list = []
        written = write_playlists(present(self.model.iter_rows(), gone), folder,
                                  self.ref.name if self.ref else "?")
        self.message.emit((f"{len(written)} playlists written to {folder}." if written else
                           "No track shown has a confident genre: nothing to export.")
                          + (f" {len(gone):,} files gone from the disk left out." if gone else ""))
        return written

    def export_table(self, path: Optional[str] = None) -> Optional[Path]:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export the library",
                                                  os.path.join(self.settings.start_folder(), "library.csv"),
                                                  "CSV (*.csv);;JSON (*.json)")
            if not path:
                return None
        try:
            gone: list = []
            out = write_table(present(self.model.iter_rows(), gone), path, self.ref.key if self.ref else "",
                              self.ref.name if self.ref else "")
        except OSError as exc:
            QMessageBox.warning(self, "Export", f"Could not write {path}: {exc.strerror or exc}")
            return None
        self.message.emit(f"Exported {self.model.rowCount() - len(gone):,} tracks to {out}."
                          + (f" {len(gone):,} files gone from the disk left out." if gone else ""))
        return out
