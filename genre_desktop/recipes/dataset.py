"""The training set of the bundled models as the recipes see it (``build/training``).

``scripts/prepare_training_data.py`` writes ``index.json`` and one ``.npz`` per track;
``scripts/build_musicnn_model.py`` (the bundled model's recipe) reads them through these helpers.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from genre_desktop.core.training.labelled_folders import gtzan_number

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


def track_weights(index, idx, clip_weight: float = 1.0) -> np.ndarray:
    """Per-track weights: each (data set, genre) cell weighs the same in total, GTZAN's
    tracks and excerpts pooled into one cell (so adding excerpts takes no weight from
    Emotify), an excerpt counting ``clip_weight`` of a full track inside it."""
    cells = [f"gtzan/{index[i]['genre']}" if index[i]["dataset"] in GTZAN_SETS
             else f"{index[i]['dataset']}/{index[i]['genre']}" for i in idx]
    raw = np.array([clip_weight if index[i]["dataset"] == "gtzan_clips" else 1.0 for i in idx])
    totals: Counter = Counter()
    for cell, w in zip(cells, raw):
        totals[cell] += w
    return np.array([w / totals[cell] for cell, w in zip(cells, raw)])


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
