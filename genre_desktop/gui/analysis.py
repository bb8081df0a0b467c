"""The window's analysis queue: load a model, then analyse queued files one at a time.

It lives in the GUI thread and runs each piece of work as a :class:`~.tasks.Task` (its own
thread), so its signals always arrive in the GUI thread and no widget is touched elsewhere.
"""
from __future__ import annotations

import logging
from collections import deque
from typing import Optional

from PySide6.QtCore import QObject, Signal

from .tasks import Task

log = logging.getLogger(__name__)
DISPLAY_COLUMNS = 4000  # spectrogram columns kept for display
# Smaller batches than the CLI's: each forward pass keeps both cores busy, and short passes
# leave the GUI thread room to run (measured by benchmarks/bench_gui.py)
GUI_BATCH_SIZE = 16


def _load_classifier(folder: str):
    """Load a bundle and wrap it for analysis (torch is first imported here, off the GUI thread)."""
    from ..core.engine.bundle import load_bundle
    from ..core.engine.inference import Classifier

    return Classifier(load_bundle(folder), batch_size=GUI_BATCH_SIZE, runtime="auto")


class AnalysisQueue(QObject):
    """Loads a model and analyses queued files, one at a time, each in a :class:`Task`."""

    model_loaded = Signal(object)  # core.engine.bundle.ModelBundle
    model_failed = Signal(str, str)  # folder, reason
    started = Signal(str)  # path
    progress = Signal(str, float)  # path, fraction
    finished = Signal(str, object)  # path, TrackResult
    failed = Signal(str, str)  # path, reason
    cancelled = Signal(str)
    idle = Signal()

    def __init__(self, parent: Optional[QObject] = None):
        super().__init__(parent)
        self._queue: deque[str] = deque()
        self._classifier = None  # core.engine.inference.Classifier, once a model is loaded
        self._loading: Optional[Task] = None
        self._current: Optional[Task] = None
        self._current_path: Optional[str] = None

    @property
    def busy(self) -> bool:
        return self._current is not None

    @property
    def current_path(self) -> Optional[str]:
        """The file being analysed, or None."""
        return self._current_path

    def enqueue(self, paths: list[str]) -> None:
        self._queue.extend(paths)

    def cancel_all(self) -> list[str]:
        """Drop queued files and stop the current one; returns the dropped paths."""
        dropped = list(self._queue)
        self._queue.clear()
        if self._current is not None:
            self._current.cancel()
        return dropped

    def discard(self, paths: list[str]) -> None:
        """Forget queued ``paths``, and stop the one being analysed if it is among them."""
        drop = set(paths)
        self._queue = deque(p for p in self._queue if p not in drop)
        if self._current is not None and self._current_path in drop:
            self._current.cancel()

    def load_model(self, folder: str) -> None:
        task = Task(_load_classifier, folder, name="model-loading", contract=False, parent=self)
        task.finished.connect(self._on_model_loaded)
        task.errored.connect(lambda message: self.model_failed.emit(folder, message))
        task.done.connect(lambda: setattr(self, "_loading", None))
        self._loading = task.start()

    def _on_model_loaded(self, classifier) -> None:
        self._classifier = classifier
        self.model_loaded.emit(classifier.bundle)
        self.process()

    def process(self) -> None:
        """Start the next queued file, unless one is running or no model is loaded yet."""
        if self._current is not None or self._classifier is None:
            return
        if not self._queue:
            self.idle.emit()
            return
        path = self._queue.popleft()
        task = Task(self._classifier.classify_file, path, name="analysis", parent=self,
                    keep_spectrogram=True, spectrogram_columns=DISPLAY_COLUMNS)
        task.started.connect(lambda: self.started.emit(path))
        task.progress.connect(lambda fraction, _message: self.progress.emit(path, fraction))
        task.finished.connect(lambda result: self.finished.emit(path, result))
        task.errored.connect(lambda reason: self.failed.emit(path, reason))
        task.cancelled.connect(lambda: self.cancelled.emit(path))
        task.done.connect(self._on_done)
        task.done.connect(task.deleteLater)
        self._current, self._current_path = task, path
        task.start()

    def _on_done(self) -> None:
        self._current = self._current_path = None
        self.process()

    def shutdown(self, msecs: int = 3000) -> None:
        """Cancel everything and wait for the threads (idempotent)."""
        self.cancel_all()
        for task in (self._current, self._loading):
            if task is not None:
                task.wait(msecs)
