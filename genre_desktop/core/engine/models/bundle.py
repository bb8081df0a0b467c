"""Model bundles: a folder with ``weights.safetensors`` and ``model.json``.

Loading never executes code: weights are safetensors, metadata is JSON. A bundle whose
metadata is malformed, or whose labels do not match its weights, is refused with a
:class:`BundleError` whose message says what is wrong.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from genre_desktop.core.engine.models.bundle_meta import (DEFAULT_THRESHOLDS, FORMAT_VERSION, MAX_META_BYTES, META,
                                                         REF_KEY, BundleMeta, Calibration, validate_meta)
from genre_desktop.core.errors import BundleError
from genre_desktop.core.engine.audio.features import FeatureConfig
from genre_desktop.core.safe_files import fault_point, name_lock, new_partial, replace_folder
from genre_desktop.core.engine.models.openset import OpenSet, load_openset
from genre_desktop.core.engine.models.shared_weights import digest as tensors_digest
from genre_desktop.core.engine.models.shared_weights import shared_state
from genre_desktop.core.engine.models.shared_weights import resolve as resolve_shared

if TYPE_CHECKING:
    import torch

# torch, safetensors and the network are imported inside the functions that need them,
# so that reading metadata (menus, the model list) never pays for importing torch.

log = logging.getLogger(__name__)

WEIGHTS = "weights.safetensors"

@dataclass
class ModelBundle:
    """A loaded, ready-to-run genre model."""

    path: Path
    meta: dict
    network: Any  # the torch.nn.Module; None when loaded with network=False (see load_bundle)
    labels: list[str]
    features: FeatureConfig
    tags: list[str] = field(default_factory=list)
    openset: Any = None  # openset.OpenSet, when the bundle carries its statistics
    network_key: str = ""  # bundle_digest of its files; for one never saved, of its tensors

    def __post_init__(self) -> None:
        if not self.network_key and self.network is not None:  # a draft: no files to digest yet
            state = self.network.state_dict()
            self.network_key = "tensors:" + tensors_digest(state, state)

    def with_network(self) -> "ModelBundle":
        """This bundle with its torch network built (loaded again from its folder when it
        was loaded with ``network=False``)."""
        return self if self.network is not None else load_bundle(self.path)

    @property
    def calibration(self) -> Calibration:
        """The calibration of track confidences (``model.json``'s ``calibration``, typed)."""
        return Calibration.from_dict(self.meta.get("calibration", {}))

    @property
    def temperature(self) -> float:
        """The single calibration temperature of track confidences (1.0: none fitted)."""
        value = self.calibration.temperature
        return 1.0 if value is None else float(value)

    @property
    def name(self) -> str:
        return str(self.meta.get("name", self.path.name))

    @property
    def thresholds(self) -> dict:
        return {**DEFAULT_THRESHOLDS, **self.meta.get("thresholds", {})}

    def describe(self) -> str:
        """A few lines for people: name, labels, provenance, headline metrics."""
        lines = [f"model: {self.name}  ({self.path})",
                 f"version: {self.meta.get('version', '?')}  created: {self.meta.get('created', '?')}",
                 f"genres ({len(self.labels)}): {', '.join(self.labels)}"]
        prov = self.meta.get("provenance", {})
        for key, value in prov.items():
            lines.append(f"{key}: {len(value)} listed in model.json" if isinstance(value, list) else f"{key}: {value}")
        for key, value in self.meta.get("metrics", {}).items():
            if isinstance(value, (int, float, str)):
                lines.append(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
            elif (isinstance(value, list) and len(value) == 2  # (mean, spread) over repeated splits
                  and all(isinstance(v, float) for v in value)):
                lines.append(f"{key}: {value[0]:.3f} ± {value[1]:.3f}")
        return "\n".join(lines)


def read_meta(path: os.PathLike | str) -> dict:
    """Read and check ``model.json`` of a bundle folder without loading weights.

    Raises
    ------
    BundleError
        Whatever the folder holds: missing, unreadable, not JSON, too deep or too large,
        or not the bundle schema.
    """
    folder = Path(path)
    meta_path = folder / META
    if not folder.is_dir():
        raise BundleError(f"no model folder at {folder}")
    if not meta_path.is_file():
        raise BundleError(f"{folder} is not a model bundle (no {META})")
    try:
        if meta_path.stat().st_size > MAX_META_BYTES:
            raise BundleError(f"{META} is too large to be a model description")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except RecursionError:
        raise BundleError(f"{META} is nested too deeply to be a model description") from None
    except PermissionError:
        raise BundleError(f"{META} cannot be read (permission denied)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{META} is not valid JSON ({str(exc).splitlines()[0]})") from None
    return validate_meta(meta)


def model_files(folder: Path) -> list[Path]:
    """What a bundle is made of: ``model.json`` and its tensors (``*.safetensors``), by name;
    not its report or pictures."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith(".")
                  and (p.name == META or p.suffix == ".safetensors"))


def bundle_digest(folder: os.PathLike | str) -> str:
    """The one digest of a bundle: sha256 over its :func:`model_files` (each its name, a NUL,
    its bytes, in name order). The library's model key, a loaded bundle's ``network_key``,
    the ONNX cache's key (given it as ``network_key``) and a Dask worker's check of an
    unpacked model all use it. A bundle never saved (a training draft) has no files: its
    ``network_key`` is :func:`.shared_weights.digest` of its tensors, ``tensors:``-prefixed.

    Raises
    ------
    BundleError
        ``weights.safetensors`` or ``model.json`` is missing, or a file cannot be read.
    """
    folder = Path(folder)
    for name in (META, WEIGHTS):
        if not (folder / name).is_file():
            raise BundleError(f"weights missing ({WEIGHTS})" if name == WEIGHTS else f"no {name}")
    h = hashlib.sha256()
    try:
        for path in model_files(folder):
            h.update(path.name.encode() + b"\0")
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
    except OSError as exc:
        raise BundleError(f"{getattr(exc, 'filename', None) or folder} cannot be read "
                          f"({exc.strerror or exc})") from None
    return h.hexdigest()


def load_bundle(path: os.PathLike | str, network: bool = True) -> ModelBundle:
    """Load a bundle folder into a :class:`ModelBundle` (its network in eval mode).

    The network is built, its weights checked for shape and finiteness, and one silent
    slice is run through it, so a bundle that loads is a bundle that classifies. With
    ``network=False`` only the metadata and open-set statistics are read and the network's
    digest taken (``network`` is None, torch is not imported): for a runtime that has the
    network already (:mod:`.onnx_runtime`'s cache, checked when it was exported from these
    very bytes); :meth:`ModelBundle.with_network` builds it.

    Raises
    ------
    BundleError
        With a one-line reason, whatever is wrong with the folder.
    """
    folder = Path(path)
    meta = read_meta(folder)
    if meta.get("task", "genre") != "genre":
        raise BundleError(f"{folder.name} is a {meta.get('task')} model, not a genre model")
    labels = meta["labels"]
    tags = list(meta.get("tags", []))
    features = FeatureConfig.from_dict(meta["features"])
    model = _load_network(folder, meta, labels, tags, features) if network else None
    return ModelBundle(folder, meta, model, labels, features, tags, load_openset(folder, meta),
                       bundle_digest(folder))


def _load_network(folder: Path, meta: dict, labels: list, tags: list, features: FeatureConfig):
    """The bundle's torch network, checked (see :func:`load_bundle`)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from genre_desktop.core.engine.network.model import build_model

    try:
        model = build_model(meta["architecture"], len(labels), len(tags))
    except Exception as exc:  # any parameter a hostile file holds: one line, never a traceback
        raise BundleError(f"bad architecture: {type(exc).__name__}: {exc}") from None
    try:
        state = load_file(str(folder / WEIGHTS))
    except FileNotFoundError:
        raise BundleError(f"weights missing ({WEIGHTS})") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"weights unreadable ({exc})") from None
    if REF_KEY in meta:  # tensors shared with a bundled model are referenced, not copied
        missing = [k for k in model.state_dict() if k not in state]
        state.update(resolve_shared(meta[REF_KEY], missing))
    head = state.get("head.weight")
    if head is None or head.shape[0] != len(labels):
        found = "none" if head is None else head.shape[0]
        raise BundleError(f"labels do not match weights: {len(labels)} labels, {found} outputs")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise BundleError(f"weights do not fit the architecture ({first})") from None
    check_finite_weights(state)
    model.eval()
    _probe(model, features, len(labels), len(tags))
    return model


def check_finite_weights(state: dict) -> None:
    """Raise :class:`BundleError` when any tensor of a state dict holds NaN or inf."""
    import torch

    for key, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise BundleError(f"the weights hold NaN or infinite values ({key}): the model is broken")


def _probe(model, features: FeatureConfig, n_labels: int, n_tags: int) -> None:
    """Run one silent slice through ``model``: its features must fit the network."""
    import torch

    try:
        with torch.inference_mode():
            logits, tag_logits, _ = model(torch.zeros(1, features.n_mels, features.slice_frames))
    except Exception as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise BundleError(f"the network does not accept its features ({features.n_mels} mel bands, "
                          f"{features.slice_frames} frames): {first}") from None
    if tuple(logits.shape) != (1, n_labels) or (n_tags and (tag_logits is None
                                                           or tuple(tag_logits.shape) != (1, n_tags))):
        raise BundleError("the network's outputs do not match its labels and tags")
    if not bool(torch.isfinite(logits).all()):
        raise BundleError("the network gives NaN or infinite outputs: the model is broken")


def save_bundle(folder: os.PathLike | str, model: "torch.nn.Module", meta: BundleMeta | dict,
                base: Optional[ModelBundle] = None, openset: Optional[OpenSet] = None) -> Path:
    """Write a bundle crash-safely: a cancelled, killed or failed save leaves any old one intact.

    ``meta`` is a :class:`BundleMeta` (or a dict of its fields, checked the same way); its
    ``created`` time is set now. With ``base`` (the bundled model it was trained from), the
    tensors left as they were in ``base`` are referenced instead of copied
    (:mod:`.shared_weights`). ``openset`` statistics are written to ``openset.safetensors``
    (their thresholds are ``meta``'s ``openset`` entry). The bundle is written to a hidden ``.partial`` sibling, fsynced, loaded back (never
    install what would not load; never weights with NaN), and swapped in under a lock on
    its name by :func:`safe_files.replace_folder`, which keeps the previous bundle of the
    same name as ``<name>.previous`` (one backup, listed and restorable). Two processes
    saving one name take turns.

    Raises
    ------
    BundleError
        The bundle would not load (the old one is untouched).
    OSError
        The disk is full or read-only (the old one is untouched).
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    if not isinstance(meta, BundleMeta):
        meta = BundleMeta.from_dict({"format_version": FORMAT_VERSION, **meta})
    check_finite_weights(model.state_dict())
    state, ref = shared_state(model, base)
    if openset is None:  # thresholds without their statistics would not load
        meta = replace(meta, openset=None)
    meta = meta.stamped().to_dict()
    if ref is not None:
        meta[REF_KEY] = ref
    else:
        meta.pop(REF_KEY, None)
    with name_lock(folder.parent, folder.name):
        tmp = new_partial(folder)
        try:
            save_file(state, str(tmp / WEIGHTS))
            if openset is not None:
                openset.save(tmp)
            fault_point("save:weights-written")
            (tmp / META).write_text(json.dumps(meta, indent=2, allow_nan=False), encoding="utf-8")
            load_bundle(tmp)
            fault_point("save:verified")
            replace_folder(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return folder


def bundle_metrics_line(meta: dict) -> Optional[str]:
    """A short headline of a bundle's metrics for menus, or None."""
    metrics = meta.get("metrics", {})
    acc = metrics.get("validation_track_accuracy")
    return f"{acc:.0%} validation accuracy" if isinstance(acc, (int, float)) else None
