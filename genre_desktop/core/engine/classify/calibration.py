"""Confidence that means what it says: a temperature on the voted track distribution.

``p_T ∝ p ** (1 / T)``: T > 1 softens an over-confident model. T is fitted by the
negative log-likelihood of held-out track verdicts (never of the tracks reported), and
the expected calibration error (ECE: the mean gap between confidence and accuracy over
ten confidence bins, weighted by tracks) is reported before and after.
"""
from __future__ import annotations

import numpy as np

from genre_desktop.core.engine.models.bundle_meta import Calibration

#: temperatures are fitted per length: buckets of 1, 2-4, 5-47 and 48+ audible slices
#: (an excerpt, about 10 s, a 30-s to 2-minute track, a long track), by their lower bound
LENGTH_BUCKETS = (1, 2, 5, 48)

TEMPERATURES = np.exp(np.linspace(np.log(0.25), np.log(8.0), 61))


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """(..., n_labels) distributions sharpened (T < 1) or softened (T > 1), renormalised."""
    if temperature == 1.0:
        return probs
    log_p = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    log_p -= log_p.max(axis=-1, keepdims=True)
    p = np.exp(log_p)
    return p / p.sum(axis=-1, keepdims=True)


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The T (of a log-spaced grid 0.25..8) minimising the NLL of (n, k) track distributions
    against their true labels (n,); 1.0 when there are no tracks."""
    probs, labels = np.asarray(probs, np.float64), np.asarray(labels, int)
    if len(labels) == 0:
        return 1.0
    nll = [-np.log(np.clip(apply_temperature(probs, t)[np.arange(len(labels)), labels], 1e-12, 1)).mean()
           for t in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(nll))])


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE of confidences (n,) against correctness (n,) bool, over equal-width bins."""
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, float)
    if len(confidence) == 0:
        return 0.0
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    return float(sum(abs(confidence[which == b].mean() - correct[which == b].mean()) * (which == b).mean()
                     for b in range(bins) if (which == b).any()))


def length_bucket(n_slices: int) -> int:
    """The :data:`LENGTH_BUCKETS` bucket of a vote over ``n_slices`` audible slices."""
    return max(b for b in LENGTH_BUCKETS if b <= max(int(n_slices), 1))


def temperature_for(calibration: Calibration, n_slices: int) -> float:
    """The temperature of a vote over ``n_slices`` audible slices: the bundle's per-length
    value (``calibration.by_length[B]`` for the bucket B of :data:`LENGTH_BUCKETS`) when it
    has one, else its single ``temperature``; 1.0 when it has neither (both were checked
    when the bundle's ``model.json`` was read)."""
    value = calibration.by_length.get(length_bucket(n_slices), calibration.temperature)
    return 1.0 if value is None else float(value)
