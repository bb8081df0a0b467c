"""Review before writing: each file's genre tag now and what it would become; write the
ticked ones as one undoable batch.

Tags a file already has are evidence, read through the person's vocabulary: the "Your
tag" column says whether they agree with the proposal, and disagreements come first,
then album exceptions (a track whose own genre is not its album's)."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout,
                               QHeaderView, QLabel, QProgressBar, QPushButton, QSpinBox, QTableWidget,
                               QTableWidgetItem, QVBoxLayout)

from genre_desktop.core.engine.classify.verdicts import WORDS
from genre_desktop.core.library.albums import AlbumModel
from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.vocabulary import vocabulary_or_default
from genre_desktop.core.library.writing import WriteSummary, apply, undo
from genre_desktop.core.library.review import TagOptions, propose, review_order
from genre_desktop.gui.settings import Settings
from genre_desktop.gui.tasks import Task

SEPARATORS = (("as separate values (where the format allows)", ""), ("joined by \u201c; \u201d", "; "),
              ("joined by \u201c / \u201d", " / "))
#: the summary's phrases, singular and plural
ACTION_WORDS = {"write": ("will be written", "will be written"), "keep": ("has a genre (kept)", "have a genre (kept)"),
                "same": ("is already tagged so", "are already tagged so"),
                "stale": ("changed since its scan", "changed since their scan"),
                "missing": ("is gone", "are gone"), "skip": ("skipped", "skipped")}
#: the Note column: a word or two (the whole reason is in its tooltip)
NOTE_WORDS = {"write": "new tag", "keep": "kept", "same": "already so", "stale": "changed since scan",
              "missing": "gone", "skip": "skipped", "written": "written \u2713", "failed": "failed"}
COLUMNS = ("Track", "Artist", "Album", "Genre tag now", "Will be", "Note", "Your tag", "Album genre")
#: the "Your tag" column and its filter
AGREE_WORDS = {True: "agrees", False: "disagrees", None: ""}
SHOW = (("All files", None), ("Tag disagrees", False), ("Tag agrees", True))


def summary_line(counts: Counter) -> str:
    """"3 will be written · 5 have a genre (kept)"."""
    return " \u00b7 ".join(f"{n:,} {ACTION_WORDS[a][n != 1]}" for a, n in counts.most_common())


def options_from(settings: Settings) -> TagOptions:
    """The tag-writing options the person chose last (the one place they are read)."""
    return TagOptions(top_k=min(max(settings.get("library/top_k"), 1), 3),
                      separator=settings.get("library/separator") or None,
                      verdicts=("genre", "unsure") if settings.get("library/include_unsure") else ("genre",),
                      overwrite=settings.get("library/overwrite"), add=settings.get("library/add"),
                      per_album=settings.get("library/per_album"))


def _is_exception(line) -> bool:
    """A track of an album tagged on its own (too few analysed tracks, the album not sure)."""
    return bool(line.why) and line.why.startswith("album exception")


def _note(line, outcome) -> str:
    """The Note column: what happens to the file, and when it is an album exception."""
    if outcome:
        return NOTE_WORDS["written" if outcome == "written" else "failed"]
    return NOTE_WORDS[line.action] + (" \u00b7 album exception" if _is_exception(line) else "")


def _album_text(line) -> str:
    """The album genre column: the album's genre, and the track's own when it differs; for
    an album exception, why the album's genre is not written."""
    if _is_exception(line):
        album = line.album_genre or "\u2014"
        return f"{album} ({line.why.split(': ', 1)[-1]})"
    if line.album_genre is None:
        return ""
    return f"{line.album_genre} (this track: {line.own})" if line.own else line.album_genre


def proposal_text(line) -> str:
    """A file's proposed genre tag, as the review's "Will be" column and the Library's
    Proposed column both write it: the whole tag the file will carry, "; " between separate
    values ("Rock; Metal" once Add keeps the Rock it has; a file already so reads as its
    tag reads, with Add or without); in brackets when the proposal is not written
    ("(Metal)": the file keeps its genre, changed since its scan, or is gone); "" without
    a proposal."""
    if line is None or not line.proposed:
        return ""
    if line.action == "same":  # already so: the tag it has (with Add, more than the proposal)
        return "; ".join(line.current)
    text = "; ".join(line.proposed)
    return text if line.action == "write" else f"({text})"


def _apply(db_path, lines, model_key, options, progress, should_stop) -> WriteSummary:
    with LibraryDatabase(db_path) as db:
        return apply(db, lines, model_key, options, progress=progress, should_stop=should_stop)


def undo_batch(db_path, batch_id: Optional[int], progress, should_stop) -> WriteSummary:
    """Undo in a worker thread (its own connection)."""
    with LibraryDatabase(db_path) as db:
        return undo(db, batch_id, progress=progress, should_stop=should_stop)


class TagReviewDialog(QDialog):
    """Options, the review table, and Write."""

    written = Signal(object)  # WriteSummary

    def __init__(self, db: LibraryDatabase, model_key: str, settings: Settings,
                 paths: Optional[list[str]] = None, parent=None, model_folder: Optional[str] = None):
        super().__init__(parent)
        self.setWindowTitle("Write genre tags")
        self.db, self.model_key, self.settings, self.paths = db, model_key, settings, paths
        self.task: Optional[Task] = None
        self.album_model = AlbumModel.of_folder(model_folder) if model_folder else AlbumModel()
        self.lines = []
        self._writing: list = []
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 3)
        self.separator = QComboBox()
        for text, value in SEPARATORS:
            self.separator.addItem(text, value)
        self.unsure = QCheckBox(f"Also tag \u201c{WORDS['unsure']}\u201d tracks with the best guess")
        self.overwrite = QCheckBox("Replace genres the files already have")
        self.add = QCheckBox("Add the genre to those the files already have")
        self.per_album = QCheckBox("One genre per album (album-tagged, 3 or more analysed tracks; "
                                   "the others track by track)")
        self.show_only = QComboBox()
        for text, value in SHOW:
            self.show_only.addItem(text, value)
        options = options_from(settings)
        self.top_k.setValue(options.top_k)
        self.separator.setCurrentIndex(max(0, self.separator.findData(options.separator or "")))
        self.unsure.setChecked("unsure" in options.verdicts)
        self.overwrite.setChecked(options.overwrite)
        self.add.setChecked(options.add and not options.overwrite)
        self.per_album.setChecked(options.per_album)
        self.overwrite.toggled.connect(lambda on: on and self.add.setChecked(False))  # keep, replace or add
        self.add.toggled.connect(lambda on: on and self.overwrite.setChecked(False))
        form = QFormLayout()
        form.addRow("Genres per file:", self.top_k)
        form.addRow("Several genres:", self.separator)
        form.addRow(self.unsure)
        form.addRow(self.overwrite)
        form.addRow(self.add)
        form.addRow(self.per_album)
        form.addRow("Show:", self.show_only)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setTextElideMode(Qt.ElideMiddle)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        header.setMinimumSectionSize(60)
        for column, width in ((1, 130), (2, 130), (3, 120), (4, 120)):
            header.setSectionResizeMode(column, QHeaderView.Interactive)
            header.resizeSection(column, width)
        header.setSectionResizeMode(5, QHeaderView.ResizeToContents)  # short words: never elided
        header.setSectionResizeMode(6, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(7, QHeaderView.Interactive)  # long for album exceptions: the tooltip has it all
        header.resizeSection(7, 150)
        self.written_paths: dict[str, str] = {}  # path -> "written" or the reason it failed
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.write_button = QPushButton("Write")
        self.write_button.setDefault(True)
        self.buttons.addButton(self.write_button, QDialogButtonBox.AcceptRole)
        self.write_button.clicked.connect(self.write)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)
        bottom = QHBoxLayout()
        bottom.addWidget(self.progress, 1)
        bottom.addWidget(self.buttons)
        layout.addLayout(bottom)
        for widget in (self.top_k, self.separator, self.unsure, self.overwrite, self.add, self.per_album,
                       self.show_only):
            signal = widget.valueChanged if isinstance(widget, QSpinBox) else (
                widget.currentIndexChanged if isinstance(widget, QComboBox) else widget.toggled)
            signal.connect(self.refresh)
        self.table.itemChanged.connect(self._update_button)
        self.resize(1040, 560)
        self.refresh()

    def options(self) -> TagOptions:
        return TagOptions(top_k=self.top_k.value(), separator=self.separator.currentData() or None,
                          verdicts=("genre", "unsure") if self.unsure.isChecked() else ("genre",),
                          overwrite=self.overwrite.isChecked(), add=self.add.isChecked(),
                          per_album=self.per_album.isChecked())

    def refresh(self) -> None:
        """Recompute the review for the chosen options (rows just written stay, saying so)."""
        vocabulary, problem = vocabulary_or_default()
        self.lines = propose(self.db, self.model_key, self.options(), self.paths, vocabulary=vocabulary,
                             album_model=self.album_model)
        wanted = self.show_only.currentData()
        shown = review_order(line for line in self.lines if (line.action in ("write", "keep", "stale")
                                                             or line.path in self.written_paths)
                             and (wanted is None or line.agrees is wanted))
        files = {row.id: row for row in self.db.rows(self.model_key)}
        self.table.blockSignals(True)
        self.table.setRowCount(len(shown))
        for r, line in enumerate(shown):
            row = files.get(line.file_id)
            outcome = self.written_paths.get(line.path)
            item = QTableWidgetItem(Path(line.path).name)
            item.setToolTip(line.path)
            item.setData(Qt.UserRole, line.file_id)
            if line.action == "write" and outcome is None:
                item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                item.setCheckState(Qt.Checked)
            will_be = proposal_text(line) if line.action == "write" and outcome is None else ""
            cells = (item, QTableWidgetItem(row.artist or "" if row else ""),
                     QTableWidgetItem(row.album or "" if row else ""),
                     QTableWidgetItem("; ".join(line.current) or "\u2014"), QTableWidgetItem(will_be),
                     QTableWidgetItem(_note(line, outcome)), QTableWidgetItem(AGREE_WORDS[line.agrees]),
                     QTableWidgetItem(_album_text(line)))
            cells[7].setToolTip(_album_text(line))
            cells[5].setToolTip(outcome if outcome not in (None, "written") else
                                (line.why or ACTION_WORDS.get(line.action, (line.action,))[0]))
            for column, cell in enumerate(cells):
                if column:
                    cell.setFlags(cell.flags() & ~Qt.ItemIsEditable)
                self.table.setItem(r, column, cell)
        self.table.blockSignals(False)
        counts = Counter(line.action for line in self.lines)
        disagree = sum(line.agrees is False for line in self.lines)
        text = summary_line(counts) or "The library is empty: add a folder first."
        text += f" \u00b7 {disagree:,} tag{'s' if disagree != 1 else ''} disagree" if disagree else ""
        self.summary.setText(text + (f"\nVocabulary not used: {problem}" if problem else ""))
        self._update_button()

    def chosen(self) -> list:
        ticked = {self.table.item(r, 0).data(Qt.UserRole) for r in range(self.table.rowCount())
                  if self.table.item(r, 0).checkState() == Qt.Checked}
        return [line for line in self.lines if line.action == "write" and line.file_id in ticked]

    def _update_button(self, *_args) -> None:
        n = len(self.chosen())
        self.write_button.setText(f"Write {n:,} file{'s' if n != 1 else ''}")
        self.write_button.setEnabled(n > 0 and self.task is None)

    def write(self) -> None:
        """Remember the options, then write the ticked files in a worker thread."""
        options = self.options()
        self.settings.set("library/top_k", options.top_k)
        self.settings.set("library/separator", options.separator or "")
        self.settings.set("library/include_unsure", "unsure" in options.verdicts)
        self.settings.set("library/overwrite", options.overwrite)
        self.settings.set("library/add", options.add)
        self.settings.set("library/per_album", options.per_album)
        self.progress.setVisible(True)
        self._writing = self.chosen()
        self.task = Task(_apply, self.db.path, self._writing, self.model_key, options, name="tag-writing", parent=self)
        self.task.progress.connect(lambda f, m: (self.progress.setValue(int(f * 100)), self.progress.setFormat(m)))
        self.task.finished.connect(self._on_written)
        self.task.errored.connect(lambda message: self.summary.setText(f"Writing stopped: {message}"))
        self.task.done.connect(self._on_done)
        self._update_button()
        self.task.start()

    def _on_written(self, summary: WriteSummary) -> None:
        failed = dict(summary.failed)
        self.written_paths.update({line.path: failed.get(line.path, "written") for line in self._writing})
        failed = "".join(f"\n{Path(p).name}: {reason}" for p, reason in summary.failed[:8])
        self.summary.setText(f"{summary.written:,} files tagged (batch {summary.batch_id}; Undo in the Library "
                             f"tab puts the old tags back). {len(summary.failed):,} failed.{failed}")
        self.written.emit(summary)

    def _on_done(self) -> None:
        self.task = None
        self.progress.setVisible(False)
        outcome = self.summary.text()
        self.refresh()  # what is left to write; the rows just written say so
        self.summary.setText(outcome)

    def reject(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task.wait()
        super().reject()
