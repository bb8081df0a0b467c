"""Honest answers, measured: "not music", "none of this model's genres", calibration.

    python benchmarks/bench_openset.py [--splits 3]

1. Not music: the set of ``tools/notmusic.py`` (speech in 10 voices x 2 speeds, noise,
   hum, tones, sweeps, clicks) through the bundled model, and its held-out second set
   (other voices, text, noises, tones, hums, clicks; never looked at while choosing a
   rule); as the false-alarm side, the bundled model's own validation tracks (never seen
   by its statistics), full tracks and 2-3-s excerpts apart.
2. None of my genres: "train on my library" (quick mode, the wizard's code) on some
   genres, then the held-out tracks of those genres (known) and every track of genres it
   never heard (unknown). Reported: unknown tracks flagged "unknown" (or "not music"),
   known tracks wrongly flagged, and accuracy on the known tracks (the argmax, as before
   open-set verdicts existed, so "no lower than today" is read off directly). Protocols:
   Emotify classical/pop/rock (20 tracks each) vs Emotify electronic; GTZAN blues, classical,
   country, disco, hiphop, jazz vs metal, pop, reggae, rock. Random track splits.
   Known genres are matched to the bundled head only with ``--known-genres`` (off: the
   bundled head heard these data sets).
3. Calibration: the bundled model's temperature and its ECE before/after (from model.json).
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
log = logging.getLogger("bench_openset")


def classify_all(classifier, paths) -> list:
    return [classifier.classify_file(p) for p in paths]


def not_music(classifier, bundle) -> None:
    from tools.notmusic import write_set

    for held_out in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            files = write_set(Path(tmp), held_out=held_out)
            results = classify_all(classifier, files)
        counts = Counter(r.verdict for r in results)
        steady = sum("steady" in (r.reason or "") for r in results)
        log.info("%s: %d files, %s; marked not music: %.1f %% (%d of them as steady sounds)",
                 "held-out not-music set (never looked at)" if held_out else "not-music set", len(files),
                 dict(counts), 100 * counts["not_music"] / len(files), steady)
        missed = [(Path(r.path).name, r.verdict, r.closest) for r in results if r.verdict != "not_music"]
        if missed:
            log.info("  not flagged: %s", missed)
    val = [DATA / p for p in bundle.meta["provenance"].get("validation_tracks", []) if (DATA / p).exists()]
    if val:
        vr = classify_all(classifier, val)
        vc = Counter(r.verdict for r in vr)
        log.info("bundled model's validation tracks (music never seen by its statistics): %d, %s; "
                 "marked not music: %.1f %%, unknown: %.1f %%", len(vr), dict(vc),
                 100 * vc["not_music"] / len(vr), 100 * vc["unknown"] / len(vr))
        for kind, keep in (("full tracks", lambda r: len(r.slices) > 1), ("2-3 s excerpts", lambda r: len(r.slices) == 1)):
            part = [r for r in vr if keep(r)]
            if part:
                log.info("  of which %s: %d, marked not music %.1f %% (%d), steady sounds %d", kind, len(part),
                         100 * np.mean([r.verdict == "not_music" for r in part]),
                         sum(r.verdict == "not_music" for r in part), sum("steady" in (r.reason or "") for r in part))


def open_set(name: str, known: dict, unknown: list, per_genre: int, splits: int, known_genres: bool) -> None:
    from genre_desktop.core.engine.models.bundle import load_bundle
    from genre_desktop.core.engine.classify.classifier import Classifier
    from genre_desktop.core.training.labelled_folders import LabelledTrack, LabelledScan
    from genre_desktop.core.training.train_on_library import TrainOptions, train_on_library

    rows = []
    for seed in range(splits):
        rng = np.random.default_rng(seed)
        train, test_known = [], []
        for genre, paths in known.items():
            order = rng.permutation(len(paths))
            train += [LabelledTrack(paths[i], genre) for i in order[:per_genre]]
            test_known += [(paths[i], genre) for i in order[per_genre:]]
        with tempfile.TemporaryDirectory() as tmp:
            outcome = train_on_library(LabelledScan(train), f"openset-{seed}",
                                       TrainOptions(val_fraction=0.0, seed=seed, reuse_known_genres=known_genres, scope="only"),
                                       dest=Path(tmp) / "m")
            clf = Classifier(load_bundle(outcome.path))
            kr = classify_all(clf, [p for p, _ in test_known])
            ur = classify_all(clf, unknown)
        flagged_known = np.mean([r.verdict in ("unknown", "not_music") for r in kr])
        acc_known = np.mean([r.closest == g for r, (_, g) in zip(kr, test_known)])
        acc_genre = [r.closest == g for r, (_, g) in zip(kr, test_known) if r.verdict not in ("unknown", "not_music")]
        flagged_unknown = np.mean([r.verdict in ("unknown", "not_music") for r in ur])
        rows.append((flagged_unknown, flagged_known, acc_known, np.mean(acc_genre) if acc_genre else 0.0))
        log.info("%s split %d: unknown flagged %.1f %% (%d), known flagged %.1f %% (%d), known accuracy "
                 "%.1f %% (on the tracks not flagged: %.1f %%); unknown verdicts %s", name, seed,
                 100 * rows[-1][0], len(ur), 100 * rows[-1][1], len(kr), 100 * rows[-1][2], 100 * rows[-1][3],
                 dict(Counter(r.verdict for r in ur)))
    r = np.array(rows)
    log.info("%s, %d splits: unknown flagged %.1f ± %.1f %%, known flagged %.1f ± %.1f %%, known accuracy "
             "%.1f ± %.1f %% (not-flagged %.1f %%)", name, splits, 100 * r[:, 0].mean(), 100 * r[:, 0].std(),
             100 * r[:, 1].mean(), 100 * r[:, 1].std(), 100 * r[:, 2].mean(), 100 * r[:, 2].std(), 100 * r[:, 3].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--known-genres", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("genre_desktop").setLevel(logging.WARNING)
    from genre_desktop.core.engine.models.bundle import load_bundle
    from genre_desktop.core.engine.classify.classifier import Classifier
    from genre_desktop.core.engine.models.registry import resolve_model

    bundle = load_bundle(resolve_model(None))
    cal = bundle.meta.get("calibration", {})
    log.info("calibration of %s: temperature %.3f; ECE on held-out training folds %.3f -> %.3f, on its "
             "validation tracks %.3f -> %.3f", bundle.name, bundle.temperature, cal.get("ece_before", 0),
             cal.get("ece_after", 0), cal.get("validation_ece_before", 0), cal.get("validation_ece_after", 0))
    not_music(Classifier(bundle), bundle)
    if not DATA.is_dir():
        log.info("no shared data at %s: open-set protocols skipped", DATA)
        return
    emotify = {g: sorted((DATA / "emotify" / g).glob("*.ogg")) for g in ("classical", "pop", "rock")}
    open_set("emotify c/p/r vs electronic", emotify, sorted((DATA / "emotify" / "electronic").glob("*.ogg")),
             20, args.splits, args.known_genres)
    gtzan_known = ("blues", "classical", "country", "disco", "hiphop", "jazz")
    gtzan = {g: sorted((DATA / "gtzan" / g).glob("*.ogg")) for g in gtzan_known}
    unknown = sorted(p for g in ("metal", "pop", "reggae", "rock") for p in (DATA / "gtzan" / g).glob("*.ogg"))
    per = min(len(v) for v in gtzan.values()) * 2 // 3
    open_set("gtzan 6 known vs 4 unknown", gtzan, unknown, per, args.splits, args.known_genres)


if __name__ == "__main__":
    main()
