"""Crash-safe writes: atomic files, and folders swapped in with one visible backup.

Every write that a person's data depends on goes through here:

- :func:`atomic_write_text` / :func:`atomic_write_bytes`: a temporary sibling created
  exclusively under an unpredictable name (``mkstemp``: ``O_CREAT|O_EXCL|O_NOFOLLOW``),
  fsync, rename, fsync of the folder;
- :func:`replace_folder`: installs a fully written folder (a model bundle) under its name,
  keeping what was there as ``<name>.previous``. The steps are recorded in a journal
  (``.<name>.swap``) before the first rename and are idempotent, so a kill at any point is
  finished on the next start by :func:`recover_folder`; only one process at a time works
  on a name (:func:`name_lock`).

``GENRE_DESKTOP_FAULT=<point>`` makes :func:`fault_point` kill the process at that point
(the fault-injection tests use it; nothing else sets it).

Reading what a person names goes through :func:`open_regular`: only regular files are
opened (never a FIFO, a device such as ``/dev/zero``, or a socket, whatever links lead
there), and no read goes past the size the file had when it was opened.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import io
import signal
import stat
import tempfile
from pathlib import Path
from typing import Iterator, Optional
from genre_desktop.core.errors import GenreDesktopError
from genre_desktop.core.paths import FAULT_ENV

log = logging.getLogger(__name__)

BACKUP_SUFFIX = ".previous"
PARTIAL_SUFFIX = ".partial"
JOURNAL_SUFFIX = ".swap"
TRASH_SUFFIX = ".trash"
LOCK_SUFFIX = ".lock"
TMP_SUFFIX = ".tmp"
#: the suffixes of the names this module gives its own files and folders (a model's name may not end in one)
RESERVED_SUFFIXES = (BACKUP_SUFFIX, PARTIAL_SUFFIX, TRASH_SUFFIX, JOURNAL_SUFFIX, LOCK_SUFFIX, TMP_SUFFIX)


class LockTimeout(GenreDesktopError, OSError):
    """Another process holds the lock on a name for too long."""

    exit_code = 1


class NotRegularFile(GenreDesktopError, OSError):
    """A path leads (perhaps through links) to something other than a regular file:
    a folder, a FIFO, a device, a socket. ``str(error)`` is one line for people."""

    exit_code = 1


class FileTooLarge(GenreDesktopError, OSError):
    """A file is larger than a reader's bound (``max_bytes``)."""

    exit_code = 1


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"),
          (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def not_regular_reason(mode: int) -> Optional[str]:
    """None for the ``st_mode`` of a regular file, else a one-line reason to skip it."""
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _KINDS if test(mode)), "not a file")
    return f"not a regular file ({kind})"


def regular_file_problem(path: os.PathLike | str) -> Optional[str]:
    """Why ``path`` (links followed) is not a regular file, in one line; None when it is.

    Only ``stat`` is called: nothing is opened, so a FIFO or a device cannot block or
    stream. Raises :class:`OSError` (``FileNotFoundError``, ``PermissionError``...) when
    the path cannot be looked at.
    """
    return not_regular_reason(os.stat(path).st_mode)


class _BoundedFile(io.FileIO):
    """A read-only file whose reads stop at ``limit`` bytes from its start."""

    def __init__(self, fd: int, limit: int):
        super().__init__(fd, "rb", closefd=True)
        self._limit = limit

    def _room(self) -> int:
        return max(0, self._limit - self.tell())

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        room = self._room()
        if room < len(view):
            view = view[:room]
        return super().readinto(view) if len(view) else 0

    def read(self, size: Optional[int] = -1) -> bytes:
        room = self._room()
        return super().read(room if size is None or size < 0 else min(size, room))

    def readall(self) -> bytes:
        return self.read(-1)


def open_regular(path: os.PathLike | str, max_bytes: Optional[int] = None,
                 writable: bool = False) -> io.BufferedIOBase:
    """Open ``path`` only if it is a regular file; every read is bounded.

    The path is checked with ``stat`` (links followed) before it is opened, opened with
    ``O_NONBLOCK`` (a FIFO swapped in meanwhile cannot block the open) and checked again
    with ``fstat``: what was opened must be that same regular file. Reads stop at the
    size the file had then, and at ``max_bytes`` when given.

    Parameters
    ----------
    path : path-like
    max_bytes : int, optional
        Refuse files larger than this.
    writable : bool
        Open for reading and writing in place (``rb+``; reads are then not bounded, as
        writes may grow the file).

    Returns
    -------
    io.BufferedReader or io.BufferedRandom
        Binary, seekable; ``.name`` is ``path`` (mutagen guesses kinds from it) and
        ``.fileno()`` the checked descriptor.

    Raises
    ------
    NotRegularFile
        For a folder, a FIFO, a device or a socket, or a path swapped while it was
        opened (one-line message).
    FileTooLarge
        When the file holds more than ``max_bytes``.
    OSError
        When it cannot be opened (missing, permission denied...).
    """
    before = os.stat(path)
    reason = not_regular_reason(before.st_mode)
    if reason:
        raise NotRegularFile(reason)
    flags = ((os.O_RDWR if writable else os.O_RDONLY) | os.O_NONBLOCK
             | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        reason = not_regular_reason(info.st_mode)
        if reason or (info.st_dev, info.st_ino) != (before.st_dev, before.st_ino):
            raise NotRegularFile(reason or "changed while it was being opened (not the file it was)")
        if max_bytes is not None and info.st_size > max_bytes:
            raise FileTooLarge(f"too large to read ({info.st_size:,} bytes; the limit is {max_bytes:,})")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        if writable:
            raw = io.FileIO(fd, "rb+", closefd=True)
        else:
            raw = _BoundedFile(fd, info.st_size if max_bytes is None else min(info.st_size, max_bytes))
    except BaseException:
        os.close(fd)
        raise
    raw.name = os.fspath(path)
    return io.BufferedRandom(raw) if writable else io.BufferedReader(raw)


def descriptor_path(handle, fallback: os.PathLike | str) -> str:
    """A name that other code, and child processes, can open to read exactly the file
    behind ``handle`` (``/proc/<pid>/fd/<n>`` on Linux), so that a path swapped after it
    was checked cannot reach them; ``fallback`` where the platform has no such names."""
    name = f"/proc/{os.getpid()}/fd/{handle.fileno()}"
    return name if os.path.exists(name) else os.fspath(fallback)


def fault_point(name: str) -> None:
    """Kill this process here (SIGKILL: no clean-up runs) when ``GENRE_DESKTOP_FAULT`` names it."""
    if os.environ.get(FAULT_ENV) == name:
        log.warning("fault injection: killing the process at %s", name)
        os.kill(os.getpid(), signal.SIGKILL)


def fsync_folder(folder: os.PathLike | str) -> None:
    """Make a folder's entries (renames, new files) durable, where the platform allows."""
    try:
        fd = os.open(str(folder), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: os.PathLike | str) -> Iterator[io.BufferedWriter]:
    """A binary file to write ``path`` through, piece by piece (a streamed export): it
    replaces ``path`` only when the block ends without error, so a crash or an error
    leaves either the old or the new file whole."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)  # O_EXCL|O_NOFOLLOW
    except OSError as exc:  # name the file the person asked for, not our hidden temporary
        raise type(exc)(exc.errno, exc.strerror, str(path)) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # as an ordinary file would be, not mkstemp's 0600
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def atomic_write_bytes(path: os.PathLike | str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old or the new file whole."""
    with atomic_writer(path) as f:
        f.write(data)


def atomic_write_text(path: os.PathLike | str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def fsync_tree(folder: Path) -> None:
    """fsync every file in ``folder`` and the folder itself; files get the permissions of
    ordinary files (some writers, such as safetensors, create them 0600)."""
    mode = 0o666 & ~_umask()
    for child in folder.iterdir():
        if child.is_symlink() or not child.is_file():
            continue  # never follow a link out of the folder
        fd = os.open(child, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
        try:
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
    fsync_folder(folder)


@contextlib.contextmanager
def name_lock(folder: Path, name: str, timeout: float = 600.0) -> Iterator[None]:
    """Hold the lock of ``name`` in ``folder`` (one process at a time per model name).

    Raises
    ------
    LockTimeout
        When another process keeps it for longer than ``timeout`` seconds.
    """
    from filelock import FileLock, Timeout

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".{name}{LOCK_SUFFIX}"
    _plain_lock_file(path)
    lock = FileLock(str(path), timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise LockTimeout(f"another process is still saving {name!r}; try again when it is done") from None
    try:
        yield
    finally:
        lock.release()


def _plain_lock_file(path: Path) -> None:
    """Make sure the lock file at ``path`` is a plain file of ours, never a link planted
    there (an older ``filelock`` opens it with ``O_TRUNC``, following links: the link's
    target would be emptied)."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(2):
        try:
            os.close(os.open(path, flags | os.O_NONBLOCK, 0o666 & ~_umask()))
            return
        except OSError as exc:
            if not path.is_symlink():
                if isinstance(exc, FileNotFoundError):
                    raise
                return  # read-only folder and the like: the lock itself will say so
            log.warning("removing a link planted at the lock file %s", path)
            path.unlink(missing_ok=True)


def _clear(path: Path) -> None:
    """Remove what is at ``path`` (one of our hidden names): a link is unlinked, never followed."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path)


def _is_locked(folder: Path, name: str) -> bool:
    from filelock import FileLock, Timeout

    lock = FileLock(str(folder / f".{name}{LOCK_SUFFIX}"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return True
    except OSError:  # a read-only folder: nobody can be writing there
        return False
    lock.release()
    return False


def new_partial(dest: Path) -> Path:
    """A fresh hidden folder beside ``dest`` to write its replacement into."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=PARTIAL_SUFFIX, dir=dest.parent))
    os.chmod(folder, 0o777 & ~_umask())  # as an ordinary folder would be, not mkdtemp's 0700
    return folder


def _umask() -> int:
    """The process umask, read without changing it (``os.umask`` would, for every thread);
    0o022 where ``/proc`` cannot tell."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def _journal(dest: Path) -> Path:
    return dest.parent / f".{dest.name}{JOURNAL_SUFFIX}"


def replace_folder(new: Path, dest: Path) -> None:
    """Install the folder ``new`` (made by :func:`new_partial`) as ``dest``.

    What was at ``dest`` becomes ``dest.previous`` (replacing an older backup). Call it
    holding :func:`name_lock` for ``dest.name``. A kill at any point leaves a journal that
    :func:`recover_folder` completes: afterwards ``dest`` is the new folder, and the old one
    is its backup.
    """
    if new.parent != dest.parent or not new.name.startswith(f".{dest.name}.") \
            or not new.name.endswith(PARTIAL_SUFFIX):
        raise ValueError(f"{new} is not a partial folder of {dest}")
    fsync_tree(new)
    fault_point("swap:before-journal")
    atomic_write_text(_journal(dest), json.dumps({"new": new.name, "dest": dest.name}))
    fault_point("swap:after-journal")
    _apply_journal(dest.parent, _journal(dest))


def _apply_journal(folder: Path, journal: Path) -> None:
    """Carry out (or finish) the swap a journal records; each step may already be done."""
    try:
        with open_regular(journal, max_bytes=1 << 20) as handle:  # a few names; never a FIFO or a device
            record = json.loads(handle.read().decode("utf-8"))
        dest_name, new_name = record["dest"], record["new"]
        if not (isinstance(dest_name, str) and isinstance(new_name, str)):
            raise TypeError("names must be text")
    except (OSError, ValueError, TypeError, KeyError, RecursionError) as exc:
        log.warning("dropping an unreadable swap journal %s (%s)", journal, exc)
        journal.unlink(missing_ok=True)
        return
    expected = journal.name[1:-len(JOURNAL_SUFFIX)]
    if (dest_name != expected or "/" in new_name or os.sep in new_name
            or not new_name.startswith(f".{dest_name}.") or not new_name.endswith(PARTIAL_SUFFIX)):
        log.warning("dropping a swap journal that names other folders: %s", journal)
        journal.unlink(missing_ok=True)
        return
    dest, new = folder / dest_name, folder / new_name
    backup = folder / (dest_name + BACKUP_SUFFIX)
    trash = folder / f".{dest_name}{TRASH_SUFFIX}"
    if new.is_dir():
        if dest.exists():
            if backup.exists():
                _clear(trash)
                os.replace(backup, trash)
                fault_point("swap:old-backup-moved")
            os.replace(dest, backup)
            fault_point("swap:current-moved")
        os.replace(new, dest)
        fsync_folder(folder)
        fault_point("swap:new-installed")
    journal.unlink(missing_ok=True)
    fsync_folder(folder)
    shutil.rmtree(trash, ignore_errors=True)


def remove_folder(dest: Path) -> None:
    """Delete ``dest`` so that a kill leaves it either whole or gone (never half-deleted)."""
    trash = dest.parent / f".{dest.name}{TRASH_SUFFIX}"
    _clear(trash)
    os.replace(dest, trash)
    fsync_folder(dest.parent)
    shutil.rmtree(trash, ignore_errors=True)


def _owner(hidden: str, suffix: str) -> Optional[str]:
    """``".name.abc123.partial"`` -> ``"name"``; ``".name.swap"`` -> ``"name"``."""
    if not hidden.startswith(".") or not hidden.endswith(suffix):
        return None
    core = hidden[1:-len(suffix)]
    if suffix == PARTIAL_SUFFIX:
        core = core.rpartition(".")[0]
    return core or None


def needs_recovery(folder: Path) -> bool:
    """True when ``folder`` holds leftovers of an interrupted save or delete."""
    try:
        return any(p.name.startswith(".") and p.name.endswith((JOURNAL_SUFFIX, PARTIAL_SUFFIX, TRASH_SUFFIX))
                   for p in folder.iterdir())
    except OSError:
        return False


def recover_folder(folder: Path) -> list[str]:
    """Finish half-done swaps and remove leftovers of dead writers in ``folder``.

    Names whose lock is held (a save in progress in another process) are left alone.
    Returns one line per action, for the log.
    """
    done: list[str] = []
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return done
    for child in children:
        name = _owner(child.name, JOURNAL_SUFFIX)
        if name and child.is_file() and not _is_locked(folder, name):
            try:
                with name_lock(folder, name, timeout=5):
                    _apply_journal(folder, child)
                done.append(f"finished an interrupted save of {name!r}")
            except OSError as exc:
                log.warning("could not finish the interrupted save of %r: %s", name, exc)
    for child in children:
        for suffix in (PARTIAL_SUFFIX, TRASH_SUFFIX):
            name = _owner(child.name, suffix)
            if (name and child.is_dir() and child.exists() and not _journal(folder / name).exists()
                    and not _is_locked(folder, name)):
                shutil.rmtree(child, ignore_errors=True)
                done.append(f"removed {child.name}, left by an interrupted save or delete")
    for line in done:
        log.info("%s (in %s)", line, folder)
    return done


def check_writable(folder: Path, what: str) -> Optional[str]:
    """None when files can be created in ``folder`` (made if missing), else a one-line reason."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"cannot write to the {what} ({folder}): {exc.strerror or exc}"
    return None
