"""Your genre vocabulary, edited: how each genre is written, which names in your tags mean
which genre, and (optionally) which genres may be written at all. Saved as
``vocabulary.json`` in the config folder (:mod:`genre_desktop.core.library.vocabulary`)."""
from __future__ import annotations

import logging
from typing import Iterable, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QHBoxLayout, QHeaderView, QLabel, QListWidget,
                               QListWidgetItem, QPushButton, QTableWidget, QTableWidgetItem, QTabWidget,
                               QVBoxLayout, QWidget)

from genre_desktop.core.engine.models.genre_names import tag_spelling
from genre_desktop.core.library.vocabulary import (Vocabulary, VocabularyError, save_vocabulary, vocabulary_or_default,
                                       vocabulary_path)

log = logging.getLogger(__name__)


def _table(headers: Iterable[str]) -> QTableWidget:
    headers = list(headers)
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    for column in range(len(headers)):
        table.horizontalHeader().setSectionResizeMode(column, QHeaderView.Stretch)
    return table


def _add_row(table: QTableWidget, first: str, second: str, first_editable: bool = True) -> None:
    r = table.rowCount()
    table.insertRow(r)
    left, right = QTableWidgetItem(first), QTableWidgetItem(second)
    if not first_editable:
        left.setFlags(left.flags() & ~Qt.ItemIsEditable)
    table.setItem(r, 0, left)
    table.setItem(r, 1, right)


def _text(table: QTableWidget, r: int, c: int) -> str:
    item = table.item(r, c)
    return " ".join(item.text().split()) if item is not None else ""


class VocabularyDialog(QDialog):
    """Three tabs (written as, aliases, whitelist) and Save."""

    saved = Signal(object)  # the Vocabulary written

    def __init__(self, labels: Optional[list] = None, parent=None, path=None):
        super().__init__(parent)
        self.setWindowTitle("Genre vocabulary")
        self.path = path or vocabulary_path()
        self.vocabulary, problem = vocabulary_or_default(self.path)
        self.labels = list(labels or [])
        for label in list(self.vocabulary.spellings) + list(self.vocabulary.aliases.values()):
            if label not in self.labels:
                self.labels.append(label)
        self.notice = QLabel(problem or f"Saved in {self.path}")
        self.notice.setWordWrap(True)
        self.tabs = QTabWidget()

        self.spellings = _table(("Genre", "Written into files as"))
        self.tabs.addTab(self._page("What each genre is written as in a file's genre tag.", self.spellings),
                         "Written as")
        self.aliases = _table(("Name in your tags", "Means the genre"))
        self.add_alias = QPushButton("Add a name")
        self.add_alias.clicked.connect(lambda _checked=False: self._new_alias())
        self.remove_alias = QPushButton("Remove")
        self.remove_alias.clicked.connect(lambda _checked=False: self._remove_alias())
        self.tabs.addTab(self._page("Names found in existing tags and the genre they mean: a file tagged "
                                    "\u201cHeavy Metal\u201d agrees with metal.", self.aliases,
                                    self.add_alias, self.remove_alias), "Aliases")
        self.only = QCheckBox("Write only the ticked genres")
        self.whitelist = QListWidget()
        self.tabs.addTab(self._page("Genres outside this list are never written.", self.only, self.whitelist),
                         "Whitelist")
        self.defaults = QPushButton("Restore defaults")
        self.defaults.clicked.connect(lambda _checked=False: self.show_vocabulary(Vocabulary()))
        self.buttons = QDialogButtonBox(QDialogButtonBox.Save | QDialogButtonBox.Cancel)
        self.buttons.addButton(self.defaults, QDialogButtonBox.ResetRole)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.notice)
        layout.addWidget(self.buttons)
        self.only.toggled.connect(self.whitelist.setEnabled)
        self.resize(560, 480)
        self.show_vocabulary(self.vocabulary)

    @staticmethod
    def _page(text: str, *widgets) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        about = QLabel(text)
        about.setWordWrap(True)
        layout.addWidget(about)
        row = None
        for widget in widgets:
            if isinstance(widget, QPushButton):
                if row is None:
                    row = QHBoxLayout()
                row.addWidget(widget)
            else:
                layout.addWidget(widget, 1 if isinstance(widget, (QTableWidget, QListWidget)) else 0)
        if row is not None:
            row.addStretch(1)
            layout.addLayout(row)
        return page

    def show_vocabulary(self, vocabulary: Vocabulary) -> None:
        """Fill the tabs from ``vocabulary``."""
        self.spellings.setRowCount(0)
        for label in self.labels:
            _add_row(self.spellings, label, vocabulary.spellings.get(label) or tag_spelling(label), first_editable=False)
        self.aliases.setRowCount(0)
        for name, label in sorted(vocabulary.aliases.items(), key=lambda kv: (kv[1], kv[0].casefold())):
            _add_row(self.aliases, name, label)
        self.whitelist.clear()
        allowed = {w.casefold() for w in vocabulary.whitelist}
        for label in self.labels:
            item = QListWidgetItem(label)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Checked if not allowed or label.casefold() in allowed else Qt.Unchecked)
            self.whitelist.addItem(item)
        self.only.setChecked(bool(vocabulary.whitelist))
        self.whitelist.setEnabled(bool(vocabulary.whitelist))

    def _new_alias(self) -> None:
        _add_row(self.aliases, "", self.labels[0] if self.labels else "")
        self.tabs.setCurrentIndex(1)
        self.aliases.editItem(self.aliases.item(self.aliases.rowCount() - 1, 0))

    def _remove_alias(self) -> None:
        for r in sorted({i.row() for i in self.aliases.selectedIndexes()}, reverse=True):
            self.aliases.removeRow(r)

    def edited(self) -> Vocabulary:
        """The vocabulary the tabs show (blank rows left out; a spelling equal to the
        default is not stored)."""
        spellings = {}
        for r in range(self.spellings.rowCount()):
            label, text = _text(self.spellings, r, 0), _text(self.spellings, r, 1)
            if label and text and text != tag_spelling(label):
                spellings[label] = text
        aliases = {}
        for r in range(self.aliases.rowCount()):
            name, label = _text(self.aliases, r, 0), _text(self.aliases, r, 1)
            if name and label:
                aliases[name] = label
        whitelist = []
        if self.only.isChecked():
            whitelist = [self.whitelist.item(i).text() for i in range(self.whitelist.count())
                         if self.whitelist.item(i).checkState() == Qt.Checked]
        return Vocabulary(spellings=spellings, aliases=aliases, whitelist=whitelist)

    def save(self) -> None:
        """Write the file (atomically); a problem is said in one line and the dialog stays."""
        vocabulary = self.edited()
        try:
            save_vocabulary(vocabulary, self.path)
        except (VocabularyError, OSError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            self.notice.setText(f"Not saved: {reason}")
            return
        self.vocabulary = vocabulary
        self.saved.emit(vocabulary)
        self.accept()
