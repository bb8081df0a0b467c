"""What a library worker does with one file: read its tags, fingerprint and classify it.

Runs in worker processes (local, spawned) or on Dask workers; returns plain, picklable
records and never touches the database (the client alone writes it). Which model runs is
a :class:`~.model_ref.ModelRef`; how a worker process is set up (thread policy before
torch loads, allocator, parent watch) is :mod:`.worker_process`.
"""
from __future__ import annotations

import logging
import os
from typing import Optional

from genre_desktop.core.engine.audio.decode import AudioDecodeError
from genre_desktop.core.engine.classify.result import result_record
from genre_desktop.core.safe_files import fault_point
from genre_desktop.core.library.model_ref import ModelRef, classifier, is_loaded
from genre_desktop.core.library.worker_process import prepare_process
from genre_desktop.core.library.tags import TagError, audio_digest, new_audio_digest, read_tags

log = logging.getLogger(__name__)


def file_record(path: str, result=None, error: Optional[str] = None, fingerprint: Optional[str] = None) -> dict:
    """The record of a file analysed elsewhere (the window's track list), as a worker gives it."""
    record: dict = {"path": path, "moved": False, "fingerprint": fingerprint, "tags": None,
                    "result": result_record(result) if result is not None else {"error": error or "not analysed"}}
    try:
        stat = os.stat(path)
        record.update(size=stat.st_size, mtime_ns=stat.st_mtime_ns)
    except OSError:
        record.update(size=None, mtime_ns=None)
    record["tags"] = _tags_of(path)
    return record


def _tags_of(path: str) -> Optional[dict]:
    try:
        tags = read_tags(path)
    except TagError as exc:
        log.info("%s: %s", path, exc)
        return None
    return {"artist": tags.artist, "title": tags.title, "album": tags.album, "albumartist": tags.albumartist or "",
            "genre": tags.genre, "duration": tags.duration}


def fingerprint_of(digest, sample_rate: int) -> str:
    return f"{sample_rate}:{digest.hexdigest()}"


def audio_fingerprint(path: os.PathLike | str, sample_rate: int) -> str:
    """The library's fingerprint of a file's audio: :func:`.tags.audio_digest` at
    ``sample_rate``, the same whatever the tags or the file's name."""
    return f"{sample_rate}:{audio_digest(path, sample_rate)}"


def analyse_path(path: str, ref: ModelRef, expect_fingerprint: Optional[str] = None,
                 slice_step: int = 1) -> dict:
    """Everything the library stores about one file.

    With ``expect_fingerprint`` (the file may be one the library knew under another path),
    the audio is fingerprinted first, and when it matches the record says ``moved`` and the
    network does not run. ``slice_step`` > 1 is the batch fast path
    (:meth:`~genre_desktop.core.engine.classify.classifier.Classifier.classify_file`).

    Returns
    -------
    dict
        ``path``, ``size``, ``mtime_ns``, ``tags`` (artist, title, album, genre, or None),
        ``fingerprint``, ``moved`` and ``result`` (a :func:`result_record`, or
        ``{"error": reason}`` for a file that cannot be analysed).
    """
    record: dict = {"path": path, "moved": False, "fingerprint": None, "tags": None}
    try:
        stat = os.stat(path)
    except OSError as exc:
        record["result"] = {"error": f"cannot be read ({exc.strerror or exc})"}
        return record
    record.update(size=stat.st_size, mtime_ns=stat.st_mtime_ns)
    record["tags"] = _tags_of(path)
    fault_point(f"library-worker:{os.path.basename(path)}")  # tests: a file that kills its worker
    model = classifier(ref)
    rate = model.config.sample_rate
    try:
        if expect_fingerprint is not None and expect_fingerprint.startswith(f"{rate}:"):
            record["fingerprint"] = audio_fingerprint(path, rate)
            if record["fingerprint"] == expect_fingerprint:
                record["moved"] = True
                return record
        digest = new_audio_digest()
        result = model.classify_file(path, audio_digest=digest, slice_step=slice_step)
        record["fingerprint"] = fingerprint_of(digest, rate)
        record["result"] = result_record(result)
    except AudioDecodeError as exc:
        record["result"] = {"error": str(exc)}
    except MemoryError:
        record["result"] = {"error": "too large to analyse in this worker's memory"}
    return record


def analyse_on_worker(path: str, ref: ModelRef, expect_fingerprint: Optional[str] = None,
                      slice_step: int = 1) -> dict:
    """:func:`analyse_path` for a Dask worker (sets the thread policy on first use)."""
    if not is_loaded(ref):
        prepare_process(1)
    return analyse_path(path, ref, expect_fingerprint, slice_step)
