"""The one contract for long work: ``progress(fraction, message)`` and ``should_stop()``.

Core functions that take a while accept both callbacks. The GUI adapts them to signals
and a Cancel button, the CLI to tqdm.
"""
from __future__ import annotations

from typing import Callable, Optional
from genre_desktop.core.errors import GenreDesktopError

ProgressCallback = Callable[[float, str], None]
StopCallback = Callable[[], bool]


class Cancelled(GenreDesktopError):
    """Raised inside long work when ``should_stop()`` returned True."""


def no_progress(fraction: float, message: str) -> None:
    """A progress callback that ignores everything."""


def check_stop(should_stop: Optional[StopCallback]) -> None:
    """Raise :class:`Cancelled` if ``should_stop`` says so."""
    if should_stop is not None and should_stop():
        raise Cancelled("cancelled")


def scaled(progress: Optional[ProgressCallback], start: float, end: float) -> ProgressCallback:
    """Map a sub-task's 0..1 progress onto ``start..end`` of its parent's."""
    if progress is None:
        return no_progress

    def report(fraction: float, message: str) -> None:
        progress(start + (end - start) * min(max(fraction, 0.0), 1.0), message)

    return report
