"""The training set of the bundled models as the recipes see it (``build/training``).

``scripts/prepare_training_data.py`` writes ``index.json`` and one ``.npz`` per track;
the v1 and v2 recipes read them through these helpers (never through each other).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from ..core.training.library_scan import gtzan_number

LABELS = ["blues", "classical", "country", "disco", "electronic", "hiphop", "jazz", "metal",
          "pop", "reggae", "rock"]


def gtzan_group(item: dict, size: int) -> str:
    """Split group: GTZAN ids in blocks of ``size`` (an artist proxy), else the track."""
    number = gtzan_number(Path(item["path"]).stem)
    if item["dataset"] == "gtzan" and size and number is not None:
        return f"gtzan/{item['genre']}/{number // size}"
    return item["path"]


def cell_weights(index, idx) -> np.ndarray:
    """Per-track weights giving each (data set, genre) cell the same total weight."""
    cells = [f"{index[i]['dataset']}/{index[i]['genre']}" for i in idx]
    counts = Counter(cells)
    return np.array([1.0 / counts[c] for c in cells])


def subset_scores(index, idx, preds) -> dict:
    """Accuracy on GTZAN tracks, Emotify classical/pop/rock tracks, Emotify electronic."""
    out = {}
    truth = np.array([LABELS.index(index[i]["genre"]) for i in idx])
    for name, pick in (("gtzan", lambda it: it["dataset"] == "gtzan"),
                       ("emotify_cpr", lambda it: it["dataset"] == "emotify" and it["genre"] != "electronic"),
                       ("emotify_electronic", lambda it: it["dataset"] == "emotify" and it["genre"] == "electronic")):
        mask = np.array([pick(index[i]) for i in idx])
        if mask.any():
            out[name] = float((preds[mask] == truth[mask]).mean())
    return out
