"""Wizard page 2: scan the chosen folders in a worker; show counts, problems, warnings."""
from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QHeaderView, QLabel, QListWidget, QProgressBar, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWizardPage)

from genre_desktop.core.engine.models.bundle import read_meta

from genre_desktop.core.errors import BundleError
from genre_desktop.core.training.labelled_folders import scan_labelled_folders
from genre_desktop.core.engine.models.registry import resolve_model
from genre_desktop.core.training.train_on_library import match_known_genres
from genre_desktop.gui.tasks import Task

log = logging.getLogger(__name__)


class CheckPage(QWizardPage):
    scan_finished = Signal(object)

    def __init__(self):
        super().__init__()
        self.setTitle("Check")
        self.setSubTitle("What was found, and anything that could hurt training.")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.message = QLabel("")
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Genre", "Tracks", "Minutes", "Base model"])
        self.table.horizontalHeaderItem(3).setToolTip(
            "A genre the base model already knows starts from what it knows; a new one is learnt from your tracks alone")
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.warnings = QLabel("")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #b26a00;")
        self.problems = QListWidget()
        self.problems.setMaximumHeight(130)
        layout = QVBoxLayout(self)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.warnings)
        layout.addWidget(QLabel("Skipped files:"))
        layout.addWidget(self.problems)
        self.scan = None
        self.task = None  # the running scan

    def initializePage(self) -> None:
        self.cancel()
        self.scan = None
        self.table.setRowCount(0)
        self.problems.clear()
        self.warnings.setText("")
        self.message.setText("Scanning\u2026")
        task = Task(scan_labelled_folders, self.wizard().choose_page.folders(), name="library scan", parent=self)
        task.progress.connect(self._on_progress)
        task.finished.connect(self._show)
        task.errored.connect(self._on_failed)
        self.task = task.start()

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.message.setText(message)

    def _on_failed(self, message: str) -> None:
        self.message.setText(f"Cannot scan: {message}")

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task.wait(5000)
            self.task = None

    def _show(self, scan) -> None:
        self.scan = scan
        self.wizard().scan = scan
        self.progress.setValue(1000)
        counts, minutes = scan.counts(), scan.durations()
        known = self._known_genres(list(counts))
        self.table.setRowCount(len(counts))
        for row, (genre, n) in enumerate(counts.items()):
            base = "" if known is None else ("knows it" if genre in known else "new genre")
            for col, text in enumerate((genre, str(n), f"{minutes[genre] / 60:.1f}", base)):
                self.table.setItem(row, col, QTableWidgetItem(text))
        total = sum(scan.durations().values()) / 60
        self.message.setText(f"{len(scan.tracks)} tracks in {len(counts)} genres, {total:.0f} minutes of music")
        for path, reason in scan.unreadable:
            self.problems.addItem(f"{path.name}: {reason}")
        for a, b in scan.duplicates:
            self.problems.addItem(f"{b.name}: same file as {a} (kept once)")
        problem = scan.blocking_problem()
        lines = ([f"Cannot train: {problem}."] if problem else []) + [f"\u26a0 {w}" for w in scan.warnings()]
        self.warnings.setText("\n".join(lines))
        self.completeChanged.emit()
        self.scan_finished.emit(scan)

    def _known_genres(self, genres: list[str]):
        """The genres the base model already knows (None when its labels cannot be read)."""
        try:
            labels = read_meta(resolve_model(self.wizard().base_model))["labels"]
        except (BundleError, OSError, KeyError) as exc:
            log.warning("cannot read the base model's labels: %s", exc)
            return None
        return set(match_known_genres(labels, genres))

    def isComplete(self) -> bool:
        return self.scan is not None and self.scan.blocking_problem() is None
