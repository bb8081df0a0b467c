"""Moods, styles, decades: per-tag thresholds chosen on held-out data where labels allow,
and the precision they give on the other half.

    python benchmarks/bench_moods.py [--no-scan]

The tracks and their stored tag probabilities come from the library that
``bench_similar.py`` scans (``../shared/data`` gtzan/ and emotify/, the app's own scan).
That data has genre labels only: a style tag that implies a genre ("heavy metal" -> metal,
"House" -> electronic or disco, table :data:`IMPLIES`) counts a firing as right when the
track's genre is one it implies. The tracks are split in two halves by artist proxy
(GTZAN ids in fives); on the first, the threshold is the lowest of 0.10, 0.15, ... 0.90
that keeps >= 80 % of at least 5 firings right; on the second its precision is measured.
This precision is an upper bound (a metal track need not be heavy metal). Moods, decades,
vocals and the other styles have no label here: their threshold is conservative and
label-free, the tag's 97.5th percentile over these tracks (at least 0.05): a track shows
it only when it is among the ~2.5 % strongest of a reference collection; no precision can
be given for them.
"""
from __future__ import annotations

import argparse
import hashlib
import logging
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_similar import LIBRARY, shared_library
from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.moods import SOUND_TAGS
from genre_desktop.core.library.vectors import tag_probs_of

IMPLIES = {
    "heavy metal": {"metal"}, "hard rock": {"rock", "metal"}, "classic rock": {"rock"},
    "punk": {"rock", "metal"}, "Progressive rock": {"rock", "metal"}, "alternative rock": {"rock"},
    "indie rock": {"rock"}, "House": {"electronic", "disco"}, "electronica": {"electronic"},
    "electro": {"electronic", "disco", "hiphop"}, "dance": {"electronic", "disco", "pop"},
    "ambient": {"electronic", "classical"}, "rnb": {"hiphop", "pop", "disco"},
}
GRID = np.round(np.arange(0.02, 0.901, 0.01), 2)
QUANTILE, FLOOR = 0.975, 0.05  # label-free: stronger than in 97.5 % of the reference tracks, and >= 0.05
TARGET, MIN_FIRINGS = 0.80, 5


def half(group: str) -> int:
    return hashlib.blake2b(group.encode(), digest_size=2).digest()[0] % 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-scan", action="store_true", help="use the tracks the library holds already")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    _, ref, labels = shared_library(scan=not args.no_scan)
    probs, genres, halves = [], [], []
    with LibraryDatabase(LIBRARY, readonly=True) as db:
        for path, (_, genre, group) in labels.items():
            row = db.row(path, ref.key)
            found = tag_probs_of(db.connection, row.id, ref.key) if row is not None else {}
            if found:
                probs.append(found)
                genres.append(genre)
                halves.append(half(group))
    genres, halves = np.array(genres), np.array(halves)
    print(f"{len(probs)} tracks ({(halves == 0).sum()} choose thresholds, {(halves == 1).sum()} measure them)\n")
    print("| tag | implies | threshold (chosen on half A) | firings on half B | precision on half B |")
    print("| --- | --- | --- | --- | --- |")
    chosen = {}
    for tag, allowed in IMPLIES.items():
        p = np.array([d.get(tag, 0.0) for d in probs])
        right = np.isin(genres, list(allowed))
        pick = None
        for t in GRID:
            fire = (p >= t) & (halves == 0)
            if fire.sum() >= MIN_FIRINGS and right[fire].mean() >= TARGET:
                pick = float(t)
                break
        threshold = pick if pick is not None else max(FLOOR, round(float(np.quantile(p, QUANTILE)), 2))
        fire_b = (p >= threshold) & (halves == 1)
        prec = f"{right[fire_b].mean():.2f}" if fire_b.any() else "-"
        note = "" if pick is not None else " (none reached 80 %: 97.5th percentile)"
        print(f"| {tag} | {', '.join(sorted(allowed))} | {threshold:.2f}{note} | {int(fire_b.sum())} | {prec} |")
        chosen[tag] = threshold
    print("\nno label here: threshold = the 97.5th percentile over these tracks (>= 0.05)")
    print("| tag | kind | threshold | tracks >= threshold | highest |")
    print("| --- | --- | --- | --- | --- |")
    for tag, (kind, _) in SOUND_TAGS.items():
        if tag in IMPLIES:
            continue
        p = np.array([d.get(tag, 0.0) for d in probs])
        threshold = chosen[tag] = max(FLOOR, round(float(np.quantile(p, QUANTILE)), 2))
        print(f"| {tag} | {kind} | {threshold:.2f} | {int((p >= threshold).sum())} of {len(p)} | {p.max():.2f} |")
    print(f"\nTHRESHOLDS = {chosen!r}")


if __name__ == "__main__":
    main()
