"""Album vote against per-track verdicts, on album-like groups of held-out tracks.

    python benchmarks/bench_albums.py [--folds 5]

GTZAN's neighbouring ids often share an artist (and an album): the full GTZAN tracks of
``../shared/data`` (their frozen MSD_musicnn slice features, cached by
``scripts/prepare_training_data.py`` / ``build_musicnn_model.py`` in ``build/training``)
are dealt into folds by groups of 5 consecutive ids of one genre (``recipes.hedges.
grouped_folds``: a group never straddles a fold); a head is fitted on the other folds as
the recipe fits the bundle's, and each held-out track is judged as the app judges it
(vote, the bundle's temperature per length, ``verdict.hedge`` with its thresholds).

Each group of 5 is then stored as a scan stores tracks (each slice's top genre and its
probability, the track's top 3) and voted by the app's album code
(``core.library.albums.vote_album``). Printed: per-track accuracy (own vote) against the
accuracy of every track taking its album's genre, and the share answered confidently and
right under each.

``--view-rows N`` (no data needed): a library of N synthetic tracks in albums of 10, and
the time to open the album view (one query, no timelines) and to expand one artist (its
albums voted).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from genre_desktop.core.engine.classify.calibration import apply_temperature, temperature_for
from genre_desktop.core.engine.classify.verdict import hedge, softmax, vote
from genre_desktop.core.library.albums import Album, AlbumModel, vote_album
from genre_desktop.core.library.database import FileRow
from genre_desktop.core.training.heads import fit_standardised_head
from genre_desktop.recipes.dataset import LABELS, gtzan_group
from genre_desktop.recipes.hedges import grouped_folds

WORK = ROOT / "build" / "training"
MODEL = ROOT / "models" / "genre_musicnn_v3"
L2 = 0.03  # the bundled recipe's (build/training/results_genre_musicnn_v3.json)


def load():
    index_path, cache = WORK / "index.json", WORK / "slice_features.npz"
    if not index_path.is_file() or not cache.is_file():
        sys.exit(f"skipped: no cached features at {cache} (run scripts/prepare_training_data.py and "
                 "scripts/build_musicnn_model.py with ../shared/data present)")
    index = json.loads(index_path.read_text())
    data = np.load(cache)
    keep = [i for i, it in enumerate(index) if it["dataset"] == "gtzan" and f"f:{it['name']}" in data]
    feats = {i: data[f"f:{index[i]['name']}"] for i in keep}
    audible = {i: data[f"a:{index[i]['name']}"] for i in keep}
    return index, keep, feats, audible


def stored_row(i: int, path: str, probs: np.ndarray, audible: np.ndarray, model: AlbumModel) -> FileRow:
    """What a scan stores of one track (the app's own track verdict included)."""
    heard = audible if audible.any() else np.ones_like(audible)
    track = apply_temperature(vote(probs, heard), temperature_for(model.calibration, int(heard.sum())))
    best = int(np.argmax(track))
    agreement = float((probs[heard].argmax(axis=1) == best).mean())
    verdict, _ = hedge(float(track[best]), agreement, int(heard.sum()), None, None, False, model.rules)
    order = np.argsort(track)[::-1][:3]
    timeline = [[3.0 * k, LABELS[int(np.argmax(p))] if a else None, round(float(p.max()), 3) if a else None]
                for k, (p, a) in enumerate(zip(probs, audible))]
    return FileRow(id=i, path=path, size=None, mtime_ns=None, fingerprint=None, duration=30.0, artist=None,
                   title=None, album=None, genre_tag=[], changed_run=None, verdict=verdict, genre=LABELS[best],
                   closest=LABELS[best], confidence=float(track[best]),
                   top=[[LABELS[int(k)], round(float(track[k]), 4)] for k in order], timeline=timeline)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--view-rows", type=int, default=0, help="time the album view on this many tracks instead")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.view_rows:
        return time_view(args.view_rows)
    index, keep, feats, audible = load()
    model = AlbumModel.of_folder(MODEL)
    fold = grouped_folds(index, keep, args.folds)
    rows: dict = {}
    for f in range(args.folds):
        train = [i for i, k in zip(keep, fold) if k != f]
        x = np.concatenate([feats[i] for i in train])
        y = np.concatenate([[LABELS.index(index[i]["genre"])] * len(feats[i]) for i in train])
        sw = np.concatenate([[1.0 / len(feats[i])] * len(feats[i]) for i in train])
        weight, bias = fit_standardised_head(x, y, len(LABELS), L2, sample_weight=sw)
        for i, k in zip(keep, fold):
            if k == f:
                rows[i] = stored_row(i, index[i]["path"], softmax(feats[i] @ weight.T + bias), audible[i], model)
    groups = defaultdict(list)
    for i in keep:
        groups[gtzan_group(index[i], 5)].append(i)
    albums = [vote_album(Album(key=(g, ""), artist=None, album=g, folder=g, tracks=[rows[i] for i in members]),
                         model) for g, members in sorted(groups.items()) if len(members) >= 3]
    truth = {i: index[i]["genre"] for i in keep}
    tracks = [i for a in albums for i in (r.id for r in a.tracks)]
    own_right = np.mean([rows[i].genre == truth[i] for i in tracks])
    own_conf = np.mean([rows[i].verdict == "genre" and rows[i].genre == truth[i] for i in tracks])
    own_wrong_conf = np.mean([rows[i].verdict == "genre" and rows[i].genre != truth[i] for i in tracks])
    album_of = {r.id: a for a in albums for r in a.tracks}
    alb_right = np.mean([album_of[i].genre == truth[i] for i in tracks])
    alb_conf = np.mean([album_of[i].verdict == "genre" and album_of[i].genre == truth[i] for i in tracks])
    alb_wrong_conf = np.mean([album_of[i].verdict == "genre" and album_of[i].genre != truth[i] for i in tracks])
    by_path = {rows[i].path: i for i in tracks}
    flagged = [by_path[p] for a in albums for p in a.disagreeing]
    flagged_wrong = np.mean([rows[i].genre != truth[i] for i in flagged]) if flagged else float("nan")
    print(f"{len(tracks)} held-out GTZAN tracks in {len(albums)} album-like groups (5 consecutive ids, "
          f"{args.folds} grouped folds)")
    print(f"per-track vote:  accuracy {own_right:.1%}; confident and right {own_conf:.1%}, confident and wrong "
          f"{own_wrong_conf:.1%}")
    print(f"album vote:      accuracy {alb_right:.1%}; confident and right {alb_conf:.1%}, confident and wrong "
          f"{alb_wrong_conf:.1%}")
    print(f"albums: {np.mean([a.verdict == 'genre' for a in albums]):.1%} confident, "
          f"{np.mean([a.genre == truth[a.tracks[0].id] for a in albums]):.1%} right; "
          f"{len(flagged)} tracks flagged as disagreeing with their album, {flagged_wrong:.1%} of them wrong on "
          f"their own")
    return 0


def time_view(n: int) -> int:
    """Open the album view on a library of ``n`` synthetic tracks; print the times."""
    import os
    import random
    import tempfile
    import time

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from genre_desktop.core.library.database import LibraryDatabase
    from genre_desktop.gui.album_view import AlbumView

    app = QApplication.instance() or QApplication([])  # noqa: F841
    rnd = random.Random(0)
    with tempfile.TemporaryDirectory() as folder, LibraryDatabase(Path(folder) / "lib.sqlite3") as db:
        with db.transaction():
            for i in range(n):
                a = i // 10
                g = LABELS[a % len(LABELS)]
                fid = db.upsert_file(f"/music/artist{a // 3}/album{a}/{i:06d}.flac", size=1, mtime_ns=1,
                                     fingerprint=None, duration=30.0, artist=f"Artist {a // 3}", album=f"Album {a}",
                                     title=f"Track {i}", genre_tag=[])
                timeline = [[3.0 * k, g if rnd.random() < 0.8 else rnd.choice(LABELS), 0.7] for k in range(10)]
                db.save_result(fid, "k", "m", {"verdict": "genre", "genre": g, "confidence": 0.8,
                                               "top": [[g, 0.8]], "timeline": timeline})
        t0 = time.perf_counter()
        view = AlbumView(db, "k", AlbumModel.of_folder(MODEL))
        opened = time.perf_counter() - t0
        t0 = time.perf_counter()
        view.fill_artist(view.model.item(0, 0))
        expanded = time.perf_counter() - t0
        print(f"{n:,} tracks, {n // 10:,} albums: album view open in {opened * 1000:.0f} ms, one artist's albums "
              f"voted and listed in {expanded * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
