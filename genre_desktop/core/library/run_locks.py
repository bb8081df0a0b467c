"""Which scan runs are alive: each running scan holds an ``flock`` on its own lock file
beside the library (``NAME.run-ID.lock``) until it finishes or its process dies (the
kernel drops the lock with the process, ``kill -9`` included). A run recorded as
"running" whose lock nobody holds was killed: the next start closes it."""
from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def lock_path(db_path: os.PathLike | str, run_id: int) -> Path:
    return Path(f"{db_path}.run-{int(run_id)}.lock")


def take(db_path: os.PathLike | str, run_id: int) -> int:
    """Hold the lock of run ``run_id`` (for as long as the returned descriptor is open)."""
    fd = os.open(lock_path(db_path, run_id), os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
                 | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


def release(db_path: os.PathLike | str, run_id: int, fd: int) -> None:
    """Let go of a finished run's lock and remove its file."""
    try:
        lock_path(db_path, run_id).unlink(missing_ok=True)
    except OSError as exc:
        log.debug("cannot remove the lock of run %s: %s", run_id, exc)
    os.close(fd)


def is_alive(db_path: os.PathLike | str, run_id: int) -> bool:
    """Whether a process still holds run ``run_id``'s lock. A run without a lock file
    (killed before it took one, or recorded by an older version) counts as dead."""
    path = lock_path(db_path, run_id)
    try:
        fd = os.open(path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell (a read-only folder): leave it alone
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops the lock we may have taken
    path.unlink(missing_ok=True)
    return False
