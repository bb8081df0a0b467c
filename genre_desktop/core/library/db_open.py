"""Opening the library database, and what each way of failing is called.

"locked", "read-only", "disk full", "newer version", "not a library" and "damaged" are
different answers, each its own :class:`LibraryError` (a ``sqlite3.Error``, so code that
catches those keeps working) whose text is one line fit to show a person. Opening never
moves, renames or deletes anything: only :func:`repair_library`, asked for, moves a
library that is really damaged aside, with its ``-wal`` and ``-shm`` files beside it.
"""
from __future__ import annotations

import datetime as _dt
import errno
import logging
import os
import sqlite3
import stat
from pathlib import Path
from typing import Optional
from urllib.parse import quote
from genre_desktop.core.errors import GenreDesktopError

log = logging.getLogger(__name__)

#: the first 16 bytes of every SQLite database file
SQLITE_MAGIC = b"SQLite format 3\x00"
#: seconds to wait for another program's write transaction before saying "locked"
DEFAULT_TIMEOUT = 30.0
#: libraries up to this size get ``PRAGMA quick_check`` at every open (about 10 ms per MB)
QUICK_CHECK_MAX_BYTES = 32 << 20
REPAIR_COMMAND = "genre-desktop-cli library repair"
#: tables of the library; a database with other tables and none of these is another program's
LIBRARY_TABLES = {"files", "results", "runs", "tag_batches", "tag_writes"}
#: names of database files: only these are moved aside by ``repair`` when their header is gone
DATABASE_SUFFIXES = (".sqlite3", ".sqlite", ".db")

# SQLite's primary result codes (https://www.sqlite.org/rescode.html)
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26


class LibraryError(GenreDesktopError, sqlite3.Error):
    """The library cannot be used as asked; ``str()`` is one line fit to show.

    ``exit_code`` is what the CLI exits with."""

    exit_code = 1

    def __init__(self, message: str, path: Optional[os.PathLike | str] = None):
        super().__init__(" ".join(message.split()))  # one line, whatever SQLite said
        self.path = path


class LibraryLocked(LibraryError):
    """Another program holds a write transaction longer than we wait."""


class LibraryReadOnly(LibraryError):
    """The library (or its folder) cannot be written; reading it works."""


class LibraryDiskFull(LibraryError):
    """The disk holding the library has no room left."""


class LibraryTooNew(LibraryError):
    """Written by a newer version of the app (``needed`` is its schema version)."""

    def __init__(self, message: str, path=None, needed: int = 0):
        super().__init__(message, path)
        self.needed = needed


class LibraryDamaged(LibraryError):
    """Real corruption (``quick_check`` fails, "malformed", "not a database")."""


class NotALibrary(LibraryError):
    """The path is a folder, a song, another program's database: refused, never renamed."""

    exit_code = 2


class NoLibrary(LibraryError):
    """Nothing at the path, for a command that only reads."""

    exit_code = 2


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def damaged_error(path, detail: str) -> LibraryDamaged:
    return LibraryDamaged(f"the library {path} is damaged ({detail}); nothing was changed. "
                          f"'{REPAIR_COMMAND}' moves it aside (kept, with its -wal file) and starts an empty one",
                          path)


def library_error(exc: BaseException, path, timeout: Optional[float] = None) -> LibraryError:
    """``exc`` (a ``sqlite3.Error`` or ``OSError`` met using the library at ``path``) as
    the :class:`LibraryError` that says what happened, in one line."""
    if isinstance(exc, LibraryError):
        return exc
    text = _one_line(exc)
    low = text.lower()
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return LibraryDiskFull(f"disk full: no room left for the library {path}; nothing was changed "
                                   "(free some space and try again)", path)
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return LibraryReadOnly(f"the library {path} is read-only ({exc.strerror or text}): this command "
                                   "changes it (show, export, playlists and history can read it)", path)
        return LibraryError(f"cannot use the library {path} ({exc.strerror or text})", path)
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in (_BUSY, _LOCKED) or "database is locked" in low or "table is locked" in low:
        waited = f"; waited {timeout:g} s" if timeout is not None else ""
        return LibraryLocked(f"the library {path} is locked by another program ({text}{waited}); "
                             "nothing was changed: try again when it has finished", path)
    if primary == _READONLY or "readonly" in low or "read-only" in low:
        return LibraryReadOnly(f"the library {path} is read-only ({text}): this command changes it "
                               "(show, export, playlists and history can read it)", path)
    if primary == _FULL or "disk is full" in low:
        return LibraryDiskFull(f"disk full: no room left for the library {path} ({text}); nothing was "
                               "changed (free some space and try again)", path)
    if primary in (_CORRUPT, _NOTADB) or "malformed" in low or "not a database" in low:
        return damaged_error(path, text)
    if _no_room(path):  # SQLite says "disk I/O error" or "unable to open" when the -shm cannot grow
        return LibraryDiskFull(f"disk full: no room left for the library {path} ({text}); nothing was "
                               "changed (free some space and try again)", path)
    if primary == _CANTOPEN or "unable to open" in low:
        return LibraryError(f"cannot open the library {path} ({text}): is its folder there and readable?", path)
    return LibraryError(f"the library {path} could not be used ({text})", path)


def _no_room(path) -> bool:
    """Whether the file system holding ``path`` has no free block left."""
    folder = Path(path).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return os.statvfs(folder).f_bavail == 0
    except OSError:
        return False


def _db_name(path) -> bool:
    """Whether the name says database (a library whose header was overwritten, which
    ``repair`` may move aside; a song or a document never is)."""
    return Path(path).suffix.lower() in DATABASE_SUFFIXES


#: (device, inode) of the libraries whose header this process has read. Reading it again
#: would open and close a descriptor of a file that SQLite may hold locks on, and on Linux
#: closing *any* descriptor of a file drops every POSIX lock the process holds on it,
#: SQLite's included: another program closing the library would then take itself for the
#: last user and delete the WAL this process still reads. The first read of a file comes
#: before this process connects to it (every connection is opened here, after this check).
_HEADERS_READ: set[tuple[int, int]] = set()


def check_path(path: Path, create: bool, reread: bool = False) -> None:
    """Refuse what is not a library (a folder, a song, a FIFO) without touching it; for
    ``create``, make the missing folders, else a missing file is :class:`NoLibrary`.

    The SQLite header is read once per file and process (see :data:`_HEADERS_READ`);
    ``reread`` reads it again (before moving a file aside, when no connection is open).
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if not create:
            raise NoLibrary(f"no library at {path} (nothing was scanned into it: "
                            "'genre-desktop-cli library scan FOLDER' makes one)", path) from None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise NotALibrary(f"{path}: a file is where its folder should be; nothing was changed", path) from None
        except OSError as exc:
            raise library_error(exc, path) from exc
        return
    except NotADirectoryError:
        raise NotALibrary(f"{path}: a file is where its folder should be; nothing was changed", path) from None
    except OSError as exc:
        raise library_error(exc, path) from exc
    if stat.S_ISDIR(info.st_mode):
        raise NotALibrary(f"{path} is a folder, not a library database (--library names the database file, "
                          f"e.g. {Path(path) / 'library.sqlite3'}); nothing was changed", path)
    if not stat.S_ISREG(info.st_mode):
        raise NotALibrary(f"{path} is not a library database (not a regular file); nothing was changed", path)
    if info.st_size == 0:
        return  # SQLite's empty database
    inode = (info.st_dev, info.st_ino)
    if inode in _HEADERS_READ and not reread:
        return
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        try:
            head = os.read(fd, len(SQLITE_MAGIC))
        finally:
            os.close(fd)
    except OSError as exc:
        raise library_error(exc, path) from exc
    if head != SQLITE_MAGIC:
        hint = (f"; if it was your library, '{REPAIR_COMMAND}' moves it aside" if _db_name(path) else "")
        raise NotALibrary(f"{path} is not a library database (not an SQLite file{hint}); nothing was changed",
                          path)
    _HEADERS_READ.add(inode)


def _uri(path: Path, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"file:{quote(os.path.abspath(path))}?{query}"


def _connect(path: Path, readonly: bool, timeout: float) -> sqlite3.Connection:
    if not readonly:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        conn.row_factory = sqlite3.Row
        return conn
    conn = sqlite3.connect(_uri(path, mode="ro"), uri=True, timeout=timeout, isolation_level=None)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        wal = Path(f"{path}-wal")
        cannot_open = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF == _CANTOPEN or "unable to open" in str(exc)
        if not cannot_open or (wal.exists() and wal.stat().st_size > 0):
            raise
        # a WAL library in a read-only folder without its -shm: nothing is in a WAL, so
        # the file alone is the whole library
        conn.close()
        conn = sqlite3.connect(_uri(path, mode="ro", immutable="1"), uri=True, timeout=timeout,
                               isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


def open_library(path: Path, schema: str, version: int, *, readonly: bool = False, create: bool = True,
                 timeout: float = DEFAULT_TIMEOUT) -> sqlite3.Connection:
    """A connection to the library at ``path`` (schema ``version``, made with ``schema``
    when new), or the :class:`LibraryError` that says why not.

    ``readonly`` opens it read-only (``mode=ro``; for commands that only read: they work
    on read-only files and folders, and never create anything); otherwise a missing
    library is created when ``create``. Another program's write transaction is waited for
    ``timeout`` seconds. A library that is new enough needs no write to open.

    An existing file is first looked at through a read-only connection (another
    program's database, a newer schema, ``quick_check``); that connection stays open
    until the writable one is ready, so a writable one closed on a failure is never the
    last (the last close of a WAL database checkpoints it and deletes its ``-wal``).
    """
    path = Path(path)
    check_path(path, create and not readonly)
    exists = path.exists() and path.stat().st_size > 0
    if not readonly and path.exists() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        raise LibraryReadOnly(f"the library {path} is read-only (its file or folder cannot be written): this "
                              "command changes it (show, export, playlists and history can read it)", path)
    if readonly and not exists:
        raise NoLibrary(f"no library at {path} yet (the file is empty; "
                        "'genre-desktop-cli library scan FOLDER' fills it)", path)
    inspector = None
    try:
        try:
            found, tables = 0, set()
            if exists:
                try:
                    inspector = _connect(path, True, timeout)
                except sqlite3.OperationalError as exc:
                    if not _hot_journal(exc, path):
                        raise
                    inspector = _connect(path, False, timeout)  # only a writer rolls a hot journal back
                found, tables = _identify(inspector, path, version)
            if readonly:
                conn, inspector = inspector, None
                _finish_readonly(conn, path, tables)
                _header_known(path)
                return conn
            conn = _connect(path, False, timeout)
            try:
                _prepare(conn, schema, version, found, tables)
            except BaseException:
                conn.close()
                raise
            _header_known(path)
            return conn
        finally:
            if inspector is not None:
                inspector.close()
    except sqlite3.Error as exc:
        raise library_error(exc, path, timeout) from exc


def _header_known(path: Path) -> None:
    """Count a library this process has connected to as read (SQLite wrote or read its
    header), so that :func:`check_path` never opens it again (:data:`_HEADERS_READ`)."""
    try:
        info = os.stat(path)
    except OSError:
        return
    _HEADERS_READ.add((info.st_dev, info.st_ino))


def _hot_journal(exc: sqlite3.Error, path: Path) -> bool:
    """Whether a read-only connection failed only because a writer died mid-transaction
    in rollback-journal mode (``-journal`` left), which a writable connection undoes."""
    code = getattr(exc, "sqlite_errorcode", None)
    return (isinstance(code, int) and code & 0xFF == _READONLY and Path(f"{path}-journal").exists()
            and os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


def _identify(conn: sqlite3.Connection, path: Path, version: Optional[int]) -> tuple[int, set]:
    """(schema version, tables) of a library, or :class:`NotALibrary`,
    :class:`LibraryTooNew` (above ``version``) or :class:`LibraryDamaged`."""
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables and not tables & LIBRARY_TABLES:
        raise NotALibrary(f"{path} is another program's database, not a library; nothing was changed", path)
    if version is not None and found > version:
        raise LibraryTooNew(f"the library {path} was written by a newer version of Genre Desktop (schema "
                            f"{found}; this version reads schema {version} and older): it was left untouched; "
                            f"update Genre Desktop to use it", path, needed=found)
    if path.stat().st_size <= QUICK_CHECK_MAX_BYTES:
        verdict = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        if verdict != "ok":
            raise damaged_error(path, f"quick_check: {verdict}")
    return found, tables


def _finish_readonly(conn: sqlite3.Connection, path: Path, tables: set) -> None:
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA query_only=1")
    if not LIBRARY_TABLES <= tables:
        raise NoLibrary(f"no library at {path} yet (the file holds no library; "
                        "'genre-desktop-cli library scan FOLDER' makes one)", path)


def _prepare(conn: sqlite3.Connection, schema: str, version: int, found: int, tables: set) -> None:
    conn.execute("PRAGMA foreign_keys=ON")
    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    if found < version or not LIBRARY_TABLES <= tables:
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{schema}\nPRAGMA user_version={int(version)};\nCOMMIT;")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def diagnose(path: os.PathLike | str, version: Optional[int] = None,
             timeout: float = DEFAULT_TIMEOUT) -> Optional[str]:
    """What is wrong inside the library at ``path`` (``PRAGMA quick_check``, through a
    read-only connection), or None when it is sound. Raises the :class:`LibraryError` of
    any other trouble (not a library, newer than ``version``, locked, ...)."""
    path = Path(path)
    try:
        check_path(path, create=False, reread=True)  # before moving it aside: its header as it is now
    except NotALibrary as exc:  # the header overwritten: a library by its name, damaged past opening
        if _db_name(path) and "not an SQLite file" in str(exc) and path.is_file():
            return "not an SQLite file any more (its header is gone)"
        raise
    conn = None
    try:
        conn = _connect(path, True, timeout)
        _identify(conn, path, version)
        rows = conn.execute("PRAGMA quick_check(20)").fetchall()
        problems = [row[0] for row in rows if row[0] != "ok"]
        return "; ".join(problems) if problems else None
    except LibraryDamaged as exc:
        return str(exc)
    except sqlite3.Error as exc:
        error = library_error(exc, path, timeout)
        if isinstance(error, LibraryDamaged):
            return _one_line(exc)
        raise error from exc
    finally:
        if conn is not None:
            conn.close()


def repair_library(path: os.PathLike | str, version: Optional[int] = None,
                   timeout: float = DEFAULT_TIMEOUT) -> Optional[Path]:
    """Move a damaged library aside (``NAME.damaged-TIME``, its ``-wal`` and ``-shm`` as
    ``NAME.damaged-TIME-wal`` / ``-shm``, nothing deleted) so the next open starts an
    empty one. Returns where it went, or None when the library is sound (then nothing is
    done). A library in use by another program is not moved (:class:`LibraryLocked`);
    folders, songs, other programs' databases, newer libraries and missing paths are
    refused as at opening."""
    path = Path(path)
    problem = diagnose(path, version, timeout)
    if problem is None:
        return None
    _refuse_if_in_use(path, timeout)
    aside = path.with_name(f"{path.name}.damaged-{_dt.datetime.now():%Y%m%d-%H%M%S}")
    n = 1
    while aside.exists() or Path(f"{aside}-wal").exists():
        aside = aside.with_name(f"{aside.name.split('~')[0]}~{n}")
        n += 1
    os.rename(path, aside)
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            os.rename(side, f"{aside}{suffix}")
    log.warning("the damaged library %s (%s) was moved to %s", path, problem, aside)
    return aside


def _refuse_if_in_use(path: Path, timeout: float) -> None:
    """:class:`LibraryLocked` when another program holds a write transaction. A read-only
    connection stays open meanwhile, so closing the probe is never the last close (which
    would checkpoint the WAL and delete it)."""
    keeper = sqlite3.connect(_uri(path, mode="ro"), uri=True, timeout=timeout)
    try:
        try:
            keeper.execute("PRAGMA user_version").fetchone()
        except sqlite3.Error:
            pass
        probe = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
        except sqlite3.Error as exc:
            error = library_error(exc, path, timeout)
            if not isinstance(error, LibraryDamaged):
                raise error from exc
        finally:
            probe.close()
    finally:
        keeper.close()
