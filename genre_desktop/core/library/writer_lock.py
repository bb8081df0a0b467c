"""One writer of tags per library at a time, and the original bytes kept for undo.

:func:`writer_lock` is an ``flock`` on ``<library>.writer.lock`` beside the database,
holding the writer's PID and start time: a second ``write-tags`` or undo (another process,
or another thread of the window) is told "another write is running (pid N)", and start-up
recovery leaves a running writer's journal entries alone (the kernel drops the lock when
its process dies, however it dies). :class:`UndoStore` keeps, per journal entry, what
:func:`.tag_bytes.record_changes` found (``<library>.undo/<entry>.kept``).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Iterator, Optional
from genre_desktop.core.errors import GenreDesktopError


try:
    import fcntl
except ImportError:  # Windows: no lock (one writer is then the person's business)
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".writer.lock"
UNDO_SUFFIX = ".undo"
UNDO_BUDGET = 512 << 20  # original bytes kept for all writes together; the oldest go first
KEPT_SUFFIX = ".kept"
_FACTS_MAX = 1 << 20
_BLOB_MAX = 64 << 20


class WriterBusy(GenreDesktopError, ValueError):
    """Another process (or thread) is writing tags of this library; one line for people."""


def lock_path(db) -> Path:
    return Path(f"{db.path}{LOCK_SUFFIX}")


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096) or b"{}")
        return f"pid {int(info['pid'])}, since {info['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"


@contextlib.contextmanager
def writer_lock(db) -> Iterator[None]:
    """Hold the library's writer lock (``with writer_lock(db):``), or raise :class:`WriterBusy`."""
    if fcntl is None:
        yield
        return
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(lock_path(db), flags, 0o600)
    except OSError as exc:
        raise WriterBusy(f"cannot take the library's writer lock ({exc.strerror or exc})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WriterBusy(f"another write is running ({_holder(fd)}); "
                             "try again when it has finished") from None
        started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "started": started}).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # drops the lock


class UndoStore:
    """What each journalled write kept for an exact undo, in a private folder beside the database."""

    def __init__(self, db):
        self.folder = Path(f"{db.path}{UNDO_SUFFIX}")

    def _path(self, entry: int) -> Path:
        return self.folder / f"{int(entry)}{KEPT_SUFFIX}"

    def keep(self, entry: int, facts: dict, blob: bytes) -> None:
        """Store (one file: a JSON line, then the bytes). Not fsynced: a crash that loses it
        costs only the exactness of that undo (what is loaded is checked before use)."""
        self.folder.mkdir(mode=0o700, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(json.dumps(facts).encode() + b"\n")
                handle.write(blob)
            os.replace(temp, self._path(entry))
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        self._trim(keep=int(entry))

    def _trim(self, keep: int) -> None:
        """Drop the oldest kept bytes beyond :data:`UNDO_BUDGET` (their writes are then
        undone tag by tag)."""
        kept = []
        for item in os.scandir(self.folder):
            stem = item.name[:-len(KEPT_SUFFIX)] if item.name.endswith(KEPT_SUFFIX) else ""
            if stem.isdigit():
                kept.append((int(stem) == keep, int(stem), item.stat().st_size, item.path))
        total = sum(size for _, _, size, _ in kept)
        for current, _, size, path in sorted(kept):  # the oldest first; the write just kept stays
            if total <= UNDO_BUDGET or current:
                break
            Path(path).unlink(missing_ok=True)
            total -= size

    def load(self, entry: int) -> tuple[Optional[dict], bytes]:
        """(facts, original bytes), or (None, b"") when nothing usable was kept."""
        try:
            with open(self._path(entry), "rb") as handle:
                facts = json.loads(handle.readline(_FACTS_MAX))
                blob = handle.read(_BLOB_MAX + 1)
        except (OSError, ValueError):
            return None, b""
        if not isinstance(facts, dict) or not {"mtime_ns", "atime_ns"} <= facts.keys():
            return None, b""
        return facts, blob

    def drop(self, entry: int) -> None:
        self._path(entry).unlink(missing_ok=True)


def undo_store(db) -> UndoStore:
    return UndoStore(db)
