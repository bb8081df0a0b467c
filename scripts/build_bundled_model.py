"""Stage 2 of the bundled-model recipe: evaluate, distil and save ``models/genre_cnn_v1``.

    python scripts/prepare_training_data.py          # stage 1 (log-mels + teacher outputs)
    python scripts/build_bundled_model.py            # this script

Everything is seeded (``--seed``). Steps:
1. teacher + linear head: repeated grouped splits (artist-proxy groups) -> mean and spread;
2. on the shipped split: a linear head on the teacher's patch embeddings gives soft
   targets; the student CNN learns labels + teacher embedding + tags + soft targets;
3. a scratch CNN (labels only, same architecture and budget) as the baseline;
4. writes the bundle, ``REPORT.md`` numbers (``metrics.json``) and a confusion matrix.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from genre_desktop.core.engine.bundle import BundleMeta, save_bundle
from genre_desktop.core.training.evaluation import confusion_report
from genre_desktop.core.engine.features import FeatureConfig
from genre_desktop.core.engine.verdict import softmax
from genre_desktop.core.training.heads import fit_linear_head
from genre_desktop.core.engine.musicnn import MSD_TAGS
from genre_desktop.core.training.splits import grouped_stratified_split
from genre_desktop.core.training.fine_tune import StudentOptions, TrackData, evaluate_tracks, train_student
from genre_desktop.recipes.dataset import LABELS, cell_weights, gtzan_group, load_tracks, subset_scores

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("build")


def teacher_track_accuracy(index, arrays, train, val, l2=0.1):
    """Pretrained + head: track mean/std of teacher embeddings, cell-weighted logistic regression."""
    feats = lambda i: np.concatenate([arrays[i]["emb"].mean(0), arrays[i]["emb"].std(0)])
    x = np.array([feats(i) for i in train])
    y = np.array([LABELS.index(index[i]["genre"]) for i in train])
    mean, std = x.mean(0), x.std(0) + 1e-6
    w, b = fit_linear_head((x - mean) / std, y, len(LABELS), l2=l2, sample_weight=cell_weights(index, train))
    xv = np.array([feats(i) for i in val])
    return np.argmax(((xv - mean) / std) @ w.T + b, axis=1)


def patch_head(index, arrays, train, l2=0.1):
    """A head on single-patch teacher embeddings: soft targets for distillation."""
    x = np.concatenate([arrays[i]["emb"] for i in train])
    y = np.concatenate([[LABELS.index(index[i]["genre"])] * len(arrays[i]["emb"]) for i in train])
    sw = np.concatenate([[wt / len(arrays[i]["emb"])] * len(arrays[i]["emb"])
                         for i, wt in zip(train, cell_weights(index, train))])
    mean, std = x.mean(0), x.std(0) + 1e-6
    w, b = fit_linear_head((x - mean) / std, y, len(LABELS), l2=l2, sample_weight=sw)
    return w, b, mean, std


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "training")
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "genre_cnn_v1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--budget", type=float, default=None,
                        help="wall-clock cap in seconds per CNN training (default: none; a cap cuts "
                             "the learning-rate schedule short)")
    parser.add_argument("--skip-scratch", action="store_true")
    parser.add_argument("--scratch-only", action="store_true",
                        help="only train the scratch baseline (results_scratch.json)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.manual_seed(args.seed)
    index, arrays = load_tracks(args.work)
    genres = [it["genre"] for it in index]
    groups = [gtzan_group(it, 5) for it in index]
    results: dict = {"labels": LABELS, "tracks": len(index)}

    # 1. teacher + head, repeated grouped splits (GTZAN ids in fives; also tens, stricter)
    for size in (5, 10):
        rep = []
        for seed in range(5):
            tr, va = grouped_stratified_split(genres, [gtzan_group(it, size) for it in index], 0.25, seed=seed)
            rep.append(subset_scores(index, va, teacher_track_accuracy(index, arrays, tr, va)))
        results[f"teacher_repeated_groups{size}"] = {k: [r[k] for r in rep] for k in rep[0]}
        log.info("teacher+head repeated, groups of %d: %s", size, {
            k: f"{np.mean(v):.3f}+-{np.std(v):.3f}" for k, v in results[f"teacher_repeated_groups{size}"].items()})

    # 2. the shipped split
    tr, va = grouped_stratified_split(genres, groups, 0.25, seed=args.seed)
    preds = teacher_track_accuracy(index, arrays, tr, va)
    w, b, mean, std = patch_head(index, arrays, tr)
    results["split"] = {"train": len(tr), "val": len(va),
                        "val_tracks": [index[i]["path"] for i in va]}
    results["teacher_split"] = subset_scores(index, va, preds)
    log.info("teacher+head on shipped split: %s", results["teacher_split"])

    def track_data(i: int, with_teacher: bool) -> TrackData:
        a = arrays[i]
        label = LABELS.index(index[i]["genre"])
        if not with_teacher:
            return TrackData(a["mel"], label)
        emb = (a["emb"] - mean) / std
        return TrackData(a["mel"], label, a["starts"], emb.astype(np.float32), a["tags"],
                         softmax((emb @ w.T + b) / 2.0).astype(np.float32))

    options = StudentOptions(epochs=args.epochs, seed=args.seed, max_seconds=args.budget,
                             channels=(24, 48, 96, 160), select_best=False)
    val_plain = [track_data(i, False) for i in va]
    weights = cell_weights(index, tr)
    if args.scratch_only:
        scratch_baseline(args, index, tr, va, val_plain, weights, options, track_data)
        return
    student, hist = train_student([track_data(i, True) for i in tr], val_plain, len(LABELS),
                                  len(MSD_TAGS), options, track_weights=weights)
    acc, spreds = evaluate_tracks(student, val_plain, options.slice_frames)
    results["student_split"] = subset_scores(index, va, spreds)
    results["student_history"] = hist.__dict__
    truth = [index[i]["genre"] for i in va]
    report = confusion_report(truth, [LABELS[p] for p in spreds], LABELS)
    results["student_confusion"] = report.to_json()
    log.info("student: %s\n%s", results["student_split"], report.to_text())

    meta = BundleMeta(
        name="genre_cnn_v1", version="1.0.0",
        architecture={"name": "genre_cnn", "params": {"channels": list(options.channels)}},
        labels=LABELS, tags=MSD_TAGS, features=FeatureConfig(slice_frames=options.slice_frames),
        thresholds={"min_confidence": 0.45, "min_agreement": 0.5},
        provenance={
            "recipe": "scripts/prepare_training_data.py + scripts/build_bundled_model.py "
                      f"--seed {args.seed} --epochs {args.epochs}",
            "teacher": "MSD_musicnn (musicnn 0.1.0, ISC licence) + linear genre head",
            "data": f"../shared/data: GTZAN (10 genres) + Emotify (4 genres); {len(tr)} training tracks",
            "validation": f"{len(va)} tracks held out, grouped by artist proxy (GTZAN ids in fives)",
            "validation_tracks": [index[i]["path"] for i in va],
        },
        metrics={
            "validation_track_accuracy": float(acc),
            "gtzan_validation_accuracy": results["student_split"].get("gtzan"),
            "emotify_cpr_validation_accuracy": results["student_split"].get("emotify_cpr"),
            "emotify_electronic_validation_accuracy": results["student_split"].get("emotify_electronic"),
            "best_epoch": hist.best_epoch,
        },
    )
    save_bundle(args.out, student, meta)
    log.info("saved %s", args.out)
    (args.work / "results.json").write_text(json.dumps(results, indent=1, default=float))

    # 3. scratch baseline, same split and budget
    if not args.skip_scratch:
        scratch_baseline(args, index, tr, va, val_plain, weights, options, track_data)


def scratch_baseline(args, index, tr, va, val_plain, weights, options, track_data) -> None:
    """The same CNN, split, sampling and schedule, trained on labels alone."""
    scratch, shist = train_student([track_data(i, False) for i in tr], val_plain, len(LABELS), 0,
                                   options, track_weights=weights)
    _, cpreds = evaluate_tracks(scratch, val_plain, options.slice_frames)
    out = {"scratch_split": subset_scores(index, va, cpreds), "scratch_history": shist.__dict__}
    log.info("scratch: %s", out["scratch_split"])
    (args.work / "results_scratch.json").write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    log.info("total %.0f s", time.perf_counter() - t0)
