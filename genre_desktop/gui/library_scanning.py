"""The Library tab's scanning: add a folder, rescan, pause, cancel; the rows a running scan
stores, shown as it goes (the new order and counts found by a worker, the top row kept in
place); and the files a scan found gone from the disk, forgotten on request.

:class:`LibraryScanning` is a part of :class:`~genre_desktop.gui.library_view.LibraryView`
(which builds the widgets and the state these methods use); it imports nothing of it.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QAbstractItemView, QFileDialog

from genre_desktop.core.library import pages
from genre_desktop.core.library.batch import BatchOptions, BatchSummary, gone_files, scan_library
from genre_desktop.gui.tasks import Task

log = logging.getLogger(__name__)


class LibraryScanning:
    """Scanning folders into the library, and the table kept up with a running scan."""

    def add_folder(self, folder: Optional[str] = None) -> None:
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Add a music folder to the library",
                                                      self.settings.start_folder())
            if not folder:
                return
        folders = self.settings.get("library/folders")
        if folder not in folders:
            self.settings.set("library/folders", [*folders, folder])
        self.start_scan([folder])

    def rescan(self) -> None:
        folders = [f for f in self.settings.get("library/folders") if Path(f).is_dir()]
        if folders:
            self.start_scan(folders)
        else:
            self.message.emit("No library folder yet: use Add folder\u2026")

    def start_scan(self, roots: list[str], reanalyse: bool = False) -> bool:
        if self.scan is not None or self.ref is None:
            self.message.emit("A scan is running already." if self.scan is not None else "The model is not loaded yet.")
            return False
        self._paused.clear()
        self.pause_button.setChecked(False)
        self._stored.clear()
        self.scan = Task(scan_library, roots, self.ref, self.db.path, BatchOptions(reanalyse=reanalyse),
                         name="library-scan", parent=self, should_pause=self._paused.is_set,
                         on_record=self._stored.append)
        self.scan.progress.connect(self._on_progress)
        self.scan.finished.connect(self._on_scanned)
        self.scan.errored.connect(lambda message: self.message.emit(f"The scan stopped: {message}"))
        self.scan.cancelled.connect(lambda: self.message.emit("Scan cancelled; what was analysed is kept."))
        self.scan.done.connect(self._on_scan_done)
        self._set_running(True)
        self.timer.start()
        self.scan.start()
        return True

    def set_paused(self, paused: bool) -> None:
        (self._paused.set if paused else self._paused.clear)()
        self.pause_button.setText("Resume" if paused else "Pause")

    def cancel_scan(self) -> None:
        if self.scan is not None:
            self._paused.clear()
            self.scan.cancel()

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(message)

    def _on_scanned(self, summary: BatchSummary) -> None:
        self.last_summary = summary
        self.message.emit(f"Library: {summary.analysed:,} analysed, {summary.moved:,} moved, "
                          f"{summary.unchanged:,} unchanged, {len(summary.failed):,} could not be read "
                          f"({summary.seconds:.0f} s)."
                          + (f" {summary.gone:,} files gone since the last scan." if summary.gone else ""))
        self.forget_button.setText(f"{summary.gone:,} missing \u2014 Forget")
        self.forget_button.setVisible(summary.gone > 0)

    def _on_scan_done(self) -> None:
        self.scan = None
        self.timer.stop()
        self._set_running(False)
        self.refresh()

    def _set_running(self, running: bool) -> None:
        self.progress.setMaximum(1000)
        self.progress.setVisible(running)
        self.pause_button.setVisible(running)
        self.cancel_button.setVisible(running)
        self.add_button.setEnabled(not running)
        self.rescan_button.setEnabled(not running)
        self.write_button.setEnabled(not running)
        self.undo_button.setEnabled(not running)

    def _catch_up(self) -> None:
        """While a scan runs: the files it stored since the last look, handed to a worker
        that finds the new order and counts (:meth:`_caught_up` shows them)."""
        if self._closed or self.peek is not None or not self._stored:
            return
        paths = [self._stored.popleft() for _ in range(len(self._stored))]
        query = replace(self.model.query)
        self.peek = Task(pages.snapshot, self.db.path, query, paths, name="library-refresh", contract=False,
                         parent=self)
        self.peek.finished.connect(lambda snap: self._caught_up(snap, query, paths))
        self.peek.errored.connect(lambda message: log.warning("library refresh: %s", message))
        self.peek.done.connect(self._peek_done)
        self.peek.start()

    def _peek_done(self) -> None:
        self.peek = None

    def _caught_up(self, snap: "pages.Snapshot", query: "pages.Query", paths: list) -> None:
        if self._closed:
            return
        if query != self.model.query:  # the person sorted or filtered meanwhile: look again
            self._stored.extendleft(reversed(paths))
            return
        self._anchoring = True  # the rows a scan adds above do not push the top row away
        try:
            self.model.show_ids(snap.ids, snap.changed)
        finally:
            self._anchoring = False
        self._counts = (snap.all_counts, snap.total, snap.done)
        self._fill_genres()
        self.counts.setText(self.summary_text((snap.counts, snap.shown, snap.done)))

    def _remember_top(self) -> None:
        if not self._anchoring:  # a new order or filter starts where the scroll bar is
            self._top = None
            return
        index = self.table.indexAt(QPoint(1, 1))
        self._top = self.model.ids[index.row()] if index.isValid() and index.row() < len(self.model.ids) else None

    def _restore_top(self) -> None:
        if self._top is not None:
            row = self.model.position(self._top)
            if row is not None:
                self.table.scrollTo(self.model.index(row, 0), QAbstractItemView.PositionAtTop)
        self._top = None

    def forget_missing(self) -> int:
        """Forget every file of the library gone from the disk (the rule of
        ``library forget --missing``); returns how many."""
        removed = self.db.remove_files(path for _, path, _, _ in gone_files(self.db))
        self.forget_button.setVisible(False)
        self.message.emit(f"{removed:,} missing files forgotten.")
        self.refresh()
        return removed
