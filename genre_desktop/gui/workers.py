"""Background work for the window: model loading and track analysis, off the GUI thread.

Workers live in their own QThread and talk to the window only through signals; they
never touch widgets. Cancellation is a threading.Event read by the core's
``should_stop`` callback.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..core.engine.audio_io import AudioDecodeError
from ..core.engine.bundle import BundleError, load_bundle
from ..core.engine.tasks import Cancelled

log = logging.getLogger(__name__)
DISPLAY_COLUMNS = 4000  # spectrogram columns kept for display
# Smaller batches than the CLI's: each forward pass keeps both cores busy, and short passes
# leave the GUI thread room to run (measured by benchmarks/bench_gui.py)
GUI_BATCH_SIZE = 16


class AnalysisWorker(QObject):
    """Loads a model and analyses queued files, one at a time."""

    model_loaded = Signal(object)  # core.bundle.ModelBundle
    model_failed = Signal(str, str)  # folder, reason
    started = Signal(str)  # path
    progress = Signal(str, float)  # path, fraction
    finished = Signal(str, object)  # path, TrackResult
    failed = Signal(str, str)  # path, reason
    cancelled = Signal(str)
    idle = Signal()

    def __init__(self):
        super().__init__()
        self._queue: deque[str] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._classifier = None  # core.inference.Classifier, once a model is loaded
        self._last_progress = 0.0

    # --- called from the GUI thread (thread-safe) ---
    def enqueue(self, paths: list[str]) -> None:
        with self._lock:
            self._queue.extend(paths)

    def cancel_all(self) -> list[str]:
        """Drop queued files and stop the current one; returns the dropped paths."""
        with self._lock:
            dropped = list(self._queue)
            self._queue.clear()
        self._stop.set()
        return dropped

    # --- slots run in the worker thread ---
    @Slot(str)
    def load_model(self, folder: str) -> None:
        # torch is first imported here, in this worker thread, while the window is already up
        from ..core.engine.inference import Classifier

        try:
            bundle = load_bundle(folder)
        except BundleError as exc:
            self.model_failed.emit(folder, str(exc))
            return
        except Exception as exc:  # whatever a model folder holds, the window must go on
            log.exception("loading the model %s failed", folder)
            self.model_failed.emit(folder, f"{type(exc).__name__}: {exc}")
            return
        self._classifier = Classifier(bundle, batch_size=GUI_BATCH_SIZE)
        self.model_loaded.emit(bundle)
        self.process()

    @Slot()
    def process(self) -> None:
        if self._classifier is None:
            return  # files wait until a model is loaded
        while True:
            with self._lock:
                if not self._queue:
                    break
                path = self._queue.popleft()
            self._stop.clear()
            self._analyse(path)
        self.idle.emit()

    def _analyse(self, path: str) -> None:
        self.started.emit(path)
        self._last_progress = 0.0

        def progress(fraction: float, message: str) -> None:  # noqa: ARG001
            now = time.monotonic()
            if now - self._last_progress > 0.1 or fraction >= 1.0:  # at most 10 updates/s
                self._last_progress = now
                self.progress.emit(path, fraction)

        try:
            result = self._classifier.classify_file(path, progress, self._stop.is_set, keep_spectrogram=True,
                                                    spectrogram_columns=DISPLAY_COLUMNS)
        except Cancelled:
            self.cancelled.emit(path)
        except (AudioDecodeError, OSError) as exc:
            self.failed.emit(path, str(exc) or type(exc).__name__)
        except Exception as exc:  # a bug must not kill the worker thread
            log.exception("analysis of %s failed", path)
            self.failed.emit(path, f"internal error: {type(exc).__name__}: {exc}")
        else:
            self.finished.emit(path, result)


class PreviewWorker(QObject):
    """Decodes a track for playback in the background."""

    ready = Signal(str, object, int)  # path, audio, sample rate
    failed = Signal(str, str)

    @Slot(str)
    def decode(self, path: str) -> None:
        from ..core.engine.playback import preview_audio

        try:
            self.ready.emit(path, preview_audio(Path(path)), 22050)
        except (AudioDecodeError, OSError) as exc:
            self.failed.emit(path, str(exc))


def start_in_thread(worker: QObject, name: str, run=None) -> QThread:
    """Move ``worker`` to a new started QThread (the caller keeps both alive).

    ``run``, a slot of the worker, is called in that thread as soon as it starts; connect
    the worker's signals before calling this, so that none is missed.
    """
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    if run is not None:
        thread.started.connect(run)
    thread.start()
    return thread
