"""The Library tab's table: one row per file, read from the library a page at a time.

The model holds only the ordered file ids of what it shows (one SQL query:
:func:`~genre_desktop.core.library.pages.ordered_ids`, which sorts, filters and searches)
and the rows on screen, fetched :data:`PAGE` at a time into a small cache by file id. A
new order or a scan keeps the selection and the current row (persistent indexes follow
their file id); a scan's files are read again, the other cached rows are kept. The
Proposed column (which may vote whole albums) is filled by a worker thread once the rows
are on screen.
"""
from __future__ import annotations

import logging
import sqlite3
from array import array
from collections import OrderedDict
from typing import Iterable, Iterator, Optional

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal

from genre_desktop.core.library import pages
from genre_desktop.core.library.database import FileRow, LibraryDatabase
from genre_desktop.core.library.pages import COLUMNS, Query
from genre_desktop.core.library.vocabulary import Vocabulary
from genre_desktop.core.library.review import TagOptions
from genre_desktop.gui.tag_review import proposal_text
from genre_desktop.gui.tasks import Task

log = logging.getLogger(__name__)
PAGE = 50  # rows read at once
CACHE = 3000  # rows kept
RIGHT = int(Qt.AlignRight | Qt.AlignVCenter)


def _duration(seconds: Optional[float]) -> str:
    if not seconds:
        return ""
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


def verdict_text(row: FileRow) -> str:
    return pages.verdict_text(row.verdict, row.genre, row.error)


class LibraryTableModel(QAbstractTableModel):
    """The files of one library that a :class:`~genre_desktop.core.library.pages.Query`
    shows. ``fetched`` counts the rows read from the database (tests check that a view
    of N rows reads about N). ``failed(text)``: the library could not be read (locked,
    damaged, gone...), one line for the status bar, said once until a read works again."""

    columns = COLUMNS
    failed = Signal(str)

    def __init__(self, db: LibraryDatabase, parent=None):
        super().__init__(parent)
        self._failure: Optional[str] = None  # the last read failure said
        self.db = db
        self.query = Query()
        self.ids = array("q")
        self.options = TagOptions()
        self.vocabulary = Vocabulary()
        self._cache: OrderedDict = OrderedDict()  # file id -> [FileRow, Proposal or None]
        self.fetched = 0
        self._unproposed: dict = {}  # file id -> FileRow whose Proposed cell waits for the worker
        self.proposing: Optional[Task] = None
        self._closed = False
        self.started = False  # set_query has run (until then sorting only records the order)

    # ------------------------------------------------------------ Qt's model
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.ids)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return COLUMNS[section]
        return None

    def sort(self, column: int, order=Qt.AscendingOrder) -> None:
        descending = order == Qt.DescendingOrder
        if (column, descending) == (self.query.column, self.query.descending) and self.ids:
            return  # the header asks again for the order it shows
        if not self.started:  # nothing read yet: the first refresh reads in this order
            self.query.column, self.query.descending = column, descending
            return
        self.set_query(column=column, descending=descending)

    def data(self, index: QModelIndex, role=Qt.DisplayRole):
        if not index.isValid() or index.row() >= len(self.ids) or self._closed:
            return None
        if role not in (Qt.DisplayRole, Qt.ToolTipRole, Qt.TextAlignmentRole):
            return None
        column = index.column()
        if role == Qt.TextAlignmentRole:
            return RIGHT if column in (6, 7) else None
        found = self._entry(index.row())
        if found is None:
            return None
        row, line, shown = found
        if role == Qt.DisplayRole:
            if column == 4:
                return proposal_text(line)  # the review's rule
            if shown is None:
                shown = found[2] = (
                    row.title or row.display.rsplit("/", 1)[-1], row.artist or "", row.album or "",
                    "; ".join(row.genre_tag), "", verdict_text(row),
                    f"{row.confidence:.0%}" if row.confidence is not None and row.verdict in ("genre", "unsure") else "",
                    _duration(row.duration))
            return shown[column]
        parts = [row.display]
        if row.reason or row.error:
            parts.append(row.error or row.reason)
        if column == 4 and line is not None:
            parts.append({"write": "will be written", "same": "the file says so already"}.get(line.action, line.why))
        if row.top and column in (5, 6):
            parts.append(", ".join(f"{g} {p:.0%}" for g, p in row.top))
        return "\n".join(parts)

    # ------------------------------------------------------------ rows
    def _entry(self, position: int):
        file_id = self.ids[position]
        found = self._cache.get(file_id)
        if found is None:
            start = position - position % PAGE
            self._fetch([i for i in self.ids[start:start + PAGE] if i not in self._cache])
            found = self._cache.get(file_id)
        else:
            self._cache.move_to_end(file_id)
        return found

    def _fetch(self, ids: list[int]) -> None:
        key = self.query.model_key
        try:
            rows = pages.rows_for_ids(self.db, key, ids)
        except sqlite3.Error as exc:
            text = f"The library cannot be read: {self.db.error(exc)}"
            if text != self._failure:
                self._failure = text
                log.warning("%s", text)
                self.failed.emit(text)
            return
        self._failure = None
        self.fetched += len(rows)
        for row in rows:
            self._cache[row.id] = [row, None, None]  # the row, its proposal, its cells' texts
            if key:
                self._unproposed[row.id] = row
        while len(self._cache) > CACHE:
            self._unproposed.pop(self._cache.popitem(last=False)[0], None)
        if self._unproposed and self.proposing is None:
            self._propose()

    def _propose(self) -> None:
        """Hand the rows on screen without a Proposed cell to a worker (one at a time)."""
        if self._closed or not self._unproposed or self.db.path is None:
            return
        rows = list(self._unproposed.values())[-2 * PAGE:]
        for row in rows:
            del self._unproposed[row.id]
        options, vocabulary, key = self.options, self.vocabulary, self.query.model_key
        self.proposing = Task(pages.proposals_for, self.db.path, key, options, vocabulary, rows,
                              name="library-proposals", contract=False, parent=self)
        self.proposing.finished.connect(lambda lines: self._proposed(lines, options, key))
        self.proposing.errored.connect(lambda message: log.warning("proposed genres: %s", message))
        self.proposing.done.connect(self._proposals_done)
        self.proposing.start()

    def _proposals_done(self) -> None:
        self.proposing = None
        self._propose()

    def _proposed(self, lines: dict, options: TagOptions, key) -> None:
        if self._closed or options != self.options or key != self.query.model_key:
            return
        rows = []
        for file_id, line in lines.items():
            found = self._cache.get(file_id)
            if found is not None:
                found[1] = line
                rows.append(file_id)
        where = sorted(_positions(self.ids, rows).values())
        if where:
            self.dataChanged.emit(self.index(where[0], 4), self.index(where[-1], 4))

    def wait_proposals(self, msecs: int = 30000) -> None:
        """Let the worker fill the Proposed cells of the rows read so far (tests, shutdown)."""
        from PySide6.QtCore import QCoreApplication, QElapsedTimer

        clock = QElapsedTimer()
        clock.start()
        while (self.proposing is not None or self._unproposed) and clock.elapsed() < msecs:
            QCoreApplication.processEvents()
            if self.proposing is not None:
                self.proposing.wait(50)

    def shutdown(self) -> None:
        self._closed = True
        if self.proposing is not None:
            self.proposing.wait(10000)

    def row_at(self, index: QModelIndex) -> FileRow:
        return self._entry(index.row())[0]

    def iter_rows(self) -> Iterator[FileRow]:
        """Every row shown, in order, a chunk at a time (exports)."""
        return pages.iter_rows(self.db, self.query.model_key, self.ids)

    @property
    def rows(self) -> list[FileRow]:
        """Every row shown (reads them all: for small libraries and tests)."""
        return list(self.iter_rows())

    # ------------------------------------------------------------ what is shown
    def set_options(self, options: TagOptions, vocabulary: Optional[Vocabulary] = None) -> None:
        """The tag-writing options the Proposed column follows."""
        if options != self.options or vocabulary is not None:
            self.options, self.vocabulary = options, vocabulary or self.vocabulary
            self._cache.clear()
            self._unproposed.clear()
            self.query.proposed = {}
            if self.ids:
                self.dataChanged.emit(self.index(0, 4), self.index(len(self.ids) - 1, 4))

    def forget_rows(self) -> None:
        """Read every row again when shown (after tag writes, an undo, a finished scan)."""
        self._cache.clear()
        self._unproposed.clear()
        if self.ids:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.ids) - 1, len(COLUMNS) - 1))

    def proposed_labels(self) -> dict:
        """(verdict, genre) -> the genre the Proposed column names, for sorting it."""
        return {(v, g): (self.vocabulary.spell(g) if v in self.options.verdicts and g else "")
                for v, g in pages._combos(pages._conn(self.db), self.query.model_key)}

    def set_query(self, **changes) -> None:
        """Show another filter, search, order or model (read at once)."""
        self.started = True
        for name, value in changes.items():
            setattr(self.query, name, value)
        if self.query.column == 4:
            self.query.proposed = self.proposed_labels()
        self.show_ids(pages.ordered_ids(self.db, self.query))

    def show_ids(self, ids: array, changed: Iterable = ()) -> None:
        """Show ``ids`` (in order); the rows of ``changed`` ids are read again. The same
        ids in the same order only repaint the changed rows on screen; another order keeps
        the selection and the current row on their files."""
        changed = set(changed)
        for file_id in changed:
            self._cache.pop(file_id, None)
            self._unproposed.pop(file_id, None)
        if ids == self.ids:
            if changed:
                rows = [n for n, i in enumerate(self.ids) if i in changed] if len(changed) < 5000 else [0, len(ids) - 1]
                if rows:
                    self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), len(COLUMNS) - 1))
            return
        if not self.ids or not ids:  # nothing to keep: a plain reset
            self.beginResetModel()
            self.ids = ids
            self.endResetModel()
            return
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        old_ids = [self.ids[i.row()] if 0 <= i.row() < len(self.ids) else None for i in old]
        self.ids = ids
        where = _positions(ids, [i for i in old_ids if i is not None])
        self.changePersistentIndexList(old, [self.index(where[f], i.column()) if f in where else QModelIndex()
                                             for f, i in zip(old_ids, old)])
        self.layoutChanged.emit()

    def position(self, file_id: int) -> Optional[int]:
        return _positions(self.ids, [file_id]).get(file_id)


def _positions(ids: array, wanted: list[int]) -> dict:
    """file id -> its row, for ``wanted`` ids that are in ``ids``."""
    if not wanted:
        return {}
    if len(wanted) <= 32:
        out = {}
        for file_id in wanted:
            try:
                out[file_id] = ids.index(file_id)
            except ValueError:
                pass
        return out
    want = set(wanted)
    return {file_id: n for n, file_id in enumerate(ids) if file_id in want}
