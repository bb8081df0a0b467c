"""The Tracks tab's list: a sortable table of the opened tracks (one row each)."""
from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView


def track_list_view(proxy: QSortFilterProxyModel) -> QTableView:
    """A single-selection table over ``proxy``, in the order the tracks were opened until a
    header is clicked; the Track column takes the room, the middle of long names is elided."""
    table = QTableView()
    table.setModel(proxy)
    table.setSortingEnabled(True)
    # the order tracks were opened in until a header is clicked (Qt would otherwise show
    # "Track ▲" over rows that are not in that order)
    table.horizontalHeader().setSortIndicator(-1, Qt.AscendingOrder)
    proxy.sort(-1)
    table.setSelectionBehavior(QAbstractItemView.SelectRows)
    table.setSelectionMode(QAbstractItemView.SingleSelection)
    table.verticalHeader().setVisible(False)
    header = table.horizontalHeader()
    header.setStretchLastSection(False)
    header.setSectionResizeMode(0, QHeaderView.Stretch)
    for column in (1, 2):
        header.setSectionResizeMode(column, QHeaderView.ResizeToContents)
    header.setSectionResizeMode(3, QHeaderView.Interactive)
    header.resizeSection(3, 110)
    table.setAlternatingRowColors(True)
    table.setTextElideMode(Qt.ElideMiddle)  # "jazz.00…" said nothing; "jaz…002.ogg" does
    return table
