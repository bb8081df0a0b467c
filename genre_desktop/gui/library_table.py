"""The Library tab's table: one row per file, sortable, filtered by the core's rules."""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt

from ..core.engine.verdict import VERDICT_WORDS
from ..core.library.database import FileRow
from ..core.library.listing import fold, matches
from ..core.library.writing import Proposal
from .track_table import RowsModel

COLUMNS = ("Track", "Artist", "Album", "Genre tag", "Proposed", "Verdict", "Confidence", "Duration")
SORT_ROLE = Qt.UserRole


def _duration(seconds: Optional[float]) -> str:
    if not seconds:
        return ""
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


def verdict_text(row: FileRow) -> str:
    if row.error:
        return "error"
    if row.verdict is None:
        return "not analysed"
    if row.verdict == "genre":
        return row.genre or ""
    if row.verdict == "unsure":
        return f"{row.genre}? (not sure)"
    return VERDICT_WORDS.get(row.verdict, row.verdict)


class LibraryTableModel(RowsModel):
    """Rows of :class:`~genre_desktop.core.library.database.FileRow` with their review line."""

    columns = COLUMNS

    def __init__(self, parent=None):
        super().__init__(parent)
        self.proposals: dict[int, Proposal] = {}

    def set_rows(self, rows: list[FileRow], proposals: dict[int, Proposal]) -> None:
        if [r.id for r in rows] == [r.id for r in self.rows]:  # same files: refresh in place
            self.rows, self.proposals = rows, proposals
            if rows:
                self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(COLUMNS) - 1))
            return
        self.beginResetModel()
        self.rows, self.proposals = rows, proposals
        self.endResetModel()

    def proposed_text(self, row: FileRow) -> str:
        line = self.proposals.get(row.id)
        if line is None or not line.proposed:
            return ""
        text = "; ".join(line.proposed)
        return text if line.action in ("write", "same") else f"({text})"

    def data(self, index: QModelIndex, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = index.column()
        if role == Qt.DisplayRole:
            return (row.title or row.display.rsplit("/", 1)[-1], row.artist or "", row.album or "",
                    "; ".join(row.genre_tag), self.proposed_text(row), verdict_text(row),
                    f"{row.confidence:.0%}" if row.confidence is not None and row.verdict in ("genre", "unsure") else "",
                    _duration(row.duration))[column]
        if role == SORT_ROLE:
            if column == 6:
                return row.confidence if row.confidence is not None else -1.0
            if column == 7:
                return row.duration or 0.0
            text = self.data(index, Qt.DisplayRole) or ""
            return f"{fold(text)}\0{text.casefold()}"  # "Élégie" among the Es; accents break ties
        if role == Qt.ToolTipRole:
            line = self.proposals.get(row.id)
            parts = [row.display]
            if row.reason or row.error:
                parts.append(row.error or row.reason)
            if column == 4 and line is not None:
                parts.append({"write": "will be written", "same": "the file says so already"}.get(line.action, line.why))
            if row.top and column in (5, 6):
                parts.append(", ".join(f"{g} {p:.0%}" for g, p in row.top))
            return "\n".join(parts)
        if role == Qt.TextAlignmentRole and column in (6, 7):
            return int(Qt.AlignRight | Qt.AlignVCenter)
        return None


class LibraryFilter(QSortFilterProxyModel):
    """Sorts by :data:`SORT_ROLE`; shows the rows :func:`~genre_desktop.core.library.listing.matches`."""

    def __init__(self, model: LibraryTableModel, parent=None):
        super().__init__(parent)
        self.setSourceModel(model)
        self.setSortRole(SORT_ROLE)
        self.kind, self.genre, self.text, self.last_run = "all", None, "", None

    def set_filter(self, kind: str, genre: Optional[str], text: str, last_run: Optional[int]) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.9; invalidateFilter() is deprecated there
            self.beginFilterChange()
            self.kind, self.genre, self.text, self.last_run = kind, genre, text, last_run
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.kind, self.genre, self.text, self.last_run = kind, genre, text, last_run
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:  # noqa: N802
        row = self.sourceModel().rows[source_row]
        return matches(row, self.kind, self.genre, self.text, self.last_run)

    def row_at(self, index: QModelIndex) -> FileRow:
        return self.sourceModel().rows[self.mapToSource(index).row()]
