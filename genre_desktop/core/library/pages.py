"""The library a page at a time: sorting, filtering, searching and counting in SQL.

The Library tab shows 100,000 tracks without loading them: the order of the rows it shows
is one query returning file ids (:func:`ordered_ids`), the rows themselves are read only
for the ids on screen (:func:`rows_for_ids`), and the per-genre counts are a ``GROUP BY``
(:func:`group_counts`). The rules are those of :mod:`.listing` (the same filters, the same
:func:`~.listing.fold` for searching and for sorting, so "Élégie" sorts among the Es).

Folded text cannot be computed by SQLite itself, so each file's sort keys and search text
live in a table of their own, ``file_keys``, with an index per sortable column; it is
brought up to date by :func:`sync_keys` (a file whose path, size or time changed since
its keys were made gets new ones; a scan changes them), so no writer has to know of it.
"""
from __future__ import annotations

import os
import sqlite3
from array import array
from collections import Counter
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import Iterable, Iterator, Optional

from genre_desktop.core.engine.classify.verdicts import column_text
from genre_desktop.core.library.albums import album_key
from genre_desktop.core.library.database import FileRow, LibraryDatabase
from genre_desktop.core.library.file_row import display_path, loads, path_key
from genre_desktop.core.library.listing import fold

#: the Library table's columns (the sortable ones, by index)
COLUMNS = ("Track", "Artist", "Album", "Genre tag", "Proposed", "Verdict", "Confidence", "Duration")
CHUNK = 500  # ids per ``IN (...)`` query

_KEYS_SCHEMA = """
CREATE TABLE IF NOT EXISTS file_keys (
    file_id INTEGER PRIMARY KEY, path BLOB, size INTEGER, mtime_ns INTEGER,
    track TEXT, artist TEXT, album TEXT, tag TEXT, tagged INTEGER, duration REAL, search TEXT
);
CREATE INDEX IF NOT EXISTS file_keys_track ON file_keys (track);
CREATE INDEX IF NOT EXISTS file_keys_artist ON file_keys (artist);
CREATE INDEX IF NOT EXISTS file_keys_album ON file_keys (album);
CREATE INDEX IF NOT EXISTS file_keys_tag ON file_keys (tag);
CREATE INDEX IF NOT EXISTS file_keys_duration ON file_keys (duration);
CREATE INDEX IF NOT EXISTS results_model_counts ON results (model_key, verdict, genre, error);
CREATE INDEX IF NOT EXISTS results_cells ON results (model_key, file_id, verdict, genre, error, confidence);
CREATE TRIGGER IF NOT EXISTS file_keys_forget AFTER DELETE ON files BEGIN
    DELETE FROM file_keys WHERE file_id = old.id;
END;
"""
_STALE = ("SELECT f.id, f.path, f.size, f.mtime_ns, f.artist, f.title, f.album, f.genre_tag, f.duration"
          " FROM files f LEFT JOIN file_keys k ON k.file_id = f.id WHERE k.file_id IS NULL"
          " OR k.path IS NOT f.path OR k.size IS NOT f.size OR k.mtime_ns IS NOT f.mtime_ns")
_FROM = " FROM file_keys k LEFT JOIN results r{} ON r.file_id = k.file_id AND r.model_key = ?"


def _from(conn: sqlite3.Connection) -> str:
    """The files and their results, read through the small covering index of the results'
    cells when it is there (not through the rows, which hold whole timelines)."""
    have = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'results_cells'").fetchone() is not None
    return _FROM.format(" INDEXED BY results_cells" if have else "")


def sort_key(text: str) -> str:
    """How a column's text sorts: folded first (accents and case ignored, so "Élégie" is
    among the Es), then the case-folded text (accents break ties)."""
    return f"{fold(text)}\0{text.casefold()}"


def verdict_text(verdict: Optional[str], genre: Optional[str], error: Optional[str]) -> str:
    """The Verdict column: the genre, "rock? (not sure)", "not analysed", "error", ...
    (:func:`~genre_desktop.core.engine.classify.verdicts.column_text`)."""
    return column_text(verdict, genre, error)


def _conn(db: LibraryDatabase) -> sqlite3.Connection:
    return db._conn


def keys_of(path: bytes, artist, title, album, genre_tag, duration) -> tuple:
    """(track, artist, album, tag, tagged, duration, search) keys of one ``files`` row."""
    shown = display_path(path)
    tags = loads(genre_tag) or []
    search = fold(" ".join(str(v) for v in (shown, artist, title, album, *tags) if v))
    return (sort_key(title or shown.rsplit("/", 1)[-1]), sort_key(artist or ""), sort_key(album or ""),
            sort_key("; ".join(tags)), int(bool(tags)), duration or 0.0, search)


def sync_keys(db: LibraryDatabase, prune: bool = False) -> int:
    """Make the sort keys of every file that has none or whose file changed since; with
    ``prune`` (and when the table is new), forget those of files no longer in the library
    (a trigger does it as files are removed). Returns how many were made."""
    conn = _conn(db)
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'results_cells'").fetchone() is None:
        prune = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'file_keys'").fetchone() is None or prune
        conn.executescript(_KEYS_SCHEMA)
    stale = conn.execute(_STALE).fetchall()
    if not stale and not prune:
        return 0
    with db.transaction():
        conn.executemany("INSERT OR REPLACE INTO file_keys VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                         [(r[0], r[1], r[2], r[3], *keys_of(r[1], r[4], r[5], r[6], r[7], r[8])) for r in stale])
        if prune:
            conn.execute("DELETE FROM file_keys WHERE file_id NOT IN (SELECT id FROM files)")
    return len(stale)


def stale_keys(db: LibraryDatabase) -> int:
    """How many files :func:`sync_keys` would make keys for (all of them, the first time)."""
    conn = _conn(db)
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'results_cells'").fetchone() is None:
        return conn.execute("SELECT COUNT(*) FROM files").fetchone()[0]
    return conn.execute(f"SELECT COUNT(*) FROM ({_STALE})").fetchone()[0]


def make_keys(db_path) -> int:
    """:func:`sync_keys` on a connection of its own (for a worker thread)."""
    with LibraryDatabase(db_path) as db:
        return sync_keys(db)


@dataclass
class Query:
    """What the table shows: one model's results, a filter of :data:`.listing.FILTERS`, a
    genre, a search text, and the order (a column of :data:`COLUMNS`).

    ``proposed`` maps (verdict, genre) to the genre the Proposed column would name (by the
    person's tag-writing options), for sorting that column."""

    model_key: Optional[str] = None
    kind: str = "all"
    genre: Optional[str] = None
    text: str = ""
    last_run: Optional[int] = None
    column: int = 0
    descending: bool = False
    proposed: dict = field(default_factory=dict)

    def unfiltered(self) -> "Query":
        return replace(self, kind="all", genre=None, text="")


def _where(conn: sqlite3.Connection, query: Query) -> tuple[str, list]:
    """The ``WHERE`` of :func:`.listing.matches` for ``query``, and its parameters."""
    parts, params = [], []
    if query.genre is not None:
        parts.append("r.genre = ?")
        params.append(query.genre)
    kind = query.kind
    if kind == "unsure":
        parts.append("r.verdict = 'unsure'")
    elif kind == "untagged":
        parts.append("k.tagged = 0")
    elif kind == "changed":
        parts.append("k.file_id IN (SELECT id FROM files WHERE changed_run = ?)" if query.last_run is not None else "0")
        params += [query.last_run] if query.last_run is not None else []
    elif kind == "unanalysed":
        parts.append("r.verdict IS NULL AND r.error IS NULL")
    elif kind == "errors":
        parts.append("r.error IS NOT NULL")
    words = fold(query.text).split() if query.text else []
    if words:  # a word is in the file's own text or in its result's genre
        genres = [g for (g,) in conn.execute("SELECT DISTINCT genre FROM results WHERE model_key = ?"
                                             " AND genre IS NOT NULL", (query.model_key or "",))]
        for word in words:
            named = [g for g in genres if word in fold(g)]
            parts.append(f"(instr(k.search, ?) > 0 OR r.genre IN ({','.join('?' * len(named))}))")
            params += [word, *named]
    return (" WHERE " + " AND ".join(parts) if parts else ""), params


def _combos(conn: sqlite3.Connection, model_key: Optional[str]) -> list[tuple]:
    return [(v, g) for v, g in conn.execute("SELECT DISTINCT verdict, genre FROM results WHERE model_key = ?"
                                             " AND verdict IS NOT NULL", (model_key or "",))]


def _order(conn: sqlite3.Connection, query: Query) -> tuple[str, list]:
    """The ``ORDER BY`` expression of ``query.column`` (ties by file id), and its parameters."""
    if query.column in (0, 1, 2, 3):
        return ("k.track", "k.artist", "k.album", "k.tag")[query.column], []
    if query.column == 6:
        return "COALESCE(r.confidence, -1.0)", []
    if query.column == 7:
        return "k.duration", []
    # Verdict / Proposed: the few (verdict, genre) pairs ranked in Python, a CASE in SQL
    combos = _combos(conn, query.model_key)
    if query.column == 5:
        texts = {c: verdict_text(c[0], c[1], None) for c in combos}
        texts[("error",)], texts[("none",)] = "error", "not analysed"
    else:
        texts = {c: query.proposed.get(c, "") for c in combos}
        texts[("error",)] = texts[("none",)] = ""
    order = {k: n for n, k in enumerate(sorted({sort_key(t) for t in texts.values()}))}
    rank = {c: order[sort_key(t)] for c, t in texts.items()}  # equal texts rank equal (ties by id)
    sql, params = "CASE WHEN r.error IS NOT NULL THEN ? WHEN r.verdict IS NULL THEN ?", [rank[("error",)], rank[("none",)]]
    for (verdict, genre), n in ((c, n) for c, n in rank.items() if len(c) == 2):
        sql += " WHEN r.verdict = ? AND r.genre IS ? THEN ?"
        params += [verdict, genre, n]
    return sql + " ELSE -1 END", params


def ordered_ids(db: LibraryDatabase, query: Query) -> array:
    """The file ids ``query`` shows, in its order (ties by id; descending is the exact
    reverse of ascending)."""
    conn = _conn(db)
    where, params = _where(conn, query)
    order, order_params = _order(conn, query)
    cursor = conn.cursor()
    cursor.row_factory = None  # plain tuples, read into the array in C
    cursor.execute(f"SELECT k.file_id{_from(conn)}{where} ORDER BY {order}, k.file_id",
                   [query.model_key or "", *params, *order_params])
    ids = array("q", chain.from_iterable(cursor.fetchall()))
    if query.descending:
        ids.reverse()
    return ids


def group_counts(db: LibraryDatabase, query: Query) -> tuple[Counter, int, int]:
    """(:func:`.listing.genre_counts` of the rows ``query`` shows, how many it shows, how
    many of those have a result or an error)."""
    conn = _conn(db)
    where, params = _where(conn, query)
    counts: Counter = Counter()
    total = done = 0
    if not where:  # the whole library: the results' index, and the files counted apart
        groups = conn.execute("SELECT verdict, genre, error IS NOT NULL, COUNT(*) FROM results WHERE model_key = ?"
                              " GROUP BY verdict, genre, error IS NOT NULL", (query.model_key or "",)).fetchall()
        total = conn.execute("SELECT COUNT(*) FROM file_keys").fetchone()[0] - sum(g[3] for g in groups)
    else:
        groups = conn.execute(f"SELECT r.verdict, r.genre, r.error IS NOT NULL, COUNT(*){_from(conn)}{where}"
                              " GROUP BY r.verdict, r.genre, r.error IS NOT NULL", [query.model_key or "", *params])
    for verdict, genre, error, n in groups:
        total += n
        if verdict == "genre" and genre:
            counts[genre] += n
        elif verdict:
            counts[f"({verdict})"] += n
        elif error:
            counts["(error)"] += n
        done += n if (verdict is not None or error) else 0
    return counts, total, done


def rows_for_ids(db: LibraryDatabase, model_key: Optional[str], ids: Iterable[int]) -> list[FileRow]:
    """The rows of ``ids``, in their order (ids no longer in the library left out)."""
    ids, out = list(ids), []
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i:i + CHUNK]
        found = {r.id: r for r in db.select_rows(f" WHERE f.id IN ({','.join('?' * len(chunk))})",
                                                 (model_key, *chunk))}
        out += [found[i] for i in chunk if i in found]
    return out


def iter_rows(db: LibraryDatabase, model_key: Optional[str], ids: Iterable[int]) -> Iterator[FileRow]:
    """:func:`rows_for_ids` a chunk at a time (memory flat in the number of ids)."""
    ids = list(ids) if not isinstance(ids, (list, array)) else ids
    for i in range(0, len(ids), CHUNK):
        yield from rows_for_ids(db, model_key, ids[i:i + CHUNK])


def ids_of_paths(db: LibraryDatabase, paths: Iterable[os.PathLike | str]) -> list[int]:
    """The file ids of these paths (those in the library)."""
    keys, conn, out = [path_key(p) for p in paths], _conn(db), []
    for i in range(0, len(keys), CHUNK):
        chunk = keys[i:i + CHUNK]
        out += [r[0] for r in conn.execute(f"SELECT id FROM files WHERE path IN ({','.join('?' * len(chunk))})",
                                           chunk)]
    return out


def album_mates(db: LibraryDatabase, model_key: Optional[str], rows: list[FileRow]) -> list[FileRow]:
    """Every row of the albums ``rows`` are in (what voting their albums needs), by path:
    the rows of their folders (an album without an album artist lies within one folder)
    and those naming the same album artist, case ignored (an album with one may span folders),
    kept when their :func:`~.albums.album_key` is one of ``rows``'."""
    wanted = {album_key(r.path, r.album, r.albumartist) for r in rows}
    found: dict = {}
    for folder in sorted({os.path.dirname(r.path) for r in rows}):
        low = path_key(folder) + b"/"
        found.update((row.id, row) for row in db.select_rows(" WHERE f.path > ? AND f.path < ?",
                                                             (model_key, low, low[:-1] + b"0"))
                     if os.path.dirname(row.path) == folder)
    for artist in sorted({r.albumartist for r in rows if r.albumartist}):  # NOCASE: ASCII case ignored
        found.update((row.id, row) for row in db.select_rows(" WHERE f.albumartist = ? COLLATE NOCASE",
                                                             (model_key, artist)))
    return sorted((row for row in found.values() if album_key(row.path, row.album, row.albumartist) in wanted),
                  key=lambda row: row.path)


def proposals_for(db_path, model_key: str, options, vocabulary, rows: list[FileRow]) -> dict:
    """file id -> its :class:`~.review.Proposal` (from the database alone), for ``rows``;
    with ``per_album`` their albums are voted over all their tracks. On a connection of
    its own (for a worker thread)."""
    from genre_desktop.core.library.review import propose

    with LibraryDatabase(db_path, readonly=True) as db:
        mates = album_mates(db, model_key, rows) if options.per_album else rows
        wanted = {row.id for row in rows}
        return {p.file_id: p for p in propose(db, model_key, options, check_files=False, vocabulary=vocabulary,
                                              rows=mates) if p.file_id in wanted}


@dataclass
class Snapshot:
    """What a refresh found, off the GUI thread: the ids shown, the counts, and which of
    the files the scan reported are in the library (their rows are read again)."""

    ids: array
    changed: list
    counts: Counter
    shown: int
    all_counts: Counter
    total: int
    done: int


def snapshot(db_path, query: Query, paths: list) -> Snapshot:
    """A refresh of ``query`` on a connection of its own (for a worker thread): keys made
    for the files a scan stored, the ids in order, the counts."""
    with LibraryDatabase(db_path) as db:
        try:
            sync_keys(db)
        except sqlite3.OperationalError:  # busy writing: the next refresh makes them
            pass
        changed = ids_of_paths(db, paths)
        ids = ordered_ids(db, query)
        all_counts, total, done = group_counts(db, query.unfiltered())
        counts, shown, _ = group_counts(db, query) if query.unfiltered() != query else (all_counts, total, done)
    return Snapshot(ids, changed, counts, shown, all_counts, total, done)

