"""The library database: every file the app has analysed, its results per model, and the
journal of every genre tag it wrote (so any batch of writes can be undone).

One SQLite file (standard library ``sqlite3``, WAL, ``synchronous=FULL``) in the user data
folder; ``GENRE_DESKTOP_LIBRARY`` names another (tests, a second library). Paths are kept
as the bytes the file system gave, so any file name works. A results row belongs to one
(file, model key) pair: the model key changes whenever a model's files change, so answers
of two models (or two trainings of one name) never mix.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import sqlite3
from pathlib import Path
from typing import Iterable, Iterator, Optional

from genre_desktop.core.paths import library_path
from genre_desktop.core.library.db_open import DEFAULT_TIMEOUT, LibraryError, library_error, open_library
from genre_desktop.core.library.db_open import repair_library as _repair
from genre_desktop.core.library import run_locks
from genre_desktop.core.library.file_row import (JSON_COLUMNS, RESULT_COLUMNS, FileRow, display_path, path_key,
                                                 path_text, row_of, select_rows)

__all__ = ["FileRow", "LibraryDatabase", "SCHEMA_VERSION", "display_path", "path_key", "path_text",
           "repair_library"]

log = logging.getLogger(__name__)

#: 2: vectors and model_tags; 3: files.albumartist (each additive: an older library gains them when opened
#: writable, and one newer than this is refused, never changed)
SCHEMA_VERSION = 3
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    path BLOB NOT NULL UNIQUE,
    size INTEGER, mtime_ns INTEGER, fingerprint TEXT, duration REAL,
    artist TEXT, title TEXT, album TEXT, genre_tag TEXT,
    added_at TEXT, changed_run INTEGER,
    albumartist TEXT  -- "" when the tags were read and name none; NULL when not read yet (before schema 3)
);
CREATE INDEX IF NOT EXISTS files_fingerprint ON files (fingerprint);
CREATE INDEX IF NOT EXISTS files_size_time ON files (size, mtime_ns);
CREATE TABLE IF NOT EXISTS results (
    file_id INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    model_key TEXT NOT NULL, model_name TEXT,
    verdict TEXT, genre TEXT, closest TEXT, confidence REAL, reason TEXT,
    top TEXT, timeline TEXT, sounds_like TEXT, error TEXT, analysed_at TEXT, run_id INTEGER,
    PRIMARY KEY (file_id, model_key)
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, model_key TEXT, model_name TEXT, roots TEXT,
    started_at TEXT, finished_at TEXT, state TEXT, counts TEXT
);
CREATE TABLE IF NOT EXISTS tag_batches (
    id INTEGER PRIMARY KEY, created_at TEXT, model_key TEXT, options TEXT,
    undo_of INTEGER, undone_by INTEGER
);
CREATE TABLE IF NOT EXISTS tag_writes (
    id INTEGER PRIMARY KEY,
    batch_id INTEGER NOT NULL REFERENCES tag_batches (id),
    file_id INTEGER REFERENCES files (id) ON DELETE SET NULL,
    path BLOB NOT NULL, previous TEXT, new TEXT,
    state TEXT NOT NULL, message TEXT, at TEXT
);
CREATE INDEX IF NOT EXISTS tag_writes_batch ON tag_writes (batch_id);
CREATE TABLE IF NOT EXISTS vectors (
    file_id INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    model_key TEXT NOT NULL, embedding BLOB, tag_probs BLOB,
    PRIMARY KEY (model_key, file_id)
);
CREATE TABLE IF NOT EXISTS model_tags (model_key TEXT PRIMARY KEY, names TEXT);
"""

#: columns added to tables of an older schema when it is opened writable (``ALTER TABLE``:
#: SQLite cannot add a column "if not exists", so :func:`_add_columns` looks first)
ADDED_COLUMNS = (("files", "albumartist", "TEXT"),)  # 3: albumartist
#: indexes on added columns (made after them, so not in the schema script an older library runs first)
ADDED_INDEXES = {"files_albumartist": "CREATE INDEX IF NOT EXISTS files_albumartist ON files (albumartist COLLATE NOCASE)"}


def repair_library(path: os.PathLike | str | None = None, timeout: float = DEFAULT_TIMEOUT) -> Optional[Path]:
    """Move the library at ``path`` (default: the user's) aside if it is damaged, with its
    ``-wal`` and ``-shm`` files, so the next open starts an empty one; returns where it
    went, or None when it is sound (nothing done). For the window's "the library is
    damaged" message and ``genre-desktop-cli library repair``; see :mod:`.db_open`."""
    return _repair(path if path is not None else library_path(), SCHEMA_VERSION, timeout)


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _columns(conn: sqlite3.Connection, table: str) -> set:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _add_columns(conn: sqlite3.Connection) -> None:
    """Add the :data:`ADDED_COLUMNS` (and :data:`ADDED_INDEXES`) a library of an older
    schema lacks, in one transaction (looked at on every writable open: a library whose
    version was raised by a process killed before this ran gains them the next time)."""
    indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    if set(ADDED_INDEXES) <= indexes and all(column in _columns(conn, table) for table, column, _ in ADDED_COLUMNS):
        return
    with _Transaction(conn):
        for table, column, kind in ADDED_COLUMNS:
            if column not in _columns(conn, table):
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                log.info("library: %s.%s added (schema %s)", table, column, SCHEMA_VERSION)
        for sql in ADDED_INDEXES.values():
            conn.execute(sql)


class LibraryDatabase:
    """A connection to the library database.

    One object per thread (sqlite3 connections stay in their thread). Opening never moves
    or deletes anything: a library that cannot be used raises the
    :class:`~.db_open.LibraryError` that says why in one line (locked, read-only, disk
    full, newer version, not a library, damaged); a damaged one is moved aside only by
    :func:`~.db_open.repair_library`, on request.

    Parameters
    ----------
    path
        The database file (default: :func:`library_path`).
    readonly
        Open read-only (``mode=ro``): for what only reads; works on read-only files and
        folders, never creates anything (a missing library is :class:`~.db_open.NoLibrary`).
    create
        Create a missing library (and its folders); with False a missing one is
        :class:`~.db_open.NoLibrary`.
    timeout
        Seconds to wait for another program's write transaction before
        :class:`~.db_open.LibraryLocked`.
    """

    def __init__(self, path: os.PathLike | str | None = None, *, readonly: bool = False, create: bool = True,
                 timeout: float = DEFAULT_TIMEOUT):
        self.path = Path(path) if path is not None else library_path()
        self.readonly = readonly
        self.timeout = timeout
        self.notice: Optional[str] = None  # kept for callers of old: opening no longer moves anything
        self._conn = open_library(self.path, _SCHEMA, SCHEMA_VERSION, readonly=readonly, create=create,
                                  timeout=timeout)
        try:
            if not readonly:
                _add_columns(self._conn)
            self._present = _columns(self._conn, "files")  # an older library opened read-only lacks some
            self._rows_sql = select_rows(self._present)
        except sqlite3.Error as exc:
            self._conn.close()
            raise library_error(exc, self.path, timeout) from exc
        self._run_locks: dict[int, int] = {}  # run id -> the descriptor holding its lock
        if not readonly:
            try:
                self.close_stale_runs()
            except sqlite3.Error as exc:  # locked by another program: next time
                log.info("stale scan runs left for later: %s", exc)

    def error(self, exc: BaseException) -> LibraryError:
        """``exc`` (a ``sqlite3.Error`` met using this library) as the one-line
        :class:`~.db_open.LibraryError` to show: locked, damaged, disk full, ..."""
        return library_error(exc, self.path, self.timeout)

    def close(self) -> None:
        for run_id, fd in list(self._run_locks.items()):  # runs never finished: abandoned
            run_locks.release(self.path, run_id, fd)
        self._run_locks.clear()
        self._conn.close()

    def __enter__(self) -> "LibraryDatabase":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def transaction(self):
        """``with db.transaction():`` — one atomic commit."""
        return _Transaction(self._conn)

    @property
    def connection(self) -> sqlite3.Connection:
        """The connection, for the readers of the ``vectors`` table (:mod:`.vectors`)."""
        return self._conn

    # --- files
    def file(self, path: os.PathLike | str) -> Optional[sqlite3.Row]:
        return self._conn.execute("SELECT * FROM files WHERE path = ?", (path_key(path),)).fetchone()

    def file_by_id(self, file_id: int) -> Optional[sqlite3.Row]:
        return self._conn.execute("SELECT * FROM files WHERE id = ?", (file_id,)).fetchone()

    def files_like(self, size: int, mtime_ns: int) -> list[sqlite3.Row]:
        """Files of this size and time whose path is gone: candidates for a moved file."""
        rows = self._conn.execute("SELECT * FROM files WHERE size = ? AND mtime_ns = ?", (size, mtime_ns))
        return [row for row in rows if not os.path.exists(path_text(row["path"]))]

    def upsert_file(self, path: os.PathLike | str, *, size: int, mtime_ns: int, fingerprint: Optional[str],
                    duration: Optional[float], artist: Optional[str] = None, title: Optional[str] = None,
                    album: Optional[str] = None, genre_tag: Iterable[str] = (),
                    changed_run: Optional[int] = None, albumartist: Optional[str] = None) -> int:
        """Insert or update a file's row; returns its id. ``albumartist`` is "" for a file
        whose tags were read and name none (None: not read, so a scan reads it again)."""
        values = dict(path=path_key(path), size=size, mtime_ns=mtime_ns, fingerprint=fingerprint,
                      duration=duration, artist=artist, title=title, album=album, albumartist=albumartist,
                      genre_tag=json.dumps(list(genre_tag)), changed_run=changed_run, added_at=now())
        kept = ("path", "added_at", "changed_run")
        self._conn.execute(
            f"INSERT INTO files ({', '.join(values)}) VALUES ({', '.join(':' + n for n in values)})"
            " ON CONFLICT (path) DO UPDATE SET " + ", ".join(f"{n}=:{n}" for n in values if n not in kept)
            + ", changed_run=COALESCE(:changed_run, changed_run)", values)
        return self._conn.execute("SELECT id FROM files WHERE path = ?", (values["path"],)).fetchone()[0]

    def set_album_artists(self, found: Iterable[tuple[int, str]]) -> None:
        """Store (file id, album artist or "") pairs read from files whose rows had none
        yet (a library from before schema 3), in one transaction."""
        with self.transaction():
            self._conn.executemany("UPDATE files SET albumartist = ? WHERE id = ?",
                                   [(artist or "", file_id) for file_id, artist in found])

    def move_file(self, file_id: int, new_path: os.PathLike | str, size: int, mtime_ns: int) -> None:
        """A file found under a new path (same audio): it keeps its results. Run it inside
        a :meth:`transaction`."""
        self._conn.execute("DELETE FROM files WHERE path = ? AND id != ?", (path_key(new_path), file_id))
        self._conn.execute("UPDATE files SET path = ?, size = ?, mtime_ns = ? WHERE id = ?",
                           (path_key(new_path), size, mtime_ns, file_id))

    def update_after_write(self, file_id: int, size: int, mtime_ns: int, genre_tag: list[str]) -> None:
        """After a tag write: the file changed on disk, its audio did not."""
        self._conn.execute("UPDATE files SET size = ?, mtime_ns = ?, genre_tag = ? WHERE id = ?",
                           (size, mtime_ns, json.dumps(genre_tag), file_id))

    def paths(self) -> Iterator[bytes]:
        """Every file's stored path (bytes), streamed."""
        for (key,) in self._conn.execute("SELECT path FROM files ORDER BY path"):
            yield key

    def remove_files(self, paths: Iterable[os.PathLike | str]) -> int:
        """Forget files (their results go with them; the tag journal keeps its paths)."""
        with self.transaction():
            return sum(self._conn.execute("DELETE FROM files WHERE path = ?", (path_key(p),)).rowcount
                       for p in paths)

    # --- results
    def save_result(self, file_id: int, model_key: str, model_name: str, record: dict,
                    run_id: Optional[int] = None) -> None:
        """Store one file's result for one model (a dict from :func:`genre_desktop.core.engine.classify.result.result_record`)."""
        values = {name: record.get(name) for name in RESULT_COLUMNS}
        values.update(sounds_like=record.get("sounds_like") or [], analysed_at=now(), run_id=run_id)
        values.update((name, json.dumps(values[name])) for name in JSON_COLUMNS if name in values)
        values.update(file_id=file_id, model_key=model_key, model_name=model_name)
        self._conn.execute(f"INSERT OR REPLACE INTO results ({', '.join(values)})"
                           f" VALUES ({', '.join(':' + n for n in values)})", values)
        from genre_desktop.core.library.vectors import save_vectors
        save_vectors(self._conn, file_id, model_key, record)

    def has_result(self, file_id: int, model_key: str, include_errors: bool = True) -> bool:
        """Whether the file has a result of ``model_key`` (an error counts with
        ``include_errors``); a result stored before the library kept vectors (schema 1) does
        not, so the next scan analyses it again ("more like this" needs its embedding)."""
        row = self._conn.execute("SELECT r.error, v.file_id AS vector FROM results r LEFT JOIN vectors v ON"
                                 " v.file_id = r.file_id AND v.model_key = r.model_key"
                                 " WHERE r.file_id = ? AND r.model_key = ?", (file_id, model_key)).fetchone()
        if row is None:
            return False
        return include_errors if row["error"] is not None else row["vector"] is not None

    def rows(self, model_key: Optional[str]) -> list[FileRow]:
        """Every file with its result for ``model_key`` (None fields where it has none)."""
        return list(self.iter_rows(model_key))

    def iter_rows(self, model_key: Optional[str], by_genre: bool = False) -> Iterator[FileRow]:
        """:meth:`rows` one at a time from the cursor (memory flat in the number of rows),
        by path, or by genre then path."""
        order = " ORDER BY r.genre, f.path" if by_genre else " ORDER BY f.path"
        for row in self._conn.execute(self._rows_sql + order, (model_key or "",)):
            yield row_of(row)

    def counts(self, model_key: Optional[str]) -> tuple[int, int]:
        """(files in the library, files with a result of ``model_key``)."""
        files = self._conn.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        done = self._conn.execute("SELECT COUNT(*) FROM results WHERE model_key = ?", (model_key or "",)).fetchone()[0]
        return files, done

    def row(self, path: os.PathLike | str, model_key: Optional[str]) -> Optional[FileRow]:
        found = list(self.select_rows(" WHERE f.path = ?", (model_key, path_key(path))))
        return found[0] if found else None

    def select_rows(self, where: str, params: tuple) -> Iterator[FileRow]:
        """The rows of the files ``where`` (SQL after the rows' SELECT, on ``f`` the file
        and ``r`` its result) picks; ``params[0]`` is the model key, the rest ``where``'s."""
        for row in self._conn.execute(self._rows_sql + where, (params[0] or "", *params[1:])):
            yield row_of(row)

    def album_fields(self, model_key: Optional[str]) -> Iterator[sqlite3.Row]:
        """(id, path, artist, album, albumartist, verdict, genre, closest) of every file,
        by path: what grouping into albums needs (:mod:`.albums`), without the timelines."""
        names = ("id", "path", "artist", "album", "albumartist", "verdict", "genre", "closest")
        return self._conn.execute(select_rows(self._present, names) + " ORDER BY f.path", (model_key or "",))

    def rows_by_id(self, model_key: Optional[str], ids: Iterable[int]) -> list[FileRow]:
        """The rows of these file ids (in chunks of 500 ids), by path."""
        ids, out = list(ids), []
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            out += self.select_rows(f" WHERE f.id IN ({','.join('?' * len(chunk))})", (model_key, *chunk))
        return sorted(out, key=lambda r: r.path)

    def models(self) -> list[tuple[str, str, int]]:
        """(model key, model name, files) of every model with results, most used first."""
        return [tuple(r) for r in self._conn.execute(
            "SELECT model_key, model_name, COUNT(*) AS n FROM results GROUP BY model_key ORDER BY n DESC")]

    # --- runs
    def start_run(self, model_key: str, model_name: str, roots: list[str]) -> int:
        """Record a scan as running; this object holds its lock (:mod:`.run_locks`) until
        :meth:`finish_run`, :meth:`close` or the process's death."""
        with self.transaction():  # nobody sees the run before its lock is held
            cursor = self._conn.execute("INSERT INTO runs (model_key, model_name, roots, started_at, state)"
                                        " VALUES (?, ?, ?, ?, 'running')",
                                        (model_key, model_name, json.dumps(roots), now()))
            run_id = int(cursor.lastrowid)
            self._run_locks[run_id] = run_locks.take(self.path, run_id)
        return run_id

    def finish_run(self, run_id: int, state: str, counts: dict) -> None:
        self._conn.execute("UPDATE runs SET finished_at = ?, state = ?, counts = ? WHERE id = ?",
                           (now(), state, json.dumps(counts), run_id))
        if run_id in self._run_locks:
            run_locks.release(self.path, run_id, self._run_locks.pop(run_id))

    def close_stale_runs(self) -> list[int]:
        """Runs still recorded as "running" whose process is gone (killed, crashed: nobody
        holds their lock) are closed as "interrupted"; returns their ids."""
        running = [r[0] for r in self._conn.execute("SELECT id FROM runs WHERE state = 'running'")]
        stale = [i for i in running if i not in self._run_locks and not run_locks.is_alive(self.path, i)]
        for run_id in stale:
            self._conn.execute("UPDATE runs SET state = 'interrupted', finished_at = ? WHERE id = ? AND state = "
                               "'running'", (now(), run_id))
            log.info("scan run %s was killed before it finished: closed as interrupted", run_id)
        return stale

    def last_run(self, model_key: Optional[str] = None) -> Optional[sqlite3.Row]:
        if model_key is None:
            return self._conn.execute("SELECT * FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        return self._conn.execute("SELECT * FROM runs WHERE model_key = ? ORDER BY id DESC LIMIT 1",
                                  (model_key,)).fetchone()

    # --- the tag journal
    def start_tag_batch(self, model_key: Optional[str], options: dict, undo_of: Optional[int] = None) -> int:
        cursor = self._conn.execute("INSERT INTO tag_batches (created_at, model_key, options, undo_of)"
                                    " VALUES (?, ?, ?, ?)", (now(), model_key, json.dumps(options), undo_of))
        return int(cursor.lastrowid)

    def journal_write(self, batch_id: int, file_id: Optional[int], path: os.PathLike | str,
                      previous: list[str], new: list[str]) -> int:
        """Record a write before it happens (state ``pending``); returns the entry id."""
        cursor = self._conn.execute(
            "INSERT INTO tag_writes (batch_id, file_id, path, previous, new, state, at) VALUES (?,?,?,?,?,?,?)",
            (batch_id, file_id, path_key(path), json.dumps(previous), json.dumps(new), "pending", now()))
        return int(cursor.lastrowid)

    def mark_write(self, entry_id: int, state: str, message: Optional[str] = None) -> None:
        self._conn.execute("UPDATE tag_writes SET state = ?, message = ?, at = ? WHERE id = ?",
                           (state, message, now(), entry_id))

    def mark_undone(self, batch_id: int, by_batch: int) -> None:
        self._conn.execute("UPDATE tag_batches SET undone_by = ? WHERE id = ?", (by_batch, batch_id))

    def tag_batches(self) -> list[sqlite3.Row]:
        """Every batch of writes, newest first, with its counts of entries: ``written``
        (every file it wrote, undone later or not), ``in_place`` (written and not undone),
        ``undone``, ``failed`` and ``entries`` (all)."""
        return list(self._conn.execute(
            "SELECT b.*, COALESCE(SUM(w.state IN ('done', 'undone')), 0) AS written,"
            " COALESCE(SUM(w.state = 'done'), 0) AS in_place, COALESCE(SUM(w.state = 'undone'), 0) AS undone,"
            " COALESCE(SUM(w.state = 'failed'), 0) AS failed, COUNT(w.id) AS entries"
            " FROM tag_batches b LEFT JOIN tag_writes w ON w.batch_id = b.id GROUP BY b.id ORDER BY b.id DESC"))

    def tag_batch(self, batch_id: int) -> Optional[sqlite3.Row]:
        return self._conn.execute("SELECT * FROM tag_batches WHERE id = ?", (batch_id,)).fetchone()

    def journal(self, batch_id: int) -> list[sqlite3.Row]:
        return list(self._conn.execute("SELECT * FROM tag_writes WHERE batch_id = ? ORDER BY id", (batch_id,)))

    def pending_writes(self) -> list[sqlite3.Row]:
        return list(self._conn.execute("SELECT * FROM tag_writes WHERE state = 'pending' ORDER BY id"))


class _Transaction:
    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def __enter__(self):
        self._conn.execute("BEGIN IMMEDIATE")
        return self._conn

    def __exit__(self, kind, value, tb) -> None:
        self._conn.execute("COMMIT" if kind is None else "ROLLBACK")
