"""A small dialog to rename, delete or restore the models a person trained.

Broken models are listed with the reason (and can be deleted); each backup (the model a
newer training of the same name replaced) is listed and can be restored.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QInputDialog, QListWidget,
                               QListWidgetItem, QMessageBox, QPushButton, QVBoxLayout)

from genre_desktop.core.engine.models.bundle import bundle_metrics_line

from genre_desktop.core.errors import BundleError
from genre_desktop.core.engine.models.registry import ModelEntry, delete_user_model, list_models, rename_user_model, restore_backup

ENTRY_ROLE = Qt.UserRole


def describe_entry(entry: ModelEntry) -> str:
    """One line for the list: name, and what state it is in."""
    headline = bundle_metrics_line(entry.meta) if entry.usable else None
    if entry.backup_of:
        state = f"backup of \u201c{entry.backup_of}\u201d (the model it replaced)"
        state += f", broken: {entry.error}" if entry.error else (f", {headline}" if headline else "")
        return f"{entry.backup_of} (backup)  \u2014 {state}"
    if entry.error:
        return f"{entry.name}  \u2014 broken: {entry.error}"
    return entry.name + (f"  \u2014 {headline}" if headline else "")


class ManageModelsDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("My models")
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.currentItemChanged.connect(self._update_buttons)
        self.rename_button = QPushButton("Rename\u2026")
        self.rename_button.clicked.connect(self.rename)
        self.restore_button = QPushButton("Restore backup")
        self.restore_button.setToolTip("Make this backup the model again; the model it replaces "
                                       "becomes the backup")
        self.restore_button.clicked.connect(self.restore)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete)
        side = QVBoxLayout()
        for button in (self.rename_button, self.restore_button, self.delete_button):
            side.addWidget(button)
        side.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.list, 1)
        row.addLayout(side)
        close = QDialogButtonBox(QDialogButtonBox.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(close)
        self.resize(620, 320)
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        for entry in list_models(include_broken=True, include_backups=True):
            if entry.bundled:
                continue
            item = QListWidgetItem(describe_entry(entry))
            item.setData(ENTRY_ROLE, entry)
            item.setToolTip(f"{entry.path}\n{entry.error}" if entry.error else str(entry.path))
            self.list.addItem(item)
        if not self.list.count():
            self.list.addItem("You have not trained a model yet (Model \u203a Train on my library).")
        self._update_buttons()

    def _selected(self) -> ModelEntry | None:
        item = self.list.currentItem()
        return item.data(ENTRY_ROLE) if item else None

    def _update_buttons(self, *_) -> None:
        entry = self._selected()
        self.rename_button.setEnabled(entry is not None and entry.backup_of is None)
        self.restore_button.setEnabled(entry is not None and entry.backup_of is not None and entry.usable)
        self.delete_button.setEnabled(entry is not None)

    def _run(self, title: str, action) -> bool:
        try:
            action()
        except (BundleError, OSError) as exc:
            QMessageBox.warning(self, title, str(exc))
            return False
        finally:
            self.refresh()
        return True

    def rename(self) -> None:
        entry = self._selected()
        if entry is None or entry.backup_of:
            return
        new, ok = QInputDialog.getText(self, "Rename model", "New name:", text=entry.name)
        if ok and new.strip() and new.strip() != entry.name:
            self._run("Cannot rename", lambda: rename_user_model(entry.name, new))

    def restore(self) -> None:
        entry = self._selected()
        if entry is not None and entry.backup_of:
            self._run("Cannot restore", lambda: restore_backup(entry.backup_of))

    def delete(self) -> None:
        entry = self._selected()
        if entry is None:
            return
        what = f"the backup of \u201c{entry.backup_of}\u201d" if entry.backup_of else f"the model \u201c{entry.name}\u201d"
        if QMessageBox.question(self, "Delete model", f"Delete {what}?") == QMessageBox.Yes:
            name = entry.backup_of or entry.name
            self._run("Cannot delete", lambda: delete_user_model(name, backup=entry.backup_of is not None))
