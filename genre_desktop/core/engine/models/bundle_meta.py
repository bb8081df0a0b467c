"""What a bundle's ``model.json`` holds: the schema, checked at load, and :class:`BundleMeta`,
the one typed way to write it (training, the recipes, the converter and the tests alike)."""
from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from genre_desktop.core.engine.network.architectures import check_architecture
from genre_desktop.core.engine.audio.features import FeatureConfig
from genre_desktop.core.engine.models.names import has_control
from genre_desktop.core.errors import BundleError

FORMAT_VERSION = 1
META = "model.json"
DEFAULT_THRESHOLDS = {"min_confidence": 0.45, "min_agreement": 0.5}
REF_KEY = "base_weights"  # tensors shared with a bundled model: see :mod:`.shared_weights`
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


MAX_META_BYTES = 4 << 20  # a model.json larger than this is not a model's
_TASKS = ("genre", "tagging")
_FEATURE_RANGES = {"sample_rate": (4000, 192000), "n_fft": (64, 16384), "hop_length": (16, 16384),
                   "n_mels": (8, 512), "slice_frames": (8, 100000)}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _names(value: Any, what: str, minimum: int) -> None:
    if (not isinstance(value, list) or len(value) < minimum or len(value) > 10000
            or not all(isinstance(x, str) and x.strip() and not has_control(x) for x in value)
            or len(set(value)) != len(value)):
        raise BundleError(f"{what} must be a list of {'at least two ' if minimum >= 2 else ''}"
                          "distinct names without control characters")


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
        if key in meta and (not isinstance(meta[key], str) or has_control(meta[key])):
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
    if "openset" in meta:
        OpenSetThresholds.from_dict(meta["openset"])
    if "calibration" in meta:
        Calibration.from_dict(meta["calibration"])
    if REF_KEY in meta:
        check_reference(meta[REF_KEY])
    return meta


#: a calibration temperature outside this range is not one a fit gives (it would make every
#: verdict certain or every verdict a coin toss)
TEMPERATURE_RANGE = (0.05, 50.0)
#: open-set thresholds are distances (genre Mahalanobis ~10^2, music residual ~1, steadiness
#: ~0.1): one beyond this bound would let anything through
MAX_OPENSET_THRESHOLD = 1e6
#: the numbers of audible slices the open-set thresholds are given for (``unknown_threshold_N``)
OPENSET_LENGTHS = (1, 2, 4, 8, 12, 24, 48)


def _numbers(entry: Any, key: str) -> dict:
    """``entry`` (the ``model.json`` object ``key``) checked: an object of numbers, but its
    ``rule``, a line of text."""
    if not isinstance(entry, dict):
        raise BundleError(f"{key} must be an object")
    for name, value in entry.items():
        if name == "rule":
            if not isinstance(value, str):
                raise BundleError(f"{key} rule must be text")
        elif not _is_number(value):
            raise BundleError(f"{key} {name!r} must be a number, not {value!r}")
    return entry


def _by_length(entry: dict, prefix: str) -> dict[int, float]:
    """``{N: value}`` of the keys ``<prefix>N`` of ``entry``, in their order."""
    return {int(k[len(prefix):]): v for k, v in entry.items()
            if k.startswith(prefix) and k[len(prefix):].isdigit()}


@dataclass(frozen=True)
class OpenSetThresholds:
    """The ``openset`` entry of ``model.json``: the thresholds of :mod:`.openset`'s tests
    (their statistics are in ``openset.safetensors``), and the rule that chose them.

    ``unknown`` and ``not_music`` map a number of audible slices (each of
    :data:`OPENSET_LENGTHS`) to a threshold; ``not_music`` is empty for a model without the
    "not music" test; ``steady`` is None without the steady-sound test. ``other`` keeps
    numbers a newer version wrote, as they are.
    """

    unknown: dict
    not_music: dict = field(default_factory=dict)
    steady: Optional[float] = None
    rule: str = ""
    other: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, entry: Any) -> "OpenSetThresholds":
        """Check the ``openset`` entry and type it (raises BundleError)."""
        entry = _numbers(entry, "openset")
        for name, value in entry.items():
            if "threshold" in name and not 0 < value <= MAX_OPENSET_THRESHOLD:
                raise BundleError(f"openset {name} {value!r} is not a usable threshold "
                                  f"(it must lie in (0, {MAX_OPENSET_THRESHOLD:g}])")
        unknown, not_music = _by_length(entry, "unknown_threshold_"), _by_length(entry, "not_music_threshold_")
        if any(n not in unknown for n in OPENSET_LENGTHS) or (
                not_music and any(n not in not_music for n in OPENSET_LENGTHS)):
            raise BundleError(f"openset must hold unknown_threshold_N for N in {OPENSET_LENGTHS}")
        known = {f"unknown_threshold_{n}" for n in unknown} | {f"not_music_threshold_{n}" for n in not_music}
        return cls(unknown, not_music, entry.get("steady_threshold"), entry.get("rule", ""),
                   {k: v for k, v in entry.items() if k not in known | {"steady_threshold", "rule"}})

    def to_dict(self) -> dict:
        """The ``model.json`` entry (keys in the order the app has always written them)."""
        out = {f"unknown_threshold_{n}": t for n, t in self.unknown.items()}
        out.update({f"not_music_threshold_{n}": t for n, t in self.not_music.items()})
        if self.steady is not None:
            out["steady_threshold"] = self.steady
        if self.rule:
            out["rule"] = self.rule
        return {**out, **self.other}


@dataclass(frozen=True)
class Calibration:
    """The ``calibration`` entry of ``model.json``: the temperature of track confidences
    (:mod:`~genre_desktop.core.engine.classify.calibration`) and how it was fitted.

    ``temperature`` is the single temperature (None: none fitted, i.e. 1.0);
    ``by_length`` one per length bucket (``temperature_slices_B``: votes over B or more
    audible slices); ``figures`` the fit's record (``temperature_fitted``, ``tracks``,
    ``ece_before``, ``ece_after``, ``validation_ece_*``) and any number a newer version wrote.
    Every temperature lies in :data:`TEMPERATURE_RANGE`.
    """

    temperature: Optional[float] = None
    by_length: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, entry: Any) -> "Calibration":
        """Check the ``calibration`` entry and type it (raises BundleError)."""
        entry = _numbers(entry, "calibration")
        by_length = _by_length(entry, "temperature_slices_")
        low, high = TEMPERATURE_RANGE
        for name, value in [("temperature", entry.get("temperature")),
                            *((f"temperature_slices_{b}", t) for b, t in by_length.items())]:
            if value is not None and not low <= value <= high:
                raise BundleError(f"calibration {name} {value!r} must lie between {low:g} and {high:g}")
        known = {"temperature", *(f"temperature_slices_{b}" for b in by_length)}
        return cls(entry.get("temperature"), by_length, {k: v for k, v in entry.items() if k not in known})

    def to_dict(self) -> dict:
        """The ``model.json`` entry (keys in the order the app has always written them)."""
        out = {} if self.temperature is None else {"temperature": self.temperature}
        return {**out, **self.figures, **{f"temperature_slices_{b}": t for b, t in self.by_length.items()}}


@dataclass(frozen=True)
class BundleMeta:
    """The metadata of a bundle, typed. ``to_dict()`` is what ``model.json`` holds."""

    name: str
    architecture: dict
    labels: list
    features: FeatureConfig = field(default_factory=FeatureConfig)
    version: str = "1"
    tags: list = field(default_factory=list)
    thresholds: dict = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    provenance: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    task: str = "genre"
    created: str = ""
    openset: Optional[OpenSetThresholds] = None  # with openset.safetensors (see save_bundle)
    calibration: Optional[Calibration] = None
    extra: dict = field(default_factory=dict)  # fields this version does not know, kept as they are

    def stamped(self) -> "BundleMeta":
        """The same metadata, created now (UTC)."""
        return replace(self, created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))

    def to_dict(self) -> dict:
        """The ``model.json`` object, checked against the schema (raises BundleError)."""
        out = {"format_version": FORMAT_VERSION, "task": self.task, "created": self.created,
               "name": self.name, "version": str(self.version), "architecture": self.architecture,
               "labels": list(self.labels), "tags": list(self.tags), "features": self.features.to_dict(),
               "thresholds": dict(self.thresholds), "provenance": dict(self.provenance),
               "metrics": dict(self.metrics),
               **({"openset": self.openset.to_dict()} if self.openset is not None else {}),
               **({"calibration": self.calibration.to_dict()} if self.calibration is not None else {}),
               **self.extra}
        if not out["created"]:
            del out["created"]
        return validate_meta(out)

    @classmethod
    def from_dict(cls, data: dict) -> "BundleMeta":
        """Check ``data`` against the schema and type it (raises BundleError)."""
        meta = validate_meta(dict(data))
        known = {"format_version", "task", "created", "name", "version", "architecture", "labels",
                 "tags", "features", "thresholds", "provenance", "metrics", "openset", "calibration"}
        return cls(name=str(meta.get("name", "")), architecture=meta["architecture"], labels=list(meta["labels"]),
                   features=FeatureConfig.from_dict(meta.get("features", {})), version=str(meta.get("version", "1")),
                   tags=list(meta.get("tags", [])), thresholds=dict(meta.get("thresholds", DEFAULT_THRESHOLDS)),
                   provenance=dict(meta.get("provenance", {})), metrics=dict(meta.get("metrics", {})),
                   task=meta.get("task", "genre"), created=str(meta.get("created", "")),
                   openset=OpenSetThresholds.from_dict(meta["openset"]) if "openset" in meta else None,
                   calibration=Calibration.from_dict(meta["calibration"]) if "calibration" in meta else None,
                   extra={k: v for k, v in meta.items() if k not in known})


def check_reference(ref) -> None:
    """Raise :class:`BundleError` unless ``ref`` is a well-formed ``base_weights`` entry."""
    if (not isinstance(ref, dict) or not isinstance(ref.get("model"), str)
            or not isinstance(ref.get("sha256"), str) or not _HEX64.match(ref["sha256"])
            or not isinstance(ref.get("tensors"), int) or isinstance(ref.get("tensors"), bool)):
        raise BundleError(f"{REF_KEY} must name a model, a tensor count and a sha256 digest")
