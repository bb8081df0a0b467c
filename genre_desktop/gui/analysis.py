"""The window's analysis queue: load a model, then analyse queued files one at a time.

It lives in the GUI thread and runs each piece of work as a :class:`~.tasks.Task` (its own
thread), so its signals always arrive in the GUI thread and no widget is touched elsewhere.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from typing import Optional

from PySide6.QtCore import QObject, Signal

from genre_desktop.gui.tasks import Task

log = logging.getLogger(__name__)
DISPLAY_COLUMNS = 4000  # spectrogram columns kept for display
# Smaller batches than the CLI's: each forward pass keeps both cores busy, and short passes
# leave the GUI thread room to run (measured by benchmarks/bench_gui.py)
GUI_BATCH_SIZE = 16


class QueueProgress:
    """How far the files queued since the queue was last idle have got: a count and the
    time left at the pace so far ("12 of 500 \u00b7 about 3 min left")."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        self.total, self.done, self.started = 0, 0, None

    def add(self, n: int) -> None:
        if self.started is None:
            self.started = self.clock()
        self.total += n

    def one_done(self) -> None:
        self.done = min(self.done + 1, self.total)

    def drop(self, n: int) -> None:
        """``n`` queued files will not be analysed after all."""
        self.total = max(self.done, self.total - n)

    def fraction(self, current: float = 0.0) -> float:
        """Of the whole queue, with ``current`` of the file being analysed."""
        return min(1.0, (self.done + current) / self.total) if self.total else 0.0

    def text(self, current: float = 0.0) -> str:
        if not self.total:
            return ""
        line = f"{min(self.done + 1, self.total):,} of {self.total:,}"
        finished = self.done + current
        if finished > 0 and self.started is not None and self.total > 1:
            left = (self.clock() - self.started) / finished * (self.total - finished)
            line += f" \u00b7 about {_minutes(left)} left"
        return line


def _minutes(seconds: float) -> str:
    if seconds < 60:
        return "1 min" if seconds > 30 else f"{max(int(seconds), 1)} s"
    minutes = int(round(seconds / 60))
    return f"{minutes} min" if minutes < 90 else f"{minutes // 60} h {minutes % 60:02d} min"


def _load_classifier(folder: str):
    """Load a bundle and wrap it for analysis (torch is first imported here, off the GUI thread)."""
    from genre_desktop.core.engine.models.bundle import load_bundle
    from genre_desktop.core.engine.classify.classifier import Classifier

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
