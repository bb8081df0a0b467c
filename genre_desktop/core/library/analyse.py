"""What a library worker does with one file: read its tags, fingerprint and classify it.

Runs in worker processes (local, spawned) or on Dask workers; returns plain, picklable
records and never touches the database (the client alone writes it). torch is imported
only once the thread policy is set (:func:`prepare_process`), so one worker process uses
one thread for the network, waiting passively.
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

from genre_desktop.core.engine.audio.decode import AudioDecodeError
from genre_desktop.core.engine.classify.result import result_record
from genre_desktop.core.errors import BundleError
from genre_desktop.core.safe_files import fault_point
from genre_desktop.core.engine.network.threads import set_thread_policy
from genre_desktop.core.library.tags import TagError, audio_digest, new_audio_digest, read_tags

log = logging.getLogger(__name__)

TOP_K = 3
_LOADED: dict = {}  # model key -> Classifier, one per worker process, loaded on first use


@dataclass(frozen=True)
class ModelRef:
    """Which model a batch runs, in a form a worker on another machine can load.

    ``key`` names the exact files (name, version and a digest of their bytes): results are
    stored per key, so two models, or two trainings under one name, never mix. ``digest``
    is the whole :func:`~genre_desktop.core.engine.models.bundle.bundle_digest`: a worker loads
    only a model whose files have it. ``files`` (name -> bytes) travels to workers that
    cannot see ``folder``.
    """

    key: str
    name: str
    folder: str
    files: Optional[dict] = field(default=None, repr=False, compare=False)
    digest: str = field(default="", compare=False)

    @classmethod
    def of(cls, folder: os.PathLike | str) -> "ModelRef":
        """The reference of a bundle folder (reads its files to digest them)."""
        from genre_desktop.core.engine.models.bundle import bundle_digest, read_meta

        folder = Path(folder)
        meta = read_meta(folder)
        digest = bundle_digest(folder)
        name = str(meta.get("name", folder.name))
        return cls(key=f"{name}@{meta.get('version', '?')}#{digest[:12]}", name=name, folder=str(folder),
                   digest=digest)

    def portable(self) -> "ModelRef":
        """The same reference carrying its files, for workers on other machines."""
        from genre_desktop.core.engine.models.bundle import model_files

        return replace(self, files={p.name: p.read_bytes() for p in model_files(Path(self.folder))})

    def matches(self, digest: str) -> bool:
        """Whether a bundle of this ``digest`` is the model this reference names."""
        want = self.digest or self.key.rpartition("#")[2]
        return bool(want) and len(want) >= 12 and digest.startswith(want)


def tune_allocator() -> None:
    """Let glibc keep freed memory for reuse instead of returning every large block.

    Dask starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which also pins the
    mmap threshold at 128 kB: each block of decoded audio and each batch of slices is then
    mapped and unmapped afresh, and a track took 0.28 s instead of 0.13 s (measured,
    benchmarks/bench_library.py). Fixed thresholds (32 MB mmap, 64 MB trim) give ~0.11 s
    in any worker. A no-op off glibc.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = getattr(libc, "mallopt", None)
    except OSError:
        mallopt = None
    if mallopt is not None:
        mallopt(-3, 32 * 1024 * 1024)  # M_MMAP_THRESHOLD
        mallopt(-1, 64 * 1024 * 1024)  # M_TRIM_THRESHOLD


def prepare_process(threads: int = 1) -> None:
    """Thread policy for a worker, before torch loads (:func:`threads.set_thread_policy`:
    passive waiting, ``threads`` threads; numpy's BLAS thread count comes with the
    environment of the process that spawned it); and an allocator that reuses memory
    (:func:`tune_allocator`)."""
    tune_allocator()
    set_thread_policy(threads)
    if "torch" in sys.modules:  # a Dask worker that ran other work first: torch is already up
        sys.modules["torch"].set_num_threads(threads)


def _unpacked(ref: ModelRef) -> Path:
    """``ref``'s files written into a private folder made afresh for this process (never a
    folder found at a guessable name); removed when the process ends."""
    import atexit
    import shutil

    folder = Path(tempfile.mkdtemp(prefix="genre-desktop-model-"))
    atexit.register(shutil.rmtree, folder, True)
    for name, data in (ref.files or {}).items():
        if Path(name).name != name or name.startswith("."):
            raise BundleError(f"the model sent to this worker names a file {name!r}")
        (folder / name).write_bytes(data)
    return folder


def load_model(ref: ModelRef):
    """A :class:`~genre_desktop.core.engine.classify.classifier.Classifier` of exactly the model ``ref``
    names: from ``ref.folder`` when its files have ``ref``'s digest, else from the files
    ``ref`` carries, unpacked privately and checked the same way.

    Raises
    ------
    BundleError
        The model does not load, or no copy of it with ``ref``'s digest is at hand.
    """
    from genre_desktop.core.engine.models.bundle import load_bundle
    from genre_desktop.core.engine.classify.classifier import Classifier

    bundle, folder = None, Path(ref.folder)
    if (folder / "model.json").is_file():
        try:
            bundle = load_bundle(folder, network=False)
        except BundleError:
            if ref.files is None:
                raise
        if bundle is not None and not ref.matches(bundle.network_key):
            log.info("the model at %s is not %s: using the copy sent with the work", folder, ref.key)
            bundle = None
    if bundle is None:
        if ref.files is None:
            raise BundleError(f"the model {ref.key} is not at {folder} (changed or removed since the scan began)")
        bundle = load_bundle(_unpacked(ref), network=False)
        if not ref.matches(bundle.network_key):
            raise BundleError(f"the model sent to this worker is not {ref.key} (its digest differs): refused")
    return Classifier(bundle, runtime="auto")


def classifier(ref: ModelRef):
    """The worker's classifier for ``ref``, loaded once per process (:func:`load_model`)."""
    found = _LOADED.get(ref.key)
    if found is None:
        found = _LOADED[ref.key] = load_model(ref)
    return found


def _end_with_parent(parent: int) -> None:
    """A worker whose client died (killed, crashed) ends too, instead of lingering."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def init_worker(ref: ModelRef, threads: int = 1) -> None:
    """Initializer of a local worker process: thread policy, then the model."""
    logging.basicConfig(level=logging.WARNING)
    _end_with_parent(os.getppid())
    prepare_process(threads)
    classifier(ref)


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
    return {"artist": tags.artist, "title": tags.title, "album": tags.album,
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
    if ref.key not in _LOADED:
        prepare_process(1)
    return analyse_path(path, ref, expect_fingerprint, slice_step)
