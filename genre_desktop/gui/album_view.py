"""The Library's album view: Artist › Album › Track, each album's genre (voted over its
tracks' slices) beside each track's own, tracks that disagree with their album flagged.

Its own widget and model, separate from the Library table: one query without timelines
lists artists and albums (:func:`~genre_desktop.core.library.albums.album_index`); an
artist's albums are voted, and their tracks listed, when the artist is expanded, so the
view opens at once on a library of tens of thousands of tracks.
"""
from __future__ import annotations

import logging
import sqlite3
from typing import Optional

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QAction, QBrush, QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHeaderView, QLabel, QPushButton, QTreeView,
                               QVBoxLayout, QWidget)

from genre_desktop.core.engine.classify.verdicts import NOT_ANALYSED, with_confidence as verdict_text, words
from genre_desktop.core.library.albums import MUSIC_VERDICTS, Album, AlbumModel, album_index, load_album, own_genre

log = logging.getLogger(__name__)

COLUMNS = ("Artist / album / track", "Genre", "Verdict", "Tracks", "Note")
FLAG = "\u26a0 disagrees with its album"
FOLDER_NOTE = "no album tag: the tracks of this folder"
ALBUM_ROLE = Qt.UserRole + 1
DISAGREE_COLOUR = QColor(200, 90, 0)


def _cells(*texts) -> list[QStandardItem]:
    return [QStandardItem("" if text is None else str(text)) for text in texts]


class AlbumView(QWidget):
    """The tree of artists, albums and tracks of one library and model."""

    def __init__(self, db, model_key: Optional[str], album_model: Optional[AlbumModel] = None, parent=None):
        super().__init__(parent)
        self.db, self.model_key = db, model_key
        self.album_model = album_model or AlbumModel()
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(COLUMNS)
        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        self.tree.setEditTriggers(QTreeView.NoEditTriggers)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        for column, width in ((1, 110), (2, 120), (3, 60), (4, 200)):
            header.setSectionResizeMode(column, QHeaderView.Interactive)
            header.resizeSection(column, width)
        header.setStretchLastSection(False)
        self.tree.expanded.connect(self._on_expanded)
        self.summary = QLabel()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        self.reload()

    def reload(self) -> None:
        """List the artists again (their albums are listed and voted when one is expanded)."""
        self.model.removeRows(0, self.model.rowCount())
        index = album_index(self.db, self.model_key)
        artists: dict = {}
        for album in index:
            artists.setdefault(album.artist or "Unknown artist", []).append(album)
        root = self.model.invisibleRootItem()
        for artist, found in artists.items():
            tracks = sum(len(a.file_ids) for a in found)
            row = _cells(artist, "", "", tracks, f"{len(found)} album{'s' if len(found) != 1 else ''}")
            row[0].setData(found, ALBUM_ROLE)
            row[0].appendRow(QStandardItem("\u2026"))  # its expand arrow, until it is expanded
            root.appendRow(row)
        self.summary.setText(f"{len(index):,} albums by {len(artists):,} artists; expand an artist to see its "
                             "albums' genres (voted over all their tracks' slices).")

    def artist_row(self, name: str) -> Optional[QStandardItem]:
        for r in range(self.model.rowCount()):
            if self.model.item(r, 0).text() == name:
                return self.model.item(r, 0)
        return None

    def _on_expanded(self, index: QModelIndex) -> None:
        item = self.model.itemFromIndex(index.siblingAtColumn(0))
        if item is None or item.parent() is not None:
            return
        self.fill_artist(item)

    def fill_artist(self, item: QStandardItem) -> None:
        """List an artist's albums (once), voted, with their tracks."""
        found = item.data(ALBUM_ROLE)
        if not isinstance(found, list):
            return
        item.setData(None, ALBUM_ROLE)
        item.removeRows(0, item.rowCount())
        for album in found:
            cells = _cells(album.title, "\u2026", "", len(album.file_ids), FOLDER_NOTE if album.by_folder else "")
            cells[0].setData(album, ALBUM_ROLE)
            cells[0].setToolTip(album.folder)
            item.appendRow(cells)
        for r in range(item.rowCount()):
            cell = item.child(r, 0)
            album = cell.data(ALBUM_ROLE)
            if not isinstance(album, Album) or cell.rowCount():
                continue
            try:
                load_album(self.db, self.model_key, album, self.album_model)
            except (sqlite3.Error, OSError, ValueError) as exc:  # said in the row; the view stays
                log.warning("album %s: %s", album.title, exc)
                item.child(r, 4).setText(f"cannot be read: {exc}")
                continue
            self._fill_album(item, r, album)

    def _fill_album(self, artist: QStandardItem, r: int, album: Album) -> None:
        artist.child(r, 1).setText(album.genre or "\u2014")
        artist.child(r, 2).setText(verdict_text(album.verdict, album.confidence))
        odd = len(album.disagreeing)
        artist.child(r, 4).setText(f"{odd} track{'s' if odd != 1 else ''} disagree" if odd else
                                   FOLDER_NOTE if album.by_folder else "")
        odd_paths = set(album.disagreeing)
        cell = artist.child(r, 0)
        for row in album.tracks:
            mine = own_genre(row)
            disagrees = row.display in odd_paths
            note = FLAG if disagrees else ("" if mine else (row.error or words(row.verdict, NOT_ANALYSED)))
            # a verdict that names no genre ("not music") in words alone: its confidence is its closest genre's
            shown = verdict_text(row.verdict, row.confidence if row.verdict in MUSIC_VERDICTS else None)
            cells = _cells(row.title or row.name, mine or "\u2014", shown, "", note)
            cells[0].setToolTip(row.display)
            if disagrees:
                for c in cells:
                    c.setForeground(QBrush(DISAGREE_COLOUR))
                cells[4].setToolTip(f"this track sounds like {mine}; its album is {album.genre}")
            cell.appendRow(cells)


class AlbumWindow(QDialog):
    """The album view in a window of its own (opened from the Library tab)."""

    def __init__(self, db, model_key: Optional[str], album_model: Optional[AlbumModel] = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Albums")
        self.view = AlbumView(db, model_key, album_model, self)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(buttons)
        self.resize(820, 560)


def album_controls(library) -> list[QWidget]:
    """The Library tab's "Albums…" and "Vocabulary…" buttons (the latter triggers
    ``library.vocabulary_action``, which a menu can show too)."""
    from genre_desktop.gui.vocabulary_dialog import VocabularyDialog

    def model() -> AlbumModel:
        ref = getattr(library, "ref", None)
        return AlbumModel.of_folder(ref.folder) if ref is not None else AlbumModel()

    def show_albums() -> AlbumWindow:
        ref = getattr(library, "ref", None)
        window = AlbumWindow(library.db, ref.key if ref is not None else None, model(), library)
        window.setAttribute(Qt.WA_DeleteOnClose)
        window.show()
        return window

    def edit_vocabulary() -> VocabularyDialog:
        dialog = VocabularyDialog(model().labels, library)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()
        return dialog

    albums_button = QPushButton("Albums\u2026")
    albums_button.setToolTip("Artist \u203a Album \u203a Track: each album's genre, voted over all its tracks, "
                             "and the tracks that disagree")
    albums_button.clicked.connect(lambda _checked=False: show_albums())
    library.vocabulary_action = QAction("Genre vocabulary\u2026", library)
    library.vocabulary_action.setToolTip("How genres are written, which names in your tags mean which genre, "
                                         "and which genres may be written")
    library.vocabulary_action.triggered.connect(lambda _checked=False: edit_vocabulary())
    library.addAction(library.vocabulary_action)
    vocabulary_button = QPushButton("Vocabulary\u2026")
    vocabulary_button.setToolTip(library.vocabulary_action.toolTip())
    vocabulary_button.clicked.connect(lambda _checked=False: library.vocabulary_action.trigger())
    library.albums_button, library.vocabulary_button = albums_button, vocabulary_button
    return [albums_button, vocabulary_button]
