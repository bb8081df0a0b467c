"""Model bundles: a folder with ``weights.safetensors`` and ``model.json``.

Loading never executes code: weights are safetensors, metadata is JSON. A bundle whose
metadata is malformed, or whose labels do not match its weights, is refused with a
:class:`BundleError` whose message says what is wrong.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .architectures import check_architecture
from .features import FeatureConfig
from .safe_files import fault_point, name_lock, new_partial, replace_folder

if TYPE_CHECKING:
    import torch

# torch, safetensors and the network are imported inside the functions that need them,
# so that reading metadata (menus, the model list) never pays for importing torch.

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
WEIGHTS = "weights.safetensors"
META = "model.json"
DEFAULT_THRESHOLDS = {"min_confidence": 0.45, "min_agreement": 0.5}


class BundleError(Exception):
    """A model bundle cannot be used; the message says why, in one line."""


@dataclass
class ModelBundle:
    """A loaded, ready-to-run genre model."""

    path: Path
    meta: dict
    model: Any  # torch.nn.Module
    labels: list[str]
    features: FeatureConfig
    tags: list[str] = field(default_factory=list)

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


MAX_META_BYTES = 4 << 20  # a model.json larger than this is not a model's
_TASKS = ("genre", "tagging")
_FEATURE_RANGES = {"sample_rate": (4000, 192000), "n_fft": (64, 16384), "hop_length": (16, 16384),
                   "n_mels": (8, 512), "slice_frames": (8, 100000)}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _names(value: Any, what: str, minimum: int) -> None:
    if (not isinstance(value, list) or len(value) < minimum or len(value) > 10000
            or not all(isinstance(x, str) and x.strip() and not _has_control(x) for x in value)
            or len(set(value)) != len(value)):
        raise BundleError(f"{what} must be a list of {'at least two ' if minimum >= 2 else ''}"
                          "distinct names without control characters")


def _has_control(text: str) -> bool:
    return any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in text)


def validate_meta(meta: Any) -> dict:
    """Check a parsed ``model.json`` against the bundle schema; returns it unchanged.

    Every field the app reads is checked for its type and range, so that a wrong but
    parseable file is refused here with a one-line reason instead of failing later.

    Raises
    ------
    BundleError
    """
    if not isinstance(meta, dict):
        raise BundleError(f"{META} must hold an object")
    if meta.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"unsupported bundle format {meta.get('format_version')!r}")
    task = meta.get("task", "genre")
    if task not in _TASKS:
        raise BundleError(f"unknown task {task!r}")
    for key in ("name", "created"):
        if key in meta and (not isinstance(meta[key], str) or _has_control(meta[key])):
            raise BundleError(f"{key} must be a line of text")
    if "version" in meta and not (isinstance(meta["version"], str) or _is_number(meta["version"])):
        raise BundleError("version must be text or a number")
    _names(meta.get("labels"), "labels", 2)
    if "tags" in meta:
        _names(meta["tags"], "tags", 0)
    arch = meta.get("architecture")
    if not isinstance(arch, dict) or not isinstance(arch.get("name"), str):
        raise BundleError("architecture is missing")
    features = meta.get("features", {})
    if not isinstance(features, dict):
        raise BundleError("bad feature settings: must be an object")
    try:
        config = FeatureConfig.from_dict(features)
    except (TypeError, ValueError) as exc:
        raise BundleError(f"bad feature settings: {exc}") from None
    for key, (low, high) in _FEATURE_RANGES.items():
        if not low <= getattr(config, key) <= high:
            raise BundleError(f"bad feature settings: {key} {getattr(config, key)} is outside {low}..{high}")
    if config.hop_length > config.n_fft:
        raise BundleError("bad feature settings: hop_length exceeds n_fft")
    if task == "genre":
        try:
            check_architecture(arch, config.n_mels)
        except ValueError as exc:
            raise BundleError(f"bad architecture: {exc}") from None
    thresholds = meta.get("thresholds", {})
    if not isinstance(thresholds, dict):
        raise BundleError("thresholds must be an object")
    for key, value in thresholds.items():
        if not _is_number(value):
            raise BundleError(f"threshold {key!r} must be a number, not {value!r}")
        if key in DEFAULT_THRESHOLDS and not 0.0 <= value <= 1.0:
            raise BundleError(f"threshold {key!r} must lie between 0 and 1")
    for key in ("metrics", "provenance"):
        if not isinstance(meta.get(key, {}), dict):
            raise BundleError(f"{key} must be an object")
    return meta


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


def load_bundle(path: os.PathLike | str) -> ModelBundle:
    """Load a bundle folder into a :class:`ModelBundle` (model in eval mode).

    The network is built, its weights checked for shape and finiteness, and one silent
    slice is run through it, so a bundle that loads is a bundle that classifies.

    Raises
    ------
    BundleError
        With a one-line reason, whatever is wrong with the folder.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .model import build_model

    folder = Path(path)
    meta = read_meta(folder)
    if meta.get("task", "genre") != "genre":
        raise BundleError(f"{folder.name} is a {meta.get('task')} model, not a genre model")
    labels = meta["labels"]
    tags = list(meta.get("tags", []))
    features = FeatureConfig.from_dict(meta["features"])
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
    return ModelBundle(folder, meta, model, labels, features, tags)


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


def save_bundle(folder: os.PathLike | str, model: "torch.nn.Module", meta: dict) -> Path:
    """Write a bundle crash-safely: a cancelled, killed or failed save leaves any old one intact.

    The bundle is written to a hidden ``.partial`` sibling, fsynced, loaded back (never
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
    meta = {"format_version": FORMAT_VERSION, "task": "genre",
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **meta}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    check_finite_weights(state)
    with name_lock(folder.parent, folder.name):
        tmp = new_partial(folder)
        try:
            save_file(state, str(tmp / WEIGHTS))
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
