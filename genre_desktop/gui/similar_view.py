""""More like this": the library's tracks that sound most like one track, with that
track's moods, styles, decades and vocals (:mod:`..core.library.moods`) and their
confidence; save the list as a playlist or open it in the Tracks tab."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QHeaderView, QLabel, QProgressBar,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout)

from genre_desktop.core.engine.classify.verdicts import WORDS
from genre_desktop.core.library.database import FileRow, LibraryDatabase
from genre_desktop.core.library.listing import write_similar_playlist
from genre_desktop.core.library.moods import by_kind, track_sound_tags
from genre_desktop.core.library.similar import SimilarError, similar_to

log = logging.getLogger(__name__)

TOP = 25


def sound_line(db: LibraryDatabase, row: FileRow, model_key: str) -> str:
    """The track's moods, styles, decades and vocals with their confidence, in one line."""
    kinds = by_kind(track_sound_tags(db, row.id, model_key))
    parts = [f"{kind.title()}: " + ", ".join(f"{t.name} ({t.probability:.0%})" for t in tags)
             for kind, tags in kinds.items() if tags]
    return " \u00b7 ".join(parts) or "No mood or style above its threshold."


class SimilarDialog(QDialog):
    """The answer to "more like this" for ``path``. ``open_requested(paths)``: show these
    tracks in the Tracks tab."""

    open_requested = Signal(list)

    def __init__(self, db: LibraryDatabase, model_key: str, path: str, parent=None, top: int = TOP):
        super().__init__(parent)
        self.db, self.model_key, self.path = db, model_key, path
        self.rows: list[FileRow] = []
        seed = db.row(path, model_key)
        self.seed = seed
        title = seed.name if seed is not None else Path(path).name
        self.setWindowTitle(f"More like {title}")
        self.heading = QLabel(f"<b>Tracks that sound like {title}</b>")
        self.sounds = QLabel(sound_line(db, seed, model_key) if seed is not None else "")
        self.sounds.setWordWrap(True)
        self.sounds.setToolTip("From the backbone's 50 tags; each shown only above its threshold "
                               "(see README: Moods, styles, decades)")
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Similarity", "Track", "Genre"])
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectRows)
        self.table.doubleClicked.connect(lambda _i: self.open_selected())
        self.note = QLabel("")
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.open_button = QPushButton("Open in the Tracks tab")
        self.save_button = QPushButton("Save as playlist\u2026")
        buttons.addButton(self.open_button, QDialogButtonBox.ActionRole)
        buttons.addButton(self.save_button, QDialogButtonBox.ActionRole)
        self.open_button.clicked.connect(self.open_selected)
        self.save_button.clicked.connect(lambda _c=False: self.save_playlist())
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.heading, self.sounds, self.table, self.note, buttons):
            layout.addWidget(widget)
        self.resize(720, 520)
        self.fill(top)

    def fill(self, top: int = TOP) -> None:
        try:
            found = similar_to(self.db, self.path, self.model_key, top)
        except SimilarError as exc:
            found = []
            self.note.setText(str(exc))
        rows = {r.id: r for r in self.db.rows_by_id(self.model_key, [n.file_id for n in found])}
        self.rows = [rows[n.file_id] for n in found if n.file_id in rows]
        self.table.setRowCount(len(found))
        for i, n in enumerate(found):
            row = rows.get(n.file_id)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(int(max(0.0, n.similarity) * 1000))
            bar.setFormat(f"{n.similarity:.3f}")
            self.table.setCellWidget(i, 0, bar)
            name = QTableWidgetItem(row.name if row is not None else Path(n.path).name)
            name.setToolTip(n.path)
            name.setData(Qt.UserRole, n.path)
            self.table.setItem(i, 1, name)
            self.table.setItem(i, 2, QTableWidgetItem((row.genre or WORDS["unsure"]) if row is not None else ""))
        self.save_button.setEnabled(bool(found))
        self.open_button.setEnabled(bool(found))
        if found:
            self.note.setText(f"{len(found)} nearest by the cosine of their mean embeddings; "
                              "1.000 is the same audio (a copy).")

    def selected_paths(self) -> list[str]:
        picked = sorted({i.row() for i in self.table.selectedIndexes()}) or range(self.table.rowCount())
        return [self.table.item(r, 1).data(Qt.UserRole) for r in picked]

    def open_selected(self) -> None:
        paths = self.selected_paths()
        if paths:
            self.open_requested.emit(paths)

    def save_playlist(self, folder: Optional[str] = None) -> Optional[Path]:
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Save the playlist into")
        if not folder or self.seed is None:
            return None
        try:
            path = write_similar_playlist(self.seed, self.rows, folder)
        except OSError as exc:
            self.note.setText(f"The playlist could not be written: {exc.strerror or exc}")
            return None
        self.note.setText(f"Saved {path}")
        return path
