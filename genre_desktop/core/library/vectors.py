"""What the library keeps of each analysis besides the verdict: the file's mean embedding
(for "more like this", :mod:`.similar`) and its sound tags' probabilities (moods, styles,
decades: :mod:`.moods`).

Stored per (file, model key) in the ``vectors`` table: the embedding L2-normalised as
little-endian float32 (float16 would round near neighbours into ties with a copy), the tag
probabilities as float16 in the order of the model's tag names, kept once per model key in
``model_tags``.
A result stored with no embedding (a silent file, an error) has a row with NULL, so the
next scan knows it was analysed by a version that keeps vectors.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import sqlite3
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from genre_desktop.core.safe_files import atomic_write_bytes
from genre_desktop.core.errors import GenreDesktopError

log = logging.getLogger(__name__)

#: rows read from SQLite per chunk when streaming the embeddings
CHUNK_ROWS = 4096


class NoVectors(GenreDesktopError, LookupError):
    """The library keeps no embeddings of this model yet (an older library, or files
    analysed before this version): a rescan fills them."""


def save_vectors(conn: sqlite3.Connection, file_id: int, model_key: str, record: dict) -> None:
    """Store (or clear, for an error) the vectors of one result record
    (:func:`.analyse.result_record`). Runs inside the caller's transaction."""
    if record.get("error"):
        conn.execute("DELETE FROM vectors WHERE file_id = ? AND model_key = ?", (file_id, model_key))
        return
    emb = record.get("embedding")
    blob = None
    if emb:
        vec = np.frombuffer(emb, "<f4")
        if vec.size and np.isfinite(vec).all():
            blob = vec.astype("<f4").tobytes()
    pairs = record.get("tag_probs") or []
    probs = None
    if pairs:
        names = [str(tag) for tag, _ in pairs]
        _keep_names(conn, model_key, names)
        probs = np.clip(np.asarray([float(p) for _, p in pairs], np.float32), 0, 1).astype("<f2").tobytes()
    conn.execute("INSERT OR REPLACE INTO vectors (file_id, model_key, embedding, tag_probs) VALUES (?, ?, ?, ?)",
                 (file_id, model_key, blob, probs))


def _keep_names(conn: sqlite3.Connection, model_key: str, names: list[str]) -> None:
    found = conn.execute("SELECT names FROM model_tags WHERE model_key = ?", (model_key,)).fetchone()
    if found is None or json.loads(found[0]) != names:
        conn.execute("INSERT OR REPLACE INTO model_tags (model_key, names) VALUES (?, ?)",
                     (model_key, json.dumps(names)))


def _missing_table(exc: sqlite3.Error) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "no such table" in str(exc)


def embedding_of(conn: sqlite3.Connection, file_id: int, model_key: str) -> Optional[np.ndarray]:
    """One file's stored embedding (float32, unit length), or None."""
    try:
        row = conn.execute("SELECT embedding FROM vectors WHERE file_id = ? AND model_key = ?",
                           (file_id, model_key)).fetchone()
    except sqlite3.Error as exc:
        if _missing_table(exc):
            return None
        raise
    return None if row is None or row[0] is None else np.frombuffer(row[0], "<f4").astype(np.float32)


def iter_embeddings(conn: sqlite3.Connection, model_key: str,
                    chunk: int = CHUNK_ROWS) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(file ids (n,), embeddings (n, d) float32) of every file with one, ``chunk`` rows
    at a time; rows of another length than the first are skipped (a model cannot change
    its width under one key, but a damaged row must not stop the answer).

    Raises
    ------
    NoVectors
        The library has no ``vectors`` table (a schema-1 library opened read-only).
    """
    try:
        cursor = conn.execute(  # music only: a speech recording or silence is never "more like this"
            "SELECT v.file_id, v.embedding FROM vectors v JOIN results r ON r.file_id = v.file_id"
            " AND r.model_key = v.model_key WHERE v.model_key = ? AND v.embedding IS NOT NULL"
            " AND (r.verdict IS NULL OR r.verdict NOT IN ('not_music', 'silence'))", (model_key,))
    except sqlite3.Error as exc:
        if _missing_table(exc):
            raise NoVectors("this library keeps no embeddings yet: rescan to enable") from None
        raise
    width = None
    while True:
        rows = cursor.fetchmany(chunk)
        if not rows:
            return
        if width is None:
            width = len(rows[0][1])
        rows = [r for r in rows if len(r[1]) == width]
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        data = np.frombuffer(b"".join(r[1] for r in rows), "<f4").reshape(len(rows), width // 4)
        yield ids, data.astype(np.float32)


def tag_names(conn: sqlite3.Connection, model_key: str) -> list[str]:
    """The model's tag names, in the order the stored probabilities follow ([] if none)."""
    try:
        row = conn.execute("SELECT names FROM model_tags WHERE model_key = ?", (model_key,)).fetchone()
    except sqlite3.Error as exc:
        if _missing_table(exc):
            return []
        raise
    return json.loads(row[0]) if row is not None else []


def tag_probs_of(conn: sqlite3.Connection, file_id: int, model_key: str) -> dict:
    """One file's tag -> probability ({} when none is stored)."""
    names = tag_names(conn, model_key)
    try:
        row = conn.execute("SELECT tag_probs FROM vectors WHERE file_id = ? AND model_key = ?",
                           (file_id, model_key)).fetchone()
    except sqlite3.Error as exc:
        if _missing_table(exc):
            return {}
        raise
    if row is None or row[0] is None or not names:
        return {}
    probs = np.frombuffer(row[0], "<f2").astype(np.float32)
    return dict(zip(names, map(float, probs))) if len(probs) == len(names) else {}


def _stamp(conn: sqlite3.Connection, model_key: str) -> list[int]:
    """What identifies the stored vectors of a model: an INSERT OR REPLACE gives a row a
    new, larger rowid, and a deletion changes the count or the sum; and which files are
    left out as not music (their rowids' sum). Read from the indexes (no blob is touched)."""
    try:
        row = conn.execute("SELECT COUNT(*), COALESCE(MAX(rowid), 0), COALESCE(SUM(rowid), 0),"
                           " (SELECT COALESCE(SUM(rowid), 0) FROM results WHERE model_key = ?"
                           " AND verdict IN ('not_music', 'silence'))"
                           " FROM vectors WHERE model_key = ?", (model_key, model_key)).fetchone()
    except sqlite3.Error as exc:
        if _missing_table(exc):
            raise NoVectors("this library keeps no embeddings yet: rescan to enable") from None
        raise
    return [int(v) for v in row]


def _cached(folder: Path, prefix: str, stamp: list[int]) -> Optional[tuple[np.ndarray, np.ndarray]]:
    ids_path, matrix_path = (folder / f"{prefix}-{'-'.join(map(str, stamp))}.{k}.npy" for k in ("ids", "matrix"))
    try:
        ids = np.load(ids_path, allow_pickle=False)
        matrix = np.load(matrix_path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        log.debug("no usable vector cache %s: %s", matrix_path, exc)
        return None
    if ids.dtype != np.int64 or ids.ndim != 1 or matrix.dtype != np.float32 or matrix.ndim != 2 \
            or len(ids) != len(matrix):
        return None
    return ids, matrix


def _keep_cache(folder: Path, prefix: str, stamp: list[int], ids: np.ndarray, matrix: np.ndarray) -> None:
    """Write the two files of a stamp (each atomically; a stamp's files never change, so
    a pair is always consistent) and remove the library's older ones."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{prefix}-{'-'.join(map(str, stamp))}"
        for kind, array in (("matrix", matrix), ("ids", ids)):
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            atomic_write_bytes(folder / f"{name}.{kind}.npy", buffer.getvalue())
        for old in folder.glob(f"{prefix}-*.npy"):
            if not old.name.startswith(name + "."):
                old.unlink(missing_ok=True)
    except OSError as exc:
        log.info("vector cache not written (%s): answers stay correct, only slower", exc)


def load_matrix(conn: sqlite3.Connection, model_key: str, library: str,
                cache_folder: Optional[Path] = None) -> tuple[np.ndarray, np.ndarray]:
    """(file ids, embeddings (n, d) float32) of every file of the model with one.

    With ``cache_folder``, the matrix is kept there as ``.npy`` files named after the
    library, the model and :func:`_stamp`, and mapped back while the library's vectors
    are unchanged: a question costs one index-only SQL aggregate and a memory map instead
    of thousands of rows. A cache that cannot be written or read is only a slower answer.
    """
    stamp = _stamp(conn, model_key)
    folder = Path(cache_folder) if cache_folder is not None else None
    # "vectors2": music only (speech and silence left out since version 2 of the cache)
    prefix = "vectors2-" + hashlib.blake2b(f"{library}\0{model_key}".encode("utf-8", "surrogateescape"),
                                          digest_size=12).hexdigest()
    if folder is not None:
        found = _cached(folder, prefix, stamp)
        if found is not None:
            return found
    chunks = list(iter_embeddings(conn, model_key))
    if chunks:
        ids = np.concatenate([c[0] for c in chunks])
        matrix = np.ascontiguousarray(np.concatenate([c[1] for c in chunks]))
    else:
        ids, matrix = np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    if folder is not None:
        _keep_cache(folder, prefix, stamp, ids, matrix)
    return ids, matrix
