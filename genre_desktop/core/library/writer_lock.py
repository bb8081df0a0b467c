"""One writer of tags per library at a time, and the original bytes kept for undo.

:func:`writer_lock` is an ``flock`` on ``<library>.writer.lock`` beside the database,
holding the writer's PID and start time: a second ``write-tags`` or undo (another process,
or another thread of the window) is told "another write is running (pid N)", and start-up
recovery leaves a running writer's journal entries alone (the kernel drops the lock when
its process dies, however it dies). :class:`UndoStore` keeps, per journal entry, what
:func:`.tag_bytes.record_changes` found (``<library>.undo/<entry>.json`` and ``.bin``).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
from pathlib import Path
from typing import Iterator, Optional

from ..engine.safe_files import atomic_write_bytes

try:
    import fcntl
except ImportError:  # Windows: no lock (one writer is then the person's business)
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".writer.lock"
UNDO_SUFFIX = ".undo"
UNDO_BUDGET = 512 << 20  # original bytes kept for all writes together; the oldest go first


class WriterBusy(ValueError):
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

    def _paths(self, entry: int) -> tuple[Path, Path]:
        return self.folder / f"{int(entry)}.json", self.folder / f"{int(entry)}.bin"

    def keep(self, entry: int, facts: dict, blob: bytes) -> None:
        """Store durably (before the rename it describes)."""
        self.folder.mkdir(mode=0o700, exist_ok=True)
        facts_path, blob_path = self._paths(entry)
        if facts.get("regions") is not None:
            atomic_write_bytes(blob_path, blob)
        atomic_write_bytes(facts_path, json.dumps(facts).encode())
        self._trim(keep=int(entry))

    def _trim(self, keep: int) -> None:
        """Drop the oldest kept bytes beyond :data:`UNDO_BUDGET` (their writes are then
        undone tag by tag)."""
        kept = []
        for item in os.scandir(self.folder):
            stem, _, ext = item.name.partition(".")
            if ext == "bin" and stem.isdigit() and int(stem) != keep:
                kept.append((int(stem), item.stat().st_size, item.path))
        own = self._paths(keep)[1]
        total = sum(size for _, size, _ in kept) + (own.stat().st_size if own.exists() else 0)
        for _, size, path in sorted(kept):
            if total <= UNDO_BUDGET:
                break
            Path(path).unlink(missing_ok=True)
            total -= size

    def load(self, entry: int) -> tuple[Optional[dict], bytes]:
        facts_path, blob_path = self._paths(entry)
        try:
            facts = json.loads(facts_path.read_bytes())
        except (OSError, ValueError):
            return None, b""
        if not isinstance(facts, dict) or not {"mtime_ns", "atime_ns"} <= facts.keys():
            return None, b""
        try:
            blob = blob_path.read_bytes() if facts.get("regions") else b""
        except OSError:
            facts["regions"] = None
            blob = b""
        return facts, blob

    def drop(self, entry: int) -> None:
        for path in self._paths(entry):
            path.unlink(missing_ok=True)


def undo_store(db) -> UndoStore:
    return UndoStore(db)
