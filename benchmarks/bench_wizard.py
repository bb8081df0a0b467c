""""Train on my library" on a real library: ../shared/data/emotify (4 genres, 40 tracks each).

    python benchmarks/bench_wizard.py [--repeats 5] [--shots 20 5]

The bundled model was trained on 30 of each genre's 40 Emotify tracks; the other 10 per
genre (listed in the bundled model's REPORT) are the only ones it never heard, so they are
the test set here. Each run draws ``shots`` training tracks per genre at random from the
other 30, trains in quick mode exactly as the wizard does (``train_on_library``), and
scores track accuracy on the unseen tracks. The first run starts with an empty feature
cache (cold: decoding included) and is then repeated on the same tracks (cached); other
runs draw other tracks, whose features may or may not be cached yet.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from genre_desktop.core.bundle import load_bundle
from genre_desktop.core.evaluation import confusion_report
from genre_desktop.core.feature_cache import FeatureCache
from genre_desktop.core.library import LibraryScan, scan_labelled_folders
from genre_desktop.core.registry import resolve_model
from genre_desktop.core.student import track_probs
from genre_desktop.core.training import TrainOptions, train_on_library

ROOT = Path(__file__).resolve().parents[1]
EMOTIFY = ROOT.parent / "shared" / "data" / "emotify"


def unseen_paths() -> set[str]:
    """Emotify tracks the bundled model never trained on (its validation split)."""
    meta = load_bundle(resolve_model(None)).meta
    return {p for p in meta.get("provenance", {}).get("validation_tracks", []) if p.startswith("emotify/")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--shots", type=int, nargs="+", default=[20, 5])
    args = parser.parse_args()
    scan = scan_labelled_folders(EMOTIFY)
    unseen = unseen_paths()
    rel = lambda t: f"emotify/{t.genre}/{t.path.name}"  # noqa: E731
    test = [t for t in scan.tracks if rel(t) in unseen]
    pool = [t for t in scan.tracks if rel(t) not in unseen]
    print(f"{len(scan.tracks)} tracks; test (unseen by the bundled model): {len(test)}; pool: {len(pool)}")
    with tempfile.TemporaryDirectory() as tmp:
        cache = FeatureCache(Path(tmp) / "cache")
        results = {}
        for shots in args.shots:
            accs, times = [], []
            for rep in range(args.repeats):
                rng = np.random.default_rng(rep)
                train = []
                for genre in scan.genres:
                    members = [t for t in pool if t.genre == genre]
                    train += [members[i] for i in rng.choice(len(members), shots, replace=False)]
                t0 = time.perf_counter()
                outcome = train_on_library(LibraryScan(train), f"bench-{shots}-{rep}",
                                           TrainOptions(mode="quick", val_fraction=0.0, seed=rep),
                                           dest=Path(tmp) / "models" / f"m{shots}{rep}", cache=cache)
                times.append(time.perf_counter() - t0)
                if shots == args.shots[0] and rep == 0:
                    t1 = time.perf_counter()
                    train_on_library(LibraryScan(train), "bench-again", TrainOptions(mode="quick", val_fraction=0.0),
                                     dest=Path(tmp) / "models" / "again", cache=cache)
                    print(f"first selection: cold {times[0]:.1f} s (features "
                          f"{outcome.seconds['features']:.1f} s), same tracks again cached "
                          f"{time.perf_counter() - t1:.1f} s")
                bundle = load_bundle(outcome.path)
                truth, pred = [], []
                for t in test:
                    probs = track_probs(bundle.model, cache.get(t.path, bundle.features),
                                        bundle.features.slice_frames)
                    truth.append(t.genre)
                    pred.append(bundle.labels[int(np.argmax(probs))])
                report = confusion_report(truth, pred, bundle.labels)
                accs.append(report.accuracy)
                print(f"{shots} tracks/genre, run {rep}: accuracy {report.accuracy:.1%}, "
                      f"quick-mode time {times[-1]:.1f} s")
                if rep == 0:
                    print(report.to_text())
            results[shots] = {"accuracy": accs, "seconds": times}
            print(f"== {shots} tracks/genre: accuracy {np.mean(accs):.1%} +- {np.std(accs):.1%} "
                  f"(min {min(accs):.1%}, max {max(accs):.1%}); time median {np.median(times):.1f} s")
        print(json.dumps(results))


if __name__ == "__main__":
    main()
