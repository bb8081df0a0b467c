"""The copy a tag write goes through, and the rename that puts it in place.

A person's folder is not trusted: the copy is created exclusively (``O_CREAT|O_EXCL|
O_NOFOLLOW``) under an unpredictable name beside the file, so a link planted there is never
followed; its name is told to the caller *before* it is created (the journal records it, so
start-up recovery removes exactly that file). The copy keeps the file's owner, group and
mode; a file another program holds a lock on (``fcntl``/``lockf`` or ``flock``) is refused,
never renamed over; and the rename happens only when the file is still the one copied.
"""
from __future__ import annotations

import errno
import os
import secrets
import stat as stat_module
from pathlib import Path
from typing import BinaryIO, Callable, Optional

from genre_desktop.core.safe_files import fsync_folder
from genre_desktop.core.library.tags import TagError

try:
    import fcntl
except ImportError:  # not on Windows: no advisory locks to honour there
    fcntl = None  # type: ignore[assignment]

TEMP_SUFFIX = ".genre-tmp"  # copies are ".NAME.<random>.genre-tmp" beside the file
_NAME_KEEP = 80  # bytes of the file's name kept in its copy's name
_COPY_BLOCK = 1 << 20


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def check_writable(path: Path, st: os.stat_result) -> None:
    """Refuse a file the person marked read-only (for root too) or cannot write."""
    if not stat_module.S_IMODE(st.st_mode) & 0o222:
        raise TagError("is read-only; left alone")
    if not os.access(path.parent, os.W_OK) or not os.access(path, os.W_OK):
        raise TagError("is read-only (or its folder is)")
    if st.st_nlink > 1:
        raise TagError("has other hard links; writing would split them, so it was left alone")


def check_unlocked(handle: BinaryIO) -> None:
    """Refuse a file another program holds a lock on (either kind of advisory lock).

    The locks are taken and kept until ``handle`` closes, so nobody takes one between the
    check and the rename. (A POSIX lock ends when any descriptor of the file in this
    process closes: call this last, just before the rename.)
    """
    if fcntl is None:
        return
    fd = handle.fileno()
    for take in (lambda: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB),
                 lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)):
        try:
            take()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise TagError("is locked by another program (it may be saving it); left alone") from None
            if exc.errno not in (errno.ENOLCK, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise


class TempCopy:
    """A new, private file beside ``path`` (``with TempCopy(path, named) as copy:``).

    ``named(temp_path)`` is called before each attempt to create it (record it somewhere
    that survives a crash). The copy is removed on leaving unless :meth:`replace` ran.
    """

    def __init__(self, path: Path, named: Optional[Callable[[Path], None]] = None):
        self.path = path
        self.temp: Optional[Path] = None
        self.handle: Optional[BinaryIO] = None
        self._named = named

    def __enter__(self) -> "TempCopy":
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        stem = os.fsdecode(os.fsencode(self.path.name)[:_NAME_KEEP])  # bytes: a name of 255 stays legal
        for _ in range(100):
            temp = self.path.with_name(f".{stem}.{secrets.token_hex(8)}{TEMP_SUFFIX}")
            if self._named is not None:
                self._named(temp)
            try:
                fd = os.open(temp, flags, 0o600)
            except FileExistsError:
                continue
            except OSError as exc:
                raise TagError(f"cannot be written ({exc.strerror or exc})") from None
            self.temp, self.handle = temp, open(fd, "rb+")
            self.handle.raw.name = os.fspath(temp)
            return self
        raise TagError("cannot make a private copy beside it (every name tried was taken)")

    def __exit__(self, *exc) -> None:
        if self.handle is not None:
            self.handle.close()
        if self.temp is not None:
            remove_temp(self.temp)

    def fill_from(self, source: BinaryIO) -> None:
        """Copy ``source`` (from its start) into the copy."""
        source.seek(0)
        self.handle.seek(0)
        self.handle.truncate()
        while block := source.read(_COPY_BLOCK):
            self.handle.write(block)
        self.handle.flush()

    def keep_owner_and_mode(self, st: os.stat_result, original: Optional[BinaryIO] = None) -> None:
        """Give the copy the file's owner, group, permission bits and extended attributes."""
        fd = self.handle.fileno()
        mode = stat_module.S_IMODE(st.st_mode)
        if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
            try:
                os.fchown(fd, st.st_uid, st.st_gid)
            except PermissionError:
                if st.st_uid != os.geteuid():
                    raise TagError("belongs to another user; writing it would change its owner, so it was left alone") \
                        from None
                mode &= ~0o070  # its group cannot be kept by this user: no group gets its group's rights
        if original is not None and hasattr(os, "listxattr"):
            try:
                for name in os.listxattr(original.fileno()):
                    os.setxattr(fd, name, os.getxattr(original.fileno(), name))
            except OSError:
                pass  # a file system without them, or one this user may not set
        os.fchmod(fd, mode)

    def replace(self, original: BinaryIO, st: os.stat_result) -> None:
        """fsync the copy and rename it over the file, if the file is still the one copied
        (same inode, size, time), the copy's name is still the copy, and nobody holds a lock."""
        self.handle.flush()
        os.fsync(self.handle.fileno())
        try:
            now = os.stat(self.path, follow_symlinks=False)
            mine = os.fstat(self.handle.fileno())
            named = os.lstat(self.temp)
        except OSError as exc:
            raise TagError(f"cannot be written ({exc.strerror or exc})") from None
        if (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns) != (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns):
            raise TagError("changed while its tags were being written; left alone")
        if (named.st_dev, named.st_ino) != (mine.st_dev, mine.st_ino):
            raise TagError("its private copy was replaced by someone else; left alone")
        check_unlocked(original)
        os.replace(self.temp, self.path)
        self.temp = None
        fsync_folder(self.path.parent)


def remove_temp(temp: Path) -> bool:
    """Remove a copy this app made (a regular file with one link; never a link's target)."""
    try:
        st = os.lstat(temp)
    except OSError:
        return False
    if not is_temp_name(temp.name) or not (stat_module.S_ISREG(st.st_mode) or stat_module.S_ISLNK(st.st_mode)):
        return False
    try:
        os.unlink(temp)  # unlinks a link itself, never what it points to
    except OSError:
        return False
    return True
