"""What makes a trained model's answers honest: open-set statistics and a calibrated
confidence, both learnt from the training tracks only (never the tracks reported).

- :func:`model_openset`: the genres' statistics from the training tracks' audible slice
  embeddings (what the open-set test reads at run time, ``engine.openset``), "music at
  large" from the base model;
- :func:`cross_validated_temperature`: the head is refitted on four fifths of the training
  tracks and predicts the fifth, five times; the temperature is fitted to those held-out
  track verdicts (``engine.calibration``), and their ECE is given before and after.

:func:`learn_honesty` is the training stage that learns both for a new model (with the
hedge rules and temperature floor of its scope).
"""
from __future__ import annotations

import logging
from typing import Callable, Optional

import numpy as np

from genre_desktop.core.engine.classify.calibration import apply_temperature, expected_calibration_error, fit_temperature
from genre_desktop.core.engine.models.openset import FOLDS, OpenSet, fit_openset
from genre_desktop.core.engine.classify.verdict import softmax, vote
from genre_desktop.core.training.heads import fit_standardised_head
from genre_desktop.core.training.scope import extended_openset
from genre_desktop.core.training.training_run import SMALL_LIBRARY, Run

log = logging.getLogger(__name__)


def held_out_predictions(feats: list[np.ndarray], audible: list[np.ndarray], y: np.ndarray,
                         n_labels: int, l2: float, prior=None, folds: int = FOLDS,
                         fit_head: Optional[Callable[[np.ndarray], tuple]] = None):
    """Each track's voted distribution from a head fitted without its fold.

    Tracks are dealt into folds round-robin within each genre; a fold whose removal would
    leave one of the genres in ``y`` without training tracks is skipped (a head may have
    more rows than ``y`` has genres: an extended model's bundled genres). ``fit_head(positions)`` ->
    ``(weight, bias)`` fits the head on the tracks at those positions (default: the
    wizard's :func:`fit_standardised_head`).

    Returns
    -------
    probs : (m, n_labels), truth : (m,), fold : (m,) for the m tracks that were predicted
    """
    y = np.asarray(y)
    fold = fold_of(y, folds)
    probs, truth, which = [], [], []
    for f in range(folds):
        test, train = np.where(fold == f)[0], np.where(fold != f)[0]
        if not len(test) or len(np.unique(y[train])) < len(np.unique(y)):
            continue
        if fit_head is not None:
            w, b = fit_head(train)
        else:
            x = np.concatenate([feats[i] for i in train])
            ys = np.concatenate([[y[i]] * len(feats[i]) for i in train])
            w, b = fit_standardised_head(x, ys, n_labels, l2, prior=prior)
        for i in test:
            probs.append(vote(softmax(feats[i] @ w.T + b), audible[i]))
            truth.append(y[i])
            which.append(f)
    return (np.array(probs).reshape(len(probs), n_labels), np.array(truth, int), np.array(which, int))


def cross_validated_temperature(feats: list[np.ndarray], audible: list[np.ndarray], y: np.ndarray,
                                n_labels: int, l2: float, prior=None, folds: int = FOLDS,
                                fit_head: Optional[Callable[[np.ndarray], tuple]] = None,
                                min_temperature: float = 0.0) -> dict:
    """``{"temperature", "ece_before", "ece_after", "tracks"}`` from :func:`held_out_predictions`
    on the training tracks; with no usable fold the temperature is ``max(1, min_temperature)``.

    ``min_temperature`` stops the fit from sharpening beyond it: the held-out tracks of a
    few distinct genres are nearly all right, and the likelihood then always prefers the
    sharpest temperature on offer (0.25 on the grid: every verdict 99.9 %, music of other
    genres included). The fitted value is kept as ``temperature_fitted``."""
    probs, truth, _ = held_out_predictions(feats, audible, y, n_labels, l2, prior, folds, fit_head)
    if not len(truth):
        return {"temperature": max(1.0, min_temperature), "ece_before": 0.0, "ece_after": 0.0, "tracks": 0}
    fitted = fit_temperature(probs, truth)
    t = max(fitted, min_temperature)
    calibrated = apply_temperature(probs, t)
    correct = probs.argmax(axis=1) == truth
    return {"temperature": t, "temperature_fitted": fitted, "tracks": int(len(truth)),
            "ece_before": expected_calibration_error(probs.max(axis=1), correct),
            "ece_after": expected_calibration_error(calibrated.max(axis=1), correct)}


def cross_validated_accuracy(feats: list[np.ndarray], audible: list[np.ndarray], y: np.ndarray,
                             n_labels: int, l2: float, prior=None, folds: int = FOLDS,
                             fit_head: Optional[Callable[[np.ndarray], tuple]] = None) -> Optional[dict]:
    """Track accuracy over *all* of a small library's tracks, each predicted by a head
    fitted without its fold: a steadier estimate than one split of a few tracks.

    Returns
    -------
    dict or None
        ``{"mean", "spread", "folds", "tracks", "pooled", "positions", "truth", "predicted",
        "confidence"}``: per-fold mean and standard deviation, the pooled accuracy (right
        tracks / tracks), and per predicted track its position in ``feats``, true and
        predicted row, and the voted probability of the prediction; None when no fold
        could be held out.
    """
    probs, truth, which = held_out_predictions(feats, audible, y, n_labels, l2, prior, folds, fit_head)
    if not len(truth):
        return None
    per_fold = [float((probs[which == f].argmax(axis=1) == truth[which == f]).mean()) for f in np.unique(which)]
    predicted = probs.argmax(axis=1)
    positions = np.concatenate([np.where(fold_of(y, folds) == f)[0] for f in np.unique(which)])
    return {"mean": float(np.mean(per_fold)), "spread": float(np.std(per_fold)), "folds": len(per_fold),
            "tracks": int(len(truth)), "pooled": float((predicted == truth).mean()),
            "positions": positions.tolist(), "truth": truth.tolist(), "predicted": predicted.tolist(),
            "confidence": probs.max(axis=1).tolist()}


def fold_of(y: np.ndarray, folds: int = FOLDS) -> np.ndarray:
    """Each track's fold: dealt round-robin within each genre, shape (n,)."""
    y = np.asarray(y)
    fold = np.zeros(len(y), int)
    for label in np.unique(y):
        members = np.where(y == label)[0]
        fold[members] = np.arange(len(members)) % folds
    return fold


def audible_only(feats: list[np.ndarray], audible: list[np.ndarray]) -> list[np.ndarray]:
    """Each track's audible slice embeddings (all of them when none is audible)."""
    return [f[a] if a.any() else f for f, a in zip(feats, audible)]


def model_openset(track_slices: list[np.ndarray], y: np.ndarray, base_openset: Optional[OpenSet],
                  backbone_changed: bool) -> OpenSet:
    """The genre statistics of a trained model; "music at large" comes from the base model
    (it shares the embedding) unless fine-tuning moved the embedding away from it."""
    music, steady = None, None
    if base_openset is not None and base_openset.music is not None and not backbone_changed:
        music = (base_openset.music, base_openset.not_music_thresholds)
        steady = base_openset.steady_threshold
    return fit_openset(track_slices, y, music=music, fit_music=False, steady=steady)


def min_temperature(run: Run) -> float:
    """How far the temperature may sharpen a user model's verdicts: an extended model no
    further than its base (calibrated on music at large), a model of only the person's
    genres not at all (its held-out tracks never show it music of other genres)."""
    return run.base.temperature if run.plan.scope == "extend" else 1.0


def hedge_rules(run: Run) -> dict:
    """The base's hedge rules; for a model of only the person's genres, "none of my genres"
    counts at any confidence (a softmax over a few genres is confident about any music)."""
    rules = dict(run.base.thresholds)
    if run.plan.scope == "only":
        rules["unknown_max_confidence"] = 1.01
    return rules


def learn_honesty(run: Run, feats: dict, audible: dict) -> tuple[object, dict, Optional[dict]]:
    """From the training tracks only: open-set statistics and a cross-validated temperature;
    for a small library (quick mode) also k-fold predictions over all its tracks."""
    train = list(run.train_idx)
    fit = run.head_fitter()
    train_slices = audible_only([feats[i] for i in train], [audible[i] for i in train])
    if run.plan.scope == "extend" and run.base.openset is not None and not run.thorough:
        openset = extended_openset(run.plan, run.base.openset, train_slices, run.y[train])
    elif run.plan.scope == "extend" and run.plan.kept:
        openset = None  # no statistics for the kept genres: no open-set test rather than a wrong one
    else:
        openset = model_openset(train_slices, run.y[train], run.base.openset, backbone_changed=run.thorough)

    def fit_on(tracks: list):
        return lambda positions: fit([feats[tracks[p]] for p in positions], run.y[[tracks[p] for p in positions]])

    n = len(run.plan.labels)
    calibration = cross_validated_temperature([feats[i] for i in train], [audible[i] for i in train],
                                              run.y[train], n, run.options.l2, fit_head=fit_on(train),
                                              min_temperature=min_temperature(run))
    cv = None
    if not run.thorough and len(run.scan.tracks) <= SMALL_LIBRARY:
        every = sorted(feats)
        cv = cross_validated_accuracy([feats[i] for i in every], [audible[i] for i in every], run.y[every], n,
                                      run.options.l2, fit_head=fit_on(every))
        if cv:
            cv["positions"] = [every[p] for p in cv["positions"]]
    return openset, calibration, cv
