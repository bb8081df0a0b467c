"""Model bundles: a folder with ``weights.safetensors`` and ``model.json``.

Loading never executes code: weights are safetensors, metadata is JSON. A bundle whose
metadata is malformed, or whose labels do not match its weights, is refused with a
:class:`BundleError` whose message says what is wrong.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .features import FeatureConfig

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


def read_meta(path: os.PathLike | str) -> dict:
    """Read and check ``model.json`` of a bundle folder without loading weights."""
    folder = Path(path)
    meta_path = folder / META
    if not folder.is_dir():
        raise BundleError(f"no model folder at {folder}")
    if not meta_path.is_file():
        raise BundleError(f"{folder} is not a model bundle (no {META})")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{META} is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise BundleError(f"{META} must hold an object")
    if meta.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"unsupported bundle format {meta.get('format_version')!r}")
    labels = meta.get("labels")
    if (not isinstance(labels, list) or len(labels) < 2
            or not all(isinstance(x, str) and x for x in labels) or len(set(labels)) != len(labels)):
        raise BundleError("labels must be a list of at least two distinct names")
    if not isinstance(meta.get("architecture"), dict):
        raise BundleError("architecture is missing")
    try:
        FeatureConfig.from_dict(meta.get("features", {}))
    except (TypeError, ValueError) as exc:
        raise BundleError(f"bad feature settings: {exc}") from None
    return meta


def load_bundle(path: os.PathLike | str) -> ModelBundle:
    """Load a bundle folder into a :class:`ModelBundle` (model in eval mode)."""
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
    except (TypeError, ValueError) as exc:
        raise BundleError(f"bad architecture: {exc}") from None
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
    model.eval()
    return ModelBundle(folder, meta, model, labels, features, tags)


def save_bundle(folder: os.PathLike | str, model: "torch.nn.Module", meta: dict) -> Path:
    """Write a bundle atomically: a cancelled or crashed save leaves any old one intact.

    The bundle is written to a temporary sibling folder and then swapped in; a previous
    bundle of the same name is kept as ``<name>.previous`` (one backup).
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format_version": FORMAT_VERSION, "task": "genre",
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **meta}
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".partial", dir=folder.parent))
    try:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS))
        (tmp / META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        load_bundle(tmp)  # never install something that would not load
        backup = folder.with_name(folder.name + ".previous")
        if folder.exists():
            if backup.exists():
                shutil.rmtree(backup)
            os.replace(folder, backup)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def bundle_metrics_line(meta: dict) -> Optional[str]:
    """A short headline of a bundle's metrics for menus, or None."""
    metrics = meta.get("metrics", {})
    acc = metrics.get("validation_track_accuracy")
    return f"{acc:.0%} validation accuracy" if isinstance(acc, (int, float)) else None
