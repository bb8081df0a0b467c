"""Train/validation splits by track (never slices of one track on both sides)."""
from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np


def grouped_stratified_split(genres: Sequence[str], groups: Sequence[str], val_fraction: float,
                             seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split items into train/validation indices, per genre, keeping groups together.

    Each genre with at least two groups puts about ``val_fraction`` of its tracks (whole
    groups, chosen at random) in validation, at least one group; a genre with one group
    (or one track) stays in training. A group is never held out when that would leave the
    genre with fewer training tracks than validation tracks (on a tiny library one group
    of five ids could otherwise hold out most of it).

    Returns
    -------
    train, val : numpy.ndarray of int
    """
    rng = np.random.default_rng(seed)
    by_genre: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, (genre, group) in enumerate(zip(genres, groups)):
        by_genre[genre][group].append(i)
    val: list[int] = []
    for genre in sorted(by_genre):
        group_items = by_genre[genre]
        names = sorted(group_items)
        if len(names) < 2:
            continue
        rng.shuffle(names)
        total = sum(len(v) for v in group_items.values())
        target = max(1, round(val_fraction * total))
        taken = 0
        for name in names:
            if taken >= target:
                break
            size = len(group_items[name])
            if taken + size > total / 2 or taken + size >= total:  # keep most of it for training
                continue
            val.extend(group_items[name])
            taken += size
    val_arr = np.array(sorted(val), int)
    train_arr = np.setdiff1d(np.arange(len(genres)), val_arr)
    return train_arr, val_arr
