"""The one Qt adapter for the core's long-work contract (``core.engine.tasks``).

A :class:`Task` runs one call of a core function in a QThread that it owns and reports,
always in the GUI thread: ``started``, ``progress(fraction, message)`` (at most ten times a
second, the last one always), then exactly one of ``finished(result)``, ``errored(message)``
or ``cancelled``, and then ``done``. :meth:`Task.cancel` makes the function's
``should_stop()`` return True. Workers never touch widgets: they only emit.

:func:`start_service` is for the one worker that is not a single call: live listening,
which owns an audio session in its thread for as long as the person listens.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from genre_desktop.core.errors import GenreDesktopError
from genre_desktop.core.tasks import Cancelled

log = logging.getLogger(__name__)
PROGRESS_INTERVAL = 0.1  # seconds between progress signals


def expected(exc: BaseException) -> bool:
    """Whether an exception is one the app expects and says in one line, without a
    traceback: a refusal (:class:`GenreDesktopError`: a corrupt audio file, a locked
    library, a broken model) or the system's word on a file (``OSError``: full disk,
    permission denied). Anything else, a bare ``ValueError`` included, is a bug."""
    return isinstance(exc, (GenreDesktopError, OSError))


def log_failure(exc: BaseException, what: str) -> None:
    """Log a failure of ``what``: one line at WARNING when :func:`expected`, else the
    traceback (call it inside the ``except`` block)."""
    if expected(exc):
        log.warning("%s: %s: %s", what, type(exc).__name__, " ".join(str(exc).split()))
    else:
        log.exception("%s failed", what)


class _Runner(QObject):
    """Lives in the task's thread; its signals reach the Task in the GUI thread (queued)."""

    started = Signal()
    progress = Signal(float, str)
    finished = Signal(object)
    errored = Signal(str)
    cancelled = Signal()

    def __init__(self, call: Callable[[], Any], stop: threading.Event):
        super().__init__()
        self._call = call
        self._stop = stop

    @Slot()
    def run(self) -> None:
        self.started.emit()
        try:
            result = self._call()
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # a bug or bad input must not kill the thread or the app
            log_failure(exc, f"background task {QThread.currentThread().objectName()!r}")
            self.errored.emit(" ".join(str(exc).split()) or type(exc).__name__)
        else:
            if self._stop.is_set():
                self.cancelled.emit()
            else:
                self.finished.emit(result)
        finally:  # end the thread's event loop now, so that Task.wait() never waits on the GUI
            QThread.currentThread().quit()


class Task(QObject):
    """Run ``fn(*args, **kwargs)`` in a thread of its own.

    Parameters
    ----------
    fn : callable
        A core function. With ``contract=True`` (the default) it is also given
        ``progress=`` and ``should_stop=`` (the long-work contract).
    name : str
        The thread's name (shows in debuggers and logs).
    """

    started = Signal()
    progress = Signal(float, str)
    finished = Signal(object)
    errored = Signal(str)
    cancelled = Signal()
    done = Signal()  # after whichever of the three above

    def __init__(self, fn: Callable[..., Any], *args, name: str = "task", contract: bool = True,
                 parent: QObject | None = None, **kwargs):
        super().__init__(parent)
        self._stop = threading.Event()
        self._last_progress = 0.0
        if contract:
            kwargs = {**kwargs, "progress": self._report, "should_stop": self._stop.is_set}
        self._runner = _Runner(lambda: fn(*args, **kwargs), self._stop)
        self._worker_thread = QThread()
        self._worker_thread.setObjectName(name)
        self._runner.moveToThread(self._worker_thread)
        self._worker_thread.started.connect(self._runner.run)
        # bound methods of this GUI-thread object: Qt queues each call into the GUI thread
        self._runner.started.connect(self._on_started)
        self._runner.progress.connect(self._on_progress)
        self._runner.finished.connect(self._on_finished)
        self._runner.errored.connect(self._on_errored)
        self._runner.cancelled.connect(self._on_cancelled)
        self.running = False

    # --- GUI thread
    def start(self) -> "Task":
        self.running = True
        self._worker_thread.start()
        return self

    def cancel(self) -> None:
        """Ask the function to stop; ``cancelled`` follows once it has."""
        self._stop.set()

    def wait(self, msecs: int = 5000) -> bool:
        """Block until the thread has ended (for shutdown); True when it did."""
        return self._worker_thread.wait(msecs)

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    # --- worker thread
    def _report(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_INTERVAL or fraction >= 1.0:
            self._last_progress = now
            self._runner.progress.emit(float(fraction), message)

    # --- back in the GUI thread
    @Slot()
    def _on_started(self) -> None:
        self.started.emit()

    @Slot(float, str)
    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.emit(fraction, message)

    def _end(self, signal, *args) -> None:
        self.running = False
        self._worker_thread.wait()  # the runner has quit it: this returns at once
        signal.emit(*args)
        self.done.emit()

    @Slot(object)
    def _on_finished(self, result) -> None:
        self._end(self.finished, result)

    @Slot(str)
    def _on_errored(self, message: str) -> None:
        self._end(self.errored, message)

    @Slot()
    def _on_cancelled(self) -> None:
        self._end(self.cancelled)


def start_service(worker: QObject, name: str) -> QThread:
    """Move a long-lived worker (one that owns a session, such as live listening, rather
    than running one call) to a new started QThread; the caller keeps both alive, talks to
    the worker through signals and ends the thread with ``quit()`` + ``wait()``."""
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.start()
    return thread
