"""A small dialog to rename or delete the models a person trained."""
from __future__ import annotations

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QInputDialog, QListWidget,
                               QMessageBox, QPushButton, QVBoxLayout)

from ..core.bundle import BundleError, bundle_metrics_line
from ..core.registry import delete_user_model, list_models, rename_user_model


class ManageModelsDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("My models")
        self.list = QListWidget()
        rename = QPushButton("Rename\u2026")
        rename.clicked.connect(self.rename)
        delete = QPushButton("Delete")
        delete.clicked.connect(self.delete)
        side = QVBoxLayout()
        side.addWidget(rename)
        side.addWidget(delete)
        side.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.list, 1)
        row.addLayout(side)
        close = QDialogButtonBox(QDialogButtonBox.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(close)
        self.resize(520, 320)
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        for entry in list_models():
            if not entry.bundled:
                headline = bundle_metrics_line(entry.meta) or ""
                self.list.addItem(f"{entry.name}" + (f"  \u2014 {headline}" if headline else ""))
                self.list.item(self.list.count() - 1).setData(256, entry.name)
        if not self.list.count():
            self.list.addItem("You have not trained a model yet (Model \u203a Train on my library).")

    def _selected(self):
        item = self.list.currentItem()
        return item.data(256) if item else None

    def rename(self) -> None:
        name = self._selected()
        if not name:
            return
        new, ok = QInputDialog.getText(self, "Rename model", "New name:", text=name)
        if ok and new.strip() and new.strip() != name:
            try:
                rename_user_model(name, new.strip())
            except BundleError as exc:
                QMessageBox.warning(self, "Cannot rename", str(exc))
            self.refresh()

    def delete(self) -> None:
        name = self._selected()
        if name and QMessageBox.question(self, "Delete model", f"Delete the model '{name}'?") == QMessageBox.Yes:
            delete_user_model(name)
            self.refresh()
