"""Hedges chosen as selective classification, and temperatures per length, on held-out tracks.

The bundled recipe (``scripts/build_musicnn_model.py``) calls :func:`held_out_records` on its
training items: they are dealt into five folds *by artist group* (GTZAN ids in fives, a track
and an excerpt with neighbouring ids together); for each fold the head and the open-set
statistics are refitted on the other four, exactly as the recipe fits the bundle, and every
item of the fold is judged as the app would judge it: the whole item, and windows of its
middle 1, 4 and 12 slices (an excerpt, 10 s, 30 s). From those records:

- :func:`fit_length_temperatures`: one temperature per length bucket (1, 2-4, 5-47, 48+
  audible slices; no training track is that long, so 48+ takes the 5-47 value);
- :func:`choose_hedges`: the "not sure" / "unknown" rules (calibrated confidence, slice
  agreement, and how far and how confidently the open-set test must fire) that hedge the
  most top-1 errors while hedging at most ``MAX_RIGHT_HEDGED`` of the right answers;
- :func:`risk_coverage`: the curve the REPORT shows.

The rules themselves are applied at run time by ``verdict.hedge``; the records here call it,
so the curve is the app's.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import product
from typing import Callable, Optional

import numpy as np

from genre_desktop.core.engine.classify.calibration import (LENGTH_BUCKETS, apply_temperature, expected_calibration_error,
                                       fit_temperature, length_bucket)
from genre_desktop.core.engine.models.openset import OpenSet, slice_dispersion
from genre_desktop.core.engine.classify.verdict import hedge, softmax, vote
from genre_desktop.recipes.dataset import LABELS, gtzan_group

log = logging.getLogger(__name__)

FOLDS = 5
WINDOWS = (1, 4, 12)  # middle windows of a held-out track, in slices, besides the whole of it
MAX_RIGHT_HEDGED = 0.08  # the budget: at most this share of right answers hedged


@dataclass
class Record:
    """One held-out item (or window of one) as the app would judge it."""

    item: int
    window: Optional[int]  # slices of the middle window; None: the whole item
    n: int  # audible slices voted
    probs: np.ndarray  # the vote, before any temperature
    agreement: float
    outlier: Optional[str]  # the open-set test's verdict (before the hedge's gates)
    genre_distance: float
    steady: bool
    truth: int


def grouped_folds(index: list[dict], idx, folds: int = FOLDS) -> np.ndarray:
    """A fold for each item of ``idx``: artist groups dealt round-robin within each genre."""
    groups = [gtzan_group(index[i], 5) for i in idx]
    fold = np.zeros(len(idx), int)
    for genre in sorted({index[i]["genre"] for i in idx}):
        names = sorted({g for g, i in zip(groups, idx) if index[i]["genre"] == genre})
        which = {g: k % folds for k, g in enumerate(names)}
        for j, (g, i) in enumerate(zip(groups, idx)):
            if index[i]["genre"] == genre:
                fold[j] = which[g]
    return fold


def judge_item(feats: np.ndarray, audible: np.ndarray, weight, bias, openset: Optional[OpenSet],
               item: int, truth: int, window: Optional[int] = None) -> Record:
    """The app's judgement of one item's slice features (n, d) (or of its middle ``window``)."""
    if window is not None:
        start = max(0, (len(feats) - window) // 2)
        feats, audible = feats[start:start + window], audible[start:start + window]
    heard = audible if audible.any() else np.ones_like(audible)
    probs = softmax(feats @ weight.T + bias)
    track = vote(probs, heard)
    best = int(np.argmax(track))
    agreement = float((probs[heard].argmax(axis=1) == best).mean())
    outlier, distance, steady = None, 0.0, False
    if openset is not None:
        emb = feats[heard]
        dispersion = slice_dispersion(emb)
        outlier, distance, _ = openset.judge(emb.mean(axis=0), len(emb), dispersion)
        steady = openset.steady(dispersion, len(emb))
    return Record(item, window, int(heard.sum()), track, agreement, outlier, distance, steady, truth)


def held_out_records(index: list[dict], feats: list, audible: list, idx, fit_head: Callable,
                     fit_open: Callable, folds: int = FOLDS) -> list[Record]:
    """Records of every item of ``idx`` (and its windows), each judged by a head and open set
    fitted without its artist group. ``fit_head(items)`` -> (weight, bias);
    ``fit_open(items)`` -> OpenSet."""
    idx = list(idx)
    fold = grouped_folds(index, idx, folds)
    out = []
    for f in range(folds):
        train = [i for i, k in zip(idx, fold) if k != f]
        test = [i for i, k in zip(idx, fold) if k == f]
        if not test:
            continue
        weight, bias = fit_head(train)
        openset = fit_open(train)
        for i in test:
            truth = LABELS.index(index[i]["genre"])
            out.append(judge_item(feats[i], audible[i], weight, bias, openset, i, truth))
            out += [judge_item(feats[i], audible[i], weight, bias, openset, i, truth, w)
                    for w in WINDOWS if len(feats[i]) > w]
        log.info("held-out fold %d: %d items", f, len(test))
    return out


def fit_length_temperatures(records: list[Record]) -> dict[str, float]:
    """``{str(bucket): T}`` (``model.json``: ``calibration.temperature_slices_<bucket>``) for each of ``LENGTH_BUCKETS``, fitted on the records of that many
    audible slices; a bucket without records takes the value of the one below it."""
    out: dict[str, float] = {}
    for bucket in LENGTH_BUCKETS:
        chosen = [r for r in records if length_bucket(r.n) == bucket]
        if len(chosen) >= 20:
            out[str(bucket)] = fit_temperature(np.array([r.probs for r in chosen]), np.array([r.truth for r in chosen]))
        else:
            out[str(bucket)] = out[str(LENGTH_BUCKETS[LENGTH_BUCKETS.index(bucket) - 1])] if out else 1.0
    return out


def calibrated(record: Record, temperatures: dict[str, float]) -> np.ndarray:
    return apply_temperature(record.probs, temperatures[str(length_bucket(record.n))])


def ece_by_length(records: list[Record], temperatures: dict[str, float], single: float) -> dict:
    """ECE per length bucket with one temperature (``single``) and with one per length."""
    out = {}
    for bucket in LENGTH_BUCKETS:
        chosen = [r for r in records if length_bucket(r.n) == bucket]
        if not chosen:
            continue
        correct = np.array([int(np.argmax(r.probs)) == r.truth for r in chosen])
        one = np.array([apply_temperature(r.probs, single).max() for r in chosen])
        per = np.array([calibrated(r, temperatures).max() for r in chosen])
        out[str(bucket)] = {"items": len(chosen), "accuracy": float(correct.mean()),
                            "ece_single_temperature": expected_calibration_error(one, correct),
                            "ece_per_length": expected_calibration_error(per, correct)}
    return out


def _prepared(records: list[Record], temperatures: dict[str, float]) -> tuple[list[tuple], np.ndarray]:
    """Each record's arguments to ``verdict.hedge`` (calibrated once), and which were right."""
    args = [(float(calibrated(r, temperatures).max()), r.agreement, r.n, r.outlier, r.genre_distance, r.steady)
            for r in records]
    return args, np.array([int(np.argmax(r.probs)) == r.truth for r in records], bool)


def _rates(args: list[tuple], right: np.ndarray, rules: dict) -> dict:
    h = np.array([hedge(*a, rules)[0] != "genre" for a in args], bool)
    return {"items": len(args), "top1": float(right.mean()),
            "errors_hedged": float(h[~right].mean()) if (~right).any() else 0.0,
            "right_hedged": float(h[right].mean()) if right.any() else 0.0,
            "coverage": float((~h).mean()), "risk": float((~right[~h]).mean()) if (~h).any() else 0.0,
            "strict": float((right & ~h).mean())}


def hedge_rates(records: list[Record], temperatures: dict[str, float], rules: dict) -> dict:
    """Share of top-1 errors hedged, of right answers hedged, coverage (answered without a
    hedge), risk (errors among those) and strict accuracy (right and not hedged)."""
    return _rates(*_prepared(records, temperatures), rules)


GRID = {
    "min_confidence": [round(x, 3) for x in np.arange(0.30, 0.90, 0.025)],
    "min_agreement": [0.0, 0.3, 0.4, 0.5, 0.6],
    "unknown_margin": [1.0, 1.5, 2.0, 3.0],
    "unknown_max_confidence": [0.5, 0.7, 0.9, 1.01],
}


def choose_hedges(records: list[Record], temperatures: dict[str, float],
                  budget: float = MAX_RIGHT_HEDGED) -> tuple[dict, dict]:
    """The rules (of :data:`GRID`) hedging the most errors with at most ``budget`` of the
    right answers hedged (ties: fewer right answers hedged); returns (rules, rates)."""
    args, right = _prepared(records, temperatures)
    best, best_key = None, None
    for values in product(*GRID.values()):
        rules = dict(zip(GRID, values))
        rates = _rates(args, right, rules)
        if rates["right_hedged"] > budget:
            continue
        key = (rates["errors_hedged"], -rates["right_hedged"])
        if best_key is None or key > best_key:
            best, best_key = (rules, rates), key
    if best is None:  # nothing within the budget: hedge on confidence alone, as little as the grid allows
        rules = {"min_confidence": GRID["min_confidence"][0], "min_agreement": 0.0, "unknown_margin": 3.0,
                 "unknown_max_confidence": 0.5}
        best = (rules, _rates(args, right, rules))
    # then a confidence line of their own for one-slice votes (excerpts), the other rules kept
    for short, long in product(GRID["min_confidence"], GRID["min_confidence"]):
        rules = {**best[0], "min_confidence": long, "min_confidence_1": short}
        rates = _rates(args, right, rules)
        if rates["right_hedged"] <= budget and (rates["errors_hedged"], -rates["right_hedged"]) > (
                best[1]["errors_hedged"], -best[1]["right_hedged"]):
            best = (rules, rates)
    return best


def risk_coverage(records: list[Record], temperatures: dict[str, float], rules: dict,
                  confidences=(0.0, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)) -> list[dict]:
    """The curve: the chosen rules with the confidence line moved through ``confidences``."""
    args, right = _prepared(records, temperatures)
    return [{"min_confidence": c, **_rates(args, right, {**rules, "min_confidence": c})} for c in confidences]


def _groups(index: list[dict], records: list[Record]) -> dict[str, list[Record]]:
    whole = [r for r in records if r.window is None]
    return {"all items": whole,
            "full tracks": [r for r in whole if index[r.item]["dataset"] != "gtzan_clips"],
            "2-3-s excerpts": [r for r in whole if index[r.item]["dataset"] == "gtzan_clips"],
            **{f"{w}-slice windows": [r for r in records if r.window == w] for w in WINDOWS}}


def hedge_study(index: list[dict], feats: list, audible: list, tr, va, fit_head: Callable, fit_open: Callable,
                weight, bias, openset: Optional[OpenSet], single_temperature: float,
                old_rules: dict) -> tuple[dict[str, float], dict, dict]:
    """Temperatures per length and hedge rules chosen on artist-grouped held-out folds of the
    training items ``tr``, then measured on the validation items ``va`` with the shipped head
    and open set. Returns ``(temperatures, rules, report)``."""
    oof = held_out_records(index, feats, audible, tr, fit_head, fit_open)
    temperatures = fit_length_temperatures(oof)
    rules, chosen_rates = choose_hedges([r for r in oof if r.window is None], temperatures)
    val = []
    for i in va:
        truth = LABELS.index(index[i]["genre"])
        val.append(judge_item(feats[i], audible[i], weight, bias, openset, i, truth))
        val += [judge_item(feats[i], audible[i], weight, bias, openset, i, truth, w) for w in WINDOWS
                if len(feats[i]) > w]
    single = {k: single_temperature for k in temperatures}
    report = {"temperatures": temperatures, "rules": rules, "held_out_folds_chosen": chosen_rates,
              "ece_held_out_folds": ece_by_length(oof, temperatures, single_temperature),
              "ece_validation": ece_by_length(val, temperatures, single_temperature),
              "validation": {name: {"new": hedge_rates(rs, temperatures, rules),
                                    "old rules, one temperature": hedge_rates(rs, single, old_rules)}
                             for name, rs in _groups(index, val).items() if rs},
              "curve_validation": risk_coverage([r for r in val if r.window is None], temperatures, rules),
              "curve_held_out_folds": risk_coverage([r for r in oof if r.window is None], temperatures, rules)}
    log.info("hedges: %s -> validation %s", rules, report["validation"]["all items"])
    return temperatures, rules, report


def report_markdown(report: dict) -> str:
    """The study as the REPORT's tables."""
    lines = ["Rules: " + ", ".join(f"{k} {v}" for k, v in report["rules"].items()),
             "Temperatures per length (audible slices from): "
             + ", ".join(f"{k}: {v:.2f}" for k, v in report["temperatures"].items()), "",
             "| validation items | top-1 | errors hedged | right answers hedged | coverage | risk | strict |"
             " old rules: errors / right hedged |", "| --- " * 8 + "|"]
    for name, both in report["validation"].items():
        n, o = both["new"], both["old rules, one temperature"]
        lines.append(f"| {name} ({n['items']}) | {100 * n['top1']:.1f} % | {100 * n['errors_hedged']:.0f} % | "
                     f"{100 * n['right_hedged']:.1f} % | {100 * n['coverage']:.0f} % | {100 * n['risk']:.1f} % | "
                     f"{100 * n['strict']:.1f} % | {100 * o['errors_hedged']:.0f} % / {100 * o['right_hedged']:.1f} % |")
    for key in ("curve_validation", "curve_held_out_folds"):
        lines += ["", f"Risk-coverage ({key.split('_', 1)[1].replace('_', ' ')}, whole items; other rules as chosen)",
                  "| min confidence | coverage | risk | errors hedged | right hedged |", "| --- " * 5 + "|"]
        lines += [f"| {c['min_confidence']:.2f} | {100 * c['coverage']:.0f} % | {100 * c['risk']:.1f} % | "
                  f"{100 * c['errors_hedged']:.0f} % | {100 * c['right_hedged']:.1f} % |" for c in report[key]]
    for key in ("ece_validation", "ece_held_out_folds"):
        lines += ["", f"ECE per length ({key[4:].replace('_', ' ')})",
                  "| audible slices from | items | top-1 | ECE, one temperature | ECE, per length |", "| --- " * 5 + "|"]
        lines += [f"| {b} | {e['items']} | {100 * e['accuracy']:.1f} % | {e['ece_single_temperature']:.3f} | "
                  f"{e['ece_per_length']:.3f} |" for b, e in report[key].items()]
    return "\n".join(lines) + "\n"
