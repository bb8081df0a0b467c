"""The trained model checked as the app will run it: each evaluation track through the
app's own verdict path, and the model's description (``model.json``) with what was found."""
from __future__ import annotations

from typing import Optional

import numpy as np

from genre_desktop.core.engine.classify.classifier import Classifier
from genre_desktop.core.engine.classify.verdict import softmax
from genre_desktop.core.engine.classify.verdicts import VERDICTS
from genre_desktop.core.engine.models.bundle import BundleMeta, ModelBundle
from genre_desktop.core.engine.models.bundle_meta import Calibration
from genre_desktop.core.tasks import check_stop
from genre_desktop.core.training.evaluation import confusion_report
from genre_desktop.core.training.honesty import hedge_rules
from genre_desktop.core.training.outcome import WrongTrack
from genre_desktop.core.training.training_run import Run


def validate(run: Run, bundle: ModelBundle, feats: dict, audible: dict):
    """Each evaluation track through the app's own verdict path (the in-memory bundle).

    Returns the confusion report, the tracks it got wrong, and the verdict counts."""
    classifier = Classifier(bundle)
    weight, bias = bundle.network.head.weight.detach().numpy(), bundle.network.head.bias.detach().numpy()
    labels = run.plan.labels
    truth, predicted, wrong, verdicts = [], [], [], []
    for i in run.eval_idx:
        check_stop(run.should_stop)
        track = run.scan.tracks[i]
        slice_probs = softmax(feats[i] @ weight.T + bias)
        result = classifier.verdict(str(track.path), track.duration, np.zeros(len(slice_probs), int),
                                    slice_probs, ~audible[i], embeddings=feats[i])
        truth.append(labels[run.y[i]])
        predicted.append(result.closest or "(silence)")
        verdicts.append(result.verdict)
        if result.closest != labels[run.y[i]]:
            wrong.append(WrongTrack(track.path, labels[run.y[i]], result.closest or "(silence)",
                                    result.confidence, result.verdict))
    counts = {v: verdicts.count(v) for v in VERDICTS if v in verdicts}
    return confusion_report(truth, predicted, labels), wrong, counts


def model_meta(run: Run, name: str, report, openset, calibration: dict, cv: Optional[dict],
               verdict_counts: dict, seconds: float) -> BundleMeta:
    base, plan, validated = run.base, run.plan, len(run.val_idx) > 0
    return BundleMeta(
        name=name, version="1", architecture=base.meta["architecture"], labels=plan.labels, tags=base.tags,
        features=base.features, thresholds=hedge_rules(run),
        openset=openset.thresholds() if openset is not None else None, calibration=Calibration.from_dict(calibration),
        provenance={"base_model": base.name, "mode": run.options.mode, "scope": plan.scope,
                    "known_genres": plan.known, "kept_genres": [plan.labels[k] for k in plan.kept],
                    "library": ", ".join(f"{g} {n}" for g, n in run.scan.counts().items()),
                    "validation": f"{len(run.val_idx)} tracks held out by track, stratified"
                    if validated else "none (library too small): accuracy is on training tracks"},
        metrics={"validation_track_accuracy": report.accuracy,
                 "balanced_accuracy": report.balanced_accuracy(),
                 "recall": report.recall(), "train_tracks": int(len(run.train_idx)),
                 "validation_tracks": int(len(run.val_idx)), "seconds": round(seconds, 1),
                 "validation_verdicts": verdict_counts,
                 **({"cross_validated_accuracy": [cv["pooled"], cv["spread"]], "cross_validated_tracks": cv["tracks"]}
                    if cv else {})})
