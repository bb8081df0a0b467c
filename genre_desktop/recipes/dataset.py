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


GTZAN_SETS = ("gtzan", "gtzan_clips")  # one numbering: blues.00012 in either is one track


def gtzan_group(item: dict, size: int) -> str:
    """Split group: GTZAN ids in blocks of ``size`` (an artist proxy; a full track and an
    excerpt with neighbouring ids share one), else the track."""
    number = gtzan_number(Path(item["path"]).stem)
    if item["dataset"] in GTZAN_SETS and size and number is not None:
        return f"gtzan/{item['genre']}/{number // size}"
    return item["path"]


def cell_weights(index, idx) -> np.ndarray:
    """Per-track weights giving each (data set, genre) cell the same total weight."""
    cells = [f"{index[i]['dataset']}/{index[i]['genre']}" for i in idx]
    counts = Counter(cells)
    return np.array([1.0 / counts[c] for c in cells])


def subset_scores(index, idx, preds) -> dict:
    """Accuracy on GTZAN tracks, GTZAN excerpts, Emotify classical/pop/rock, Emotify electronic."""
    out = {}
    truth = np.array([LABELS.index(index[i]["genre"]) for i in idx])
    for name, pick in (("gtzan", lambda it: it["dataset"] == "gtzan"),
                       ("gtzan_clips", lambda it: it["dataset"] == "gtzan_clips"),
                       ("emotify_cpr", lambda it: it["dataset"] == "emotify" and it["genre"] != "electronic"),
                       ("emotify_electronic", lambda it: it["dataset"] == "emotify" and it["genre"] == "electronic")):
        mask = np.array([pick(index[i]) for i in idx])
        if mask.any():
            out[name] = float((preds[mask] == truth[mask]).mean())
    return out


def per_genre_hits(index, idx, preds) -> dict:
    """``{"dataset/genre": [right, total]}`` of a validation set."""
    out: dict = {}
    for i, p in zip(idx, preds):
        cell = out.setdefault(f"{index[i]['dataset']}/{index[i]['genre']}", [0, 0])
        cell[0] += int(LABELS[int(p)] == index[i]["genre"])
        cell[1] += 1
    return out
