"""What a bundle's ``architecture`` entry may say, checked without importing torch.

One table per network: the parameters its constructor takes, each with a check, and the
number of mel bands it was built for. :func:`check_architecture` is used when a bundle's
metadata is read (model lists stay cheap and never show a model that could not run) and by
``model.build_model`` before anything is constructed.
"""
from __future__ import annotations

from typing import Any, Callable


def _int(low: int, high: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _prob(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v < 1.0


def _channels(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and 1 <= len(v) <= 8 and all(_int(1, 4096)(c) for c in v)


#: name -> (parameter checks, mel bands the network expects given its params)
ARCHITECTURE_PARAMS: dict[str, tuple[dict[str, Callable[[Any], bool]], Callable[[dict], int]]] = {
    "genre_cnn": ({"n_mels": _int(8, 512), "channels": _channels, "embedding": _int(1, 8192),
                   "dropout": _prob},
                  lambda params: params.get("n_mels", 96)),
    "musicnn_genre": ({"freq_stride": _int(1, 8), "temporal_freq_stride": lambda v: v is None or _int(1, 8)(v),
                       "dropout": _prob, "freeze_frontend": lambda v: isinstance(v, bool),
                       "level_reference": lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(
                           v, bool) and 0 < v < 1e9)},
                      lambda params: 96),
}
ARCHITECTURES = tuple(ARCHITECTURE_PARAMS)


def check_architecture(architecture: Any, n_mels: int | None = None) -> None:
    """Raise ValueError (one line) unless ``architecture`` names a known network with valid
    parameters that takes ``n_mels`` mel bands."""
    if not isinstance(architecture, dict):
        raise ValueError("architecture must be an object")
    name = architecture.get("name")
    if name not in ARCHITECTURE_PARAMS:
        raise ValueError(f"unknown architecture {name!r} (known: {', '.join(ARCHITECTURES)})")
    params = architecture.get("params", {})
    if not isinstance(params, dict):
        raise ValueError("architecture params must be an object")
    checks, bands = ARCHITECTURE_PARAMS[name]
    for key, value in params.items():
        if key not in checks:
            raise ValueError(f"{name} takes no parameter {key!r}")
        if not checks[key](value):
            raise ValueError(f"{name}: {key} cannot be {value!r}")
    if n_mels is not None and bands(params) != n_mels:
        raise ValueError(f"{name} takes {bands(params)} mel bands, the features give {n_mels}")
