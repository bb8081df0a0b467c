"""Wizard page 1: a root folder whose sub-folders are genres, or folders added one by one."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWizardPage)

from genre_desktop.core.training.labelled_folders import genre_folders


class ChoosePage(QWizardPage):
    def __init__(self, base_model: str | None = None, settings=None):
        super().__init__()
        self.settings = settings
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
        self.base_combo = QComboBox()
        self.base_combo.setToolTip("Your genres are learnt on this model's features; genres it knows start "
                                   "from what it knows. The bundled model is the best start.")
        self._fill_bases(base_model)
        base_row = QHBoxLayout()
        base_row.addWidget(QLabel("Start from the model:"))
        base_row.addWidget(self.base_combo, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(base_row)
        layout.addWidget(QLabel("Root folder:"))
        layout.addLayout(row)
        layout.addWidget(QLabel("Folders and their genres (edit a genre name by double-clicking it):"))
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    def _fill_bases(self, preferred: str | None) -> None:
        """Every usable genre model, the bundled default first and chosen unless ``preferred``."""
        from genre_desktop.core.errors import BundleError
        from genre_desktop.core.engine.models.registry import list_models, resolve_model

        try:
            default = resolve_model(None)
        except BundleError:
            default = None
        entries = sorted(list_models(), key=lambda e: (default is None or e.path != default, not e.bundled, e.name))
        for entry in entries:
            suffix = " (bundled, recommended)" if default is not None and entry.path == default else (
                " (bundled)" if entry.bundled else " (yours)")
            self.base_combo.addItem(entry.name + suffix, str(entry.path))
        if preferred:
            index = self.base_combo.findData(str(preferred))
            if index < 0:
                self.base_combo.addItem(Path(preferred).name, str(preferred))
                index = self.base_combo.count() - 1
            self.base_combo.setCurrentIndex(index)

    def base_model(self) -> str | None:
        return self.base_combo.currentData() or None

    def initializePage(self) -> None:
        remembered = self.settings.get("wizard/last_folder") if self.settings is not None else ""
        if remembered and not self.root_edit.text() and Path(remembered).is_dir():
            self.root_edit.setText(remembered)

    def validatePage(self) -> bool:
        if self.settings is not None and Path(self.root_edit.text()).is_dir():
            self.settings.set("wizard/last_folder", str(Path(self.root_edit.text()).absolute()))
        return True

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

    def isComplete(self) -> bool:
        return len(self.folders()) >= 1
