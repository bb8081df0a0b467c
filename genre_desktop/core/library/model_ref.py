"""Which model a library batch runs, and that model loaded once per worker process.

A :class:`ModelRef` names a bundle's exact files (name, version, digest) in a picklable
form a worker on another machine can load; :func:`classifier` is the worker's copy of it.
"""
from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

from genre_desktop.core.errors import BundleError

log = logging.getLogger(__name__)

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


def is_loaded(ref: ModelRef) -> bool:
    """Whether this process has loaded ``ref``'s model already."""
    return ref.key in _LOADED


def classifier(ref: ModelRef):
    """The worker's classifier for ``ref``, loaded once per process (:func:`load_model`)."""
    found = _LOADED.get(ref.key)
    if found is None:
        found = _LOADED[ref.key] = load_model(ref)
    return found
