""""More like this": the library's files nearest to one file, by the cosine similarity of
their mean embeddings (:mod:`.vectors`).

Brute force with numpy: the unit-length embeddings are streamed from SQLite in chunks
(:data:`.vectors.CHUNK_ROWS`) once and cached as one float32 matrix in the user's cache
folder (:func:`.vectors.load_matrix`, read again only when the library's embeddings
change); one product, and the best ``top`` kept with ``argpartition``.
:class:`SimilarityIndex` keeps the matrix in memory for repeated questions (the window). 10,000 tracks of 200 numbers are 8 MB and one product of a few
milliseconds; the cost grows linearly, so beyond about a million tracks (or for many
questions a second) an approximate index (faiss, hnswlib) would be the tool.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from genre_desktop.core.engine.classify.verdicts import WORDS
from genre_desktop.core.paths import user_data_folder
from genre_desktop.core.library.database import LibraryDatabase, path_text
from genre_desktop.core.library.vectors import NoVectors, embedding_of, load_matrix
from genre_desktop.core.errors import GenreDesktopError

log = logging.getLogger(__name__)

DEFAULT_TOP = 10


def cache_folder() -> Path:
    """Where the embedding matrices of libraries are cached (:func:`.vectors.load_matrix`)."""
    return user_data_folder() / "cache" / "similar"


def _matrix(db: LibraryDatabase, model_key: str) -> tuple[np.ndarray, np.ndarray]:
    return load_matrix(db.connection, model_key, str(db.path.resolve()), cache_folder())


class SimilarError(GenreDesktopError, ValueError):
    """Why a "more like this" question has no answer, in one line."""


@dataclass(frozen=True)
class Neighbour:
    """One answer: a file and its cosine similarity to the asked one (1 = the same sound)."""

    file_id: int
    path: str
    similarity: float

    def to_json(self) -> dict:
        return {"path": self.path, "similarity": round(self.similarity, 4)}


def query_vector(db: LibraryDatabase, path: os.PathLike | str, model_key: str) -> tuple[int, np.ndarray, set]:
    """(file id, unit embedding, ids of other files with the same audio fingerprint) of a
    file of the library, or the :class:`SimilarError` that says why not (not in the
    library, not analysed, analysed before embeddings were kept, silent)."""
    row = db.row(path, model_key)
    if row is None:
        raise SimilarError(f"{os.fspath(path)} is not in the library: scan its folder first")
    if row.verdict is None and row.error is None:
        raise SimilarError(f"{row.display} has no result of this model yet: scan it first")
    if row.error:
        raise SimilarError(f"{row.display} could not be analysed ({row.error})")
    if row.verdict == "not_music":
        raise SimilarError(f"{row.display} is {WORDS['not_music']}: 'more like this' compares music only")
    vec = embedding_of(db.connection, row.id, model_key)
    if vec is None:
        if row.verdict == "silence":
            raise SimilarError(f"{row.display} is silent: nothing sounds like it")
        raise SimilarError(f"{row.display} was analysed before the library kept embeddings: rescan to enable "
                           "'more like this'")
    same = set()
    if row.fingerprint:
        same = {r["id"] for r in db.connection.execute("SELECT id FROM files WHERE fingerprint = ? AND id != ?",
                                                       (row.fingerprint, row.id))}
    return row.id, vec, same


def _best(ids: np.ndarray, scores: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    if len(scores) > top:
        keep = np.argpartition(-scores, top - 1)[:top]
        ids, scores = ids[keep], scores[keep]
    return ids, scores


def _rank(chunks: Iterable[tuple[np.ndarray, np.ndarray]], vec: np.ndarray, exclude: int,
          top: int, same: set = frozenset()) -> list[tuple[int, float]]:
    """The ``top`` (id, cosine) best first; files with the same audio (``same``) first of
    all, at 1.0 (a copy is no near-tie with a track that merely sounds alike)."""
    best_ids, best_scores = np.zeros(0, np.int64), np.zeros(0, np.float32)
    twins = np.fromiter(same, np.int64, len(same))
    for ids, matrix in chunks:
        scores = matrix @ vec
        if len(twins):
            scores[np.isin(ids, twins)] = 2.0
        mine = ids != exclude
        ids, scores = _best(ids[mine], scores[mine], top)
        best_ids, best_scores = _best(np.concatenate([best_ids, ids]), np.concatenate([best_scores, scores]), top)
    order = np.lexsort((best_ids, -best_scores))  # best first; ties by id, so answers repeat
    return [(int(best_ids[i]), min(1.0, float(best_scores[i]))) for i in order]


def _neighbours(db: LibraryDatabase, ranked: list[tuple[int, float]]) -> list[Neighbour]:
    paths = {}
    for file_id, _ in ranked:
        found = db.file_by_id(file_id)
        if found is not None:
            paths[file_id] = path_text(found["path"])
    return [Neighbour(i, paths[i], s) for i, s in ranked if i in paths]


def similar_to(db: LibraryDatabase, path: os.PathLike | str, model_key: str,
               top: int = DEFAULT_TOP) -> list[Neighbour]:
    """The ``top`` files of the library that sound most like ``path``, best first, the
    file itself left out (a copy of it, with the same audio, comes first at 1.0).

    Raises
    ------
    SimilarError
        In one line: the file is not in the library, has no embedding (rescan), ...
    """
    if top < 1:
        raise SimilarError("--top must be at least 1")
    file_id, vec, same = query_vector(db, path, model_key)
    try:
        ranked = _rank([_matrix(db, model_key)], vec, file_id, top, same)
    except NoVectors as exc:
        raise SimilarError(str(exc)) from None
    return _neighbours(db, ranked)


class SimilarityIndex:
    """Every embedding of one model in memory, for repeated questions (the window).

    ``refresh()`` after a scan; a question about a file not in the matrix reads its
    vector from the library.
    """

    def __init__(self, db: LibraryDatabase, model_key: str):
        self.db, self.model_key = db, model_key
        self.ids = np.zeros(0, np.int64)
        self.matrix = np.zeros((0, 0), np.float32)
        self.refresh()

    def refresh(self) -> None:
        """Read the embeddings again (after a scan)."""
        try:
            self.ids, self.matrix = _matrix(self.db, self.model_key)
        except NoVectors:
            self.ids, self.matrix = np.zeros(0, np.int64), np.zeros((0, 0), np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def similar_to(self, path: os.PathLike | str, top: int = DEFAULT_TOP) -> list[Neighbour]:
        """As :func:`similar_to`, from the matrix in memory."""
        if top < 1:
            raise SimilarError("top must be at least 1")
        file_id, vec, same = query_vector(self.db, path, self.model_key)
        if not len(self.ids) or self.matrix.shape[1] != len(vec):
            return []
        return _neighbours(self.db, _rank([(self.ids, self.matrix)], vec, file_id, top, same))


def similar_rows(db: LibraryDatabase, path: os.PathLike | str, model_key: str,
                 top: int = DEFAULT_TOP) -> list:
    """The library rows (:class:`.database.FileRow`) of :func:`similar_to`'s answer, best
    first, for playlists."""
    found = similar_to(db, path, model_key, top)
    rows = {r.id: r for r in db.rows_by_id(model_key, [n.file_id for n in found])}
    return [rows[n.file_id] for n in found if n.file_id in rows]

