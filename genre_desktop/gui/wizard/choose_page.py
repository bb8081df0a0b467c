"""Wizard page 1: a root folder whose sub-folders are genres, or folders added one by one."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWizardPage)

from ...core.training.library_scan import genre_folders


class ChoosePage(QWizardPage):
    def __init__(self):
        super().__init__()
        self.setTitle("Choose your music")
        self.setSubTitle("Pick a folder whose sub-folders are genres (e.g. Music/shoegaze, Music/lo-fi), "
                         "or add folders one by one and name their genre. New genres are welcome.")
        self.root_edit = QLineEdit()
        self.root_edit.setPlaceholderText("A folder with one sub-folder per genre")
        self.root_edit.textChanged.connect(self._root_changed)
        browse = QPushButton("Browse\u2026")
        browse.clicked.connect(self._browse_root)
        row = QHBoxLayout()
        row.addWidget(self.root_edit, 1)
        row.addWidget(browse)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Folder", "Genre"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        self.table.horizontalHeader().resizeSection(1, 200)
        self.table.itemChanged.connect(lambda _: self.completeChanged.emit())
        add = QPushButton("Add a folder\u2026")
        add.clicked.connect(self._add_folder)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Root folder:"))
        layout.addLayout(row)
        layout.addWidget(QLabel("Folders and their genres (edit a genre name by double-clicking it):"))
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    def _browse_root(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder with one sub-folder per genre")
        if folder:
            self.root_edit.setText(folder)

    def _root_changed(self, text: str) -> None:
        root = Path(text)
        if root.is_dir():
            self.set_folders({name: dirs[0] for name, dirs in genre_folders(root).items()})
        self.completeChanged.emit()

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder of one genre")
        if folder:
            self.add_folder(Path(folder), Path(folder).name)

    def _remove_selected(self) -> None:
        for row in sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True):
            self.table.removeRow(row)
        self.completeChanged.emit()

    def set_folders(self, folders: dict[str, Path]) -> None:
        self.table.setRowCount(0)
        for genre, folder in folders.items():
            self.add_folder(folder, genre)

    def add_folder(self, folder: Path, genre: str) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        item = QTableWidgetItem(str(folder))
        item.setFlags(item.flags() & ~item.flags().ItemIsEditable)
        self.table.setItem(row, 0, item)
        self.table.setItem(row, 1, QTableWidgetItem(genre))
        self.completeChanged.emit()

    def folders(self) -> dict[str, list[Path]]:
        """genre -> folders, from the table (blank genre names are skipped)."""
        out: dict[str, list[Path]] = {}
        for row in range(self.table.rowCount()):
            folder, genre = self.table.item(row, 0), self.table.item(row, 1)
            if folder and genre and genre.text().strip():
                out.setdefault(genre.text().strip(), []).append(Path(folder.text()))
        return out

    def isComplete(self) -> bool:  # noqa: N802
        return len(self.folders()) >= 1
