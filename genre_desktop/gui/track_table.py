"""The list of opened tracks with their verdicts, and its CSV/JSON export."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor

from genre_desktop.core.engine.classify.verdicts import genre_column_text, status_text

if TYPE_CHECKING:
    from genre_desktop.core.engine.classify.result import TrackResult

COLUMNS = ("Track", "Genre", "Confidence", "Status")


@dataclass
class TrackRow:
    path: str
    status: str = "queued"  # queued | analysing | done | error | cancelled
    progress: float = 0.0
    result: Optional["TrackResult"] = None
    error: str = ""

    @property
    def genre_text(self) -> str:
        if self.result is None:
            return ""
        return genre_column_text(self.result.verdict, self.result.genre, self.result.uncertain)

    @property
    def status_text(self) -> str:
        if self.status == "analysing":
            return f"analysing {self.progress:.0%}"
        if self.status == "error":
            return f"error: {self.error}"
        if self.status == "done" and self.result is not None and self.result.uncertain:
            return status_text(self.result.verdict)
        return self.status

    @property
    def detail_text(self) -> str:
        """The full status, for tooltips."""
        if self.status == "done" and self.result is not None and self.result.uncertain:
            return f"{self.status_text}: {self.result.reason}"
        return self.status_text


class RowsModel(QAbstractTableModel):
    """A flat table over ``self.rows`` with the header ``columns`` (the Tracks list and the
    Library share it)."""

    columns: tuple = ()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list = []

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return self.columns[section]
        return None


class TrackTableModel(RowsModel):
    """Rows of :class:`TrackRow`, one per opened file."""

    columns = COLUMNS

    def __init__(self, parent=None):
        super().__init__(parent)
        self._index: dict[str, int] = {}

    def data(self, index, role=Qt.DisplayRole):
        row = self.rows[index.row()]
        col = index.column()
        if role == Qt.DisplayRole:
            if col == 0:
                return Path(row.path).name
            if col == 1:
                return row.genre_text
            if col == 2:
                return f"{row.result.confidence:.0%}" if row.result and row.result.genre else ""
            return row.status_text
        if role == Qt.UserRole:  # sort keys
            if col == 2:
                return row.result.confidence if row.result else -1.0
            return str(self.data(index, Qt.DisplayRole)).lower()
        if role == Qt.ToolTipRole:
            return row.path if col == 0 else row.detail_text
        if role == Qt.ForegroundRole and row.status == "error":
            return QBrush(QColor("#c62828"))
        return None

    def add(self, path: str) -> bool:
        """Add a row, or queue a cancelled or failed one again; False when the file is
        already listed and analysed (or being analysed)."""
        if path in self._index:
            row = self.rows[self._index[path]]
            if row.status in ("cancelled", "error"):
                self.update(path, status="queued", error="", progress=0.0)
                return True
            return False
        self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows))
        self._index[path] = len(self.rows)
        self.rows.append(TrackRow(path))
        self.endInsertRows()
        return True

    def row_for(self, path: str) -> Optional[TrackRow]:
        i = self._index.get(path)
        return None if i is None else self.rows[i]

    def update(self, path: str, **changes) -> None:
        i = self._index.get(path)
        if i is None:
            return
        for key, value in changes.items():
            setattr(self.rows[i], key, value)
        self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))

    def remove(self, path: str) -> bool:
        """Drop a row; False when it is not listed."""
        i = self._index.get(path)
        if i is None:
            return False
        self.beginRemoveRows(QModelIndex(), i, i)
        del self.rows[i]
        self._index = {row.path: n for n, row in enumerate(self.rows)}
        self.endRemoveRows()
        return True

    def clear(self) -> None:
        self.beginResetModel()
        self.rows.clear()
        self._index.clear()
        self.endResetModel()

    def export(self, target: Path, ref) -> int:
        """Write finished and failed rows as CSV or JSON (by extension); returns the count.

        The records are the core's (``listing.write_table`` over the rows a library would
        keep for ``ref``, a :class:`~genre_desktop.core.library.model_ref.ModelRef`), so the
        window and ``genre-desktop-cli library export`` write the same fields and values.
        """
        from genre_desktop.core.library.analyse import file_record
        from genre_desktop.core.library.batch import store_record
        from genre_desktop.core.library.database import LibraryDatabase
        from genre_desktop.core.library.listing import write_table

        rows = [r for r in self.rows if r.result is not None or r.status == "error"]
        order = {r.path: i for i, r in enumerate(rows)}
        with tempfile.TemporaryDirectory(prefix="genre-desktop-export-") as folder:
            with LibraryDatabase(Path(folder) / "export.sqlite3") as db:
                for row in rows:
                    store_record(db, file_record(row.path, row.result, error=row.error or None), ref)
                records = sorted((r for r in db.rows(ref.key) if r.path in order), key=lambda r: order[r.path])
            write_table(records, target, ref.key, ref.name)
        return len(records)


def sortable(model: TrackTableModel, parent=None) -> QSortFilterProxyModel:
    proxy = QSortFilterProxyModel(parent)
    proxy.setSourceModel(model)
    proxy.setSortRole(Qt.UserRole)
    return proxy
