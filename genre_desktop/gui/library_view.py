"""The Library tab: every file the app has analysed, folders scanned on every core, genre
tags reviewed, written and undone, playlists and tables exported.

The scan, the writes and the undo run as :class:`~.tasks.Task` s, each with its own
database connection. The tab's jobs live in three modules: this one builds it and shows
the rows (filters, counts, sorting); :mod:`.library_scanning` scans folders and keeps the
table up with a running scan; :mod:`.library_actions` is what a person does to the rows
(open, reveal, remove, write tags and undo, export).

The table reads only the rows on screen (:mod:`.library_table`); while a scan runs, a
timer hands the files it stored to a worker that finds the new order and counts
(:func:`~genre_desktop.core.library.pages.snapshot`), and the table reads only those
files' rows again. No worker touches a widget.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections import Counter, deque
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QProgressBar, QPushButton, QSizePolicy, QTableView,
                               QVBoxLayout, QWidget)

from genre_desktop.core.engine.classify.verdicts import WORDS as VERDICT_WORDS
from genre_desktop.core.library.model_ref import ModelRef
from genre_desktop.core.library.analyse import file_record
from genre_desktop.core.library.batch import BatchSummary, store_record
from genre_desktop.core.library import pages
from genre_desktop.core.library.listing import FILTERS
from genre_desktop.gui.library_actions import LibraryActions
from genre_desktop.gui.library_open import ask_repair, open_library
from genre_desktop.gui.library_scanning import LibraryScanning
from genre_desktop.gui.library_table import LibraryTableModel
from genre_desktop.gui.settings import Settings
from genre_desktop.gui.album_view import album_controls
from genre_desktop.gui.tag_review import options_from
from genre_desktop.gui.tasks import Task

log = logging.getLogger(__name__)
REFRESH_MS = 1000  # how often the table catches up with a running scan
KEYS_IN_WORKER = 2000  # more files than this without sort keys: they are made off the GUI thread


class LibraryView(LibraryScanning, LibraryActions, QWidget):
    """The Library tab. ``open_requested(paths)``: show these in the Tracks tab (full
    timeline); ``message(text)``: a line for the status bar."""

    open_requested = Signal(list)
    message = Signal(str)

    def __init__(self, settings: Settings, db_path: Optional[str] = None, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.db, notices = open_library(db_path, ask_repair=ask_repair)
        for text in notices:
            QTimer.singleShot(0, lambda text=text: self.message.emit(text))
        self.ref: Optional[ModelRef] = None
        self.scan: Optional[Task] = None
        self.side_task: Optional[Task] = None  # an undo
        self._paused = threading.Event()
        self.last_summary: Optional[BatchSummary] = None
        self._closed = False
        self._stored: deque = deque()  # paths a running scan stored (appended in its thread)
        self.peek: Optional[Task] = None  # a refresh in a worker while a scan runs
        self._counts: tuple = (Counter(), 0, 0)  # pages.group_counts of the whole library
        self._top: Optional[int] = None  # the file id at the top of the table, kept while a scan adds rows
        self._anchoring = False
        self.keying: Optional[Task] = None  # many files' sort keys made in a worker (a library scanned elsewhere)
        self._keys_tried = False
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self._catch_up)

    def _build(self) -> None:
        self.add_button = QPushButton("Add folder\u2026")
        self.add_button.setToolTip("Analyse every audio file under a folder (on every core) and remember them")
        self.add_button.clicked.connect(lambda _checked=False: self.add_folder())
        self.rescan_button = QPushButton("Rescan")
        self.rescan_button.setToolTip("Look again at the library's folders: new and changed files are analysed")
        self.rescan_button.clicked.connect(lambda _checked=False: self.rescan())
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self.set_paused)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(lambda _checked=False: self.cancel_scan())
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        top = QHBoxLayout()
        for widget in (self.add_button, self.rescan_button, self.pause_button, self.cancel_button):
            widget.setSizePolicy(QSizePolicy.Maximum, QSizePolicy.Fixed)
            top.addWidget(widget)
        top.addWidget(self.progress, 1)
        top.addStretch(0)

        self.kind = QComboBox()
        for key, text in FILTERS.items():
            self.kind.addItem(text, key)
        self.genre = QComboBox()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search artist, title, album, genre or path")
        self.search.setClearButtonEnabled(True)
        self.counts = QLabel()
        self.counts.setWordWrap(True)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Show:"))
        filters.addWidget(self.kind)
        filters.addWidget(self.genre)
        filters.addWidget(self.search, 1)
        self.kind.currentIndexChanged.connect(self.apply_filter)
        self.genre.currentIndexChanged.connect(self.apply_filter)
        self.search.textChanged.connect(self.apply_filter)

        self.model = LibraryTableModel(self.db, self)
        self.model.failed.connect(self.message)
        self.proxy = self.model  # the model sorts and filters itself (in SQL); the old name kept
        self.model.layoutAboutToBeChanged.connect(self._remember_top)
        self.model.layoutChanged.connect(self._restore_top)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.AscendingOrder)
        self.table.scrollToTop()
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.table.setTextElideMode(Qt.ElideMiddle)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        for column, width in ((1, 150), (2, 140), (3, 110), (4, 110), (5, 130), (6, 80), (7, 70)):
            header.setSectionResizeMode(column, QHeaderView.Interactive)
            header.resizeSection(column, width)
        self.table.doubleClicked.connect(lambda _index: self.open_selected())
        self.table.setContextMenuPolicy(Qt.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self.show_context_menu)

        self.write_button = QPushButton("Write genre tags\u2026")
        self.write_button.setToolTip("Review what each file's genre tag would become, then write (undoable)")
        self.write_button.clicked.connect(lambda _checked=False: self.review_tags())
        self.undo_button = QPushButton("Undo last write")
        self.undo_button.clicked.connect(lambda _checked=False: self.undo_last())
        self.playlists_button = QPushButton("Export playlists\u2026")
        self.playlists_button.clicked.connect(lambda _checked=False: self.export_playlists())
        self.export_button = QPushButton("Export table\u2026")
        self.export_button.clicked.connect(lambda _checked=False: self.export_table())
        self.forget_button = QPushButton()  # shown after a scan that found files gone from the disk
        self.forget_button.setToolTip("Forget the library's files gone from the disk (their results go with them)")
        self.forget_button.clicked.connect(lambda _checked=False: self.forget_missing())
        self.forget_button.setVisible(False)
        bottom = QHBoxLayout()
        for widget in (self.write_button, self.undo_button, *album_controls(self), self.forget_button):
            bottom.addWidget(widget)
        bottom.addStretch(1)
        for widget in (self.playlists_button, self.export_button):
            bottom.addWidget(widget)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(filters)
        layout.addWidget(self.counts)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)
        self._set_running(False)

    # ------------------------------------------------------------ model and rows
    def set_model(self, folder: str) -> None:
        """Show (and scan with) the results of this model only."""
        try:
            self.ref = ModelRef.of(folder)
        except (OSError, ValueError) as exc:
            self.ref = None
            self.message.emit(f"The library cannot use this model: {exc}")
        self.refresh()

    def refresh(self) -> None:
        """Read the library again (after writes, an undo, a scan): keys, counts, order."""
        if self._closed or self.keying is not None:  # a late signal after shutdown; keys on their way
            return
        try:
            if not self._keys_tried and pages.stale_keys(self.db) > KEYS_IN_WORKER:
                self._keys_tried = True
                self.counts.setText("Getting the library ready for sorting and searching\u2026")
                self.keying = Task(pages.make_keys, self.db.path, name="library-keys", contract=False, parent=self)
                self.keying.errored.connect(lambda message: log.warning("library sort keys: %s", message))
                self.keying.done.connect(self._keys_made)
                self.keying.start()
                return
            pages.sync_keys(self.db)
        except sqlite3.Error as exc:  # locked by a scan of another program: sorted by what is known
            log.warning("library sort keys left for later: %s", exc)
        self.model.set_options(options_from(self.settings))
        self.model.forget_rows()
        key = self.ref.key if self.ref is not None else None
        self._counts = pages.group_counts(self.db, pages.Query(model_key=key))
        self._fill_genres()
        self.apply_filter()

    def _keys_made(self) -> None:
        self.keying = None  # (had the worker failed, the next refresh makes the keys itself)
        self.refresh()

    def _fill_genres(self) -> None:
        chosen = self.genre.currentData()
        self.genre.blockSignals(True)
        self.genre.clear()
        self.genre.addItem("Any genre", None)
        for genre, n in sorted((g, n) for g, n in self._counts[0].items() if not g.startswith("(")):
            self.genre.addItem(f"{genre} ({n:,})", genre)
        self.genre.setCurrentIndex(max(0, self.genre.findData(chosen)))
        self.genre.blockSignals(False)

    def _filter(self) -> dict:
        last = self.db.last_run(self.ref.key) if self.ref is not None else None
        return dict(model_key=self.ref.key if self.ref is not None else None, kind=self.kind.currentData(),
                    genre=self.genre.currentData(), text=self.search.text(),
                    last_run=last["id"] if last is not None else None)

    def apply_filter(self) -> None:
        if self._closed:
            return
        self.model.set_query(**self._filter())
        query = self.model.query
        shown = self._counts if query == query.unfiltered() else pages.group_counts(self.db, query)
        self.counts.setText(self.summary_text(shown))

    def summary_text(self, shown=None) -> str:
        """"57 tracks: rock 20 · ...", "5 of 57 tracks: ..." while a filter hides some, or
        what to do when this model has no results yet."""
        _all, total, done = self._counts
        if not total:
            if self.settings.get("library/folders"):
                return "No results with this model yet \u2014 Rescan analyses the library\u2019s folders with it."
            return "No tracks yet \u2014 add a folder to analyse your music and tag it."
        counts, n, _done = shown if shown is not None else pages.group_counts(self.db, self.model.query)
        text = f"{n:,} of {total:,} tracks" if n < total else f"{total:,} tracks"
        if not done:
            return f"{text}, none analysed with this model yet \u2014 Rescan analyses them with it."
        return text + (": " + " \u00b7 ".join(f"{VERDICT_WORDS.get(g.strip('()'), g.strip('()'))} {c:,}"
                                               for g, c in counts.most_common()) if counts else "")

    def visible_rows(self) -> list:
        return self.model.rows

    def selected_paths(self) -> list[str]:
        return [self.model.row_at(index).path for index in self.table.selectionModel().selectedRows()]

    # ------------------------------------------------------------ tracks from the Tracks tab
    def track_name(self, path: str) -> str:
        """Title and artist when the library knows the file's tags, else its file name."""
        row = None if self._closed else self.db.row(path, None)
        return row.name if row is not None else Path(path).name

    def add_tracks(self, tracks: list) -> int:
        """Tracks analysed in the Tracks tab that the person adds to the library (with this
        model's answer): ``[(path, TrackResult), ...]``; returns how many joined. Nothing
        joins unasked, and an empty file never does."""
        if self.ref is None or self._closed:
            return 0
        added = 0
        for path, result in tracks:
            try:
                if result is None or not os.path.isfile(path) or os.path.getsize(path) == 0:
                    continue
                store_record(self.db, file_record(path, result), self.ref)
            except (OSError, sqlite3.Error) as exc:
                log.warning("could not add %s to the library: %s", path, exc)
                continue
            added += 1
        if added and self.scan is None:
            self.refresh()
        return added

    def shutdown(self) -> None:
        for task in (self.scan, self.side_task, self.peek, self.keying):
            if task is not None:
                task.cancel()
                task.wait(10000)
        self.timer.stop()
        self._closed = True
        self.model.shutdown()
        self.db.close()

