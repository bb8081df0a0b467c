"""The one verdict path: how a track is cut into slices and how slices vote.

The classifier, the live analyser, the wizard's validation, the recipes and the benchmarks
all use these functions, so that an accuracy measured anywhere is the app's accuracy.
"""
from __future__ import annotations

import numpy as np

from genre_desktop.core.engine.models.bundle_meta import DEFAULT_THRESHOLDS
from genre_desktop.core.engine.audio.features import SILENCE_LEVEL


def silent_slices(slices: np.ndarray) -> np.ndarray:
    """(n_slices,) bool: slices (n_slices, n_mels, frames) whose loudest bin is below
    ``SILENCE_LEVEL``; they show as silence and take no part in the vote."""
    return slices.reshape(len(slices), -1).max(axis=1) < SILENCE_LEVEL if len(slices) else np.zeros(0, bool)


def loop_to_length(mel: np.ndarray, length: int) -> np.ndarray:
    """Repeat a too-short spectrogram (n_mels, n_frames) until it has ``length`` frames.

    Looping suits music better than padding with silence. Returns (n_mels, length); a
    spectrogram already that long is cut to ``length``.
    """
    n_frames = mel.shape[1]
    if n_frames == 0:
        raise ValueError("cannot loop an empty spectrogram")
    if n_frames < length:
        mel = np.tile(mel, (1, -(-length // n_frames)))
    return mel[:, :length]


class StreamingSlicer:
    """Cuts log-mel frames that arrive in chunks into the slices a track is voted from.

    The one slicing rule: consecutive non-overlapping slices of ``slice_frames``; a
    trailing remainder of at least half a slice becomes one more slice that ends at the
    track's end (overlapping its neighbour); a track shorter than one slice is looped
    (:func:`loop_to_length`) to fill one. Whatever the chunking, ``push`` every chunk and
    then ``finish`` give the slices of :func:`fit_slices` over the whole spectrogram.
    """

    def __init__(self, n_mels: int, slice_frames: int):
        self.slice_frames = slice_frames
        self._pending = np.zeros((n_mels, 0), np.float32)
        self._first = 0  # track frame of ``_pending[:, 0]``
        self._last_full: np.ndarray | None = None

    def push(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add frames (n_mels, n); return the slices they completed, (k, n_mels, slice_frames),
        and their first frames (k,)."""
        pending = np.concatenate([self._pending, frames], axis=1) if self._pending.shape[1] else frames
        n_mels, sf = pending.shape[0], self.slice_frames
        n_full = pending.shape[1] // sf
        starts = self._first + sf * np.arange(n_full)
        slices = np.ascontiguousarray(pending[:, :n_full * sf].reshape(n_mels, n_full, sf).transpose(1, 0, 2))
        if n_full:
            self._last_full = slices[-1]
        self._pending, self._first = pending[:, n_full * sf:], self._first + n_full * sf
        return slices, starts

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """The last slice, if the tail makes one (or the looped track, if it was short)."""
        n_mels, sf = self._pending.shape[0], self.slice_frames
        tail = self._pending
        if self._last_full is None:
            if tail.shape[1] == 0:
                return np.zeros((0, n_mels, sf), np.float32), np.zeros(0, int)
            return loop_to_length(tail, sf)[None], np.zeros(1, int)
        if tail.shape[1] >= sf // 2:
            joined = np.concatenate([self._last_full, tail], axis=1)[:, -sf:]
            return joined[None], np.array([self._first + tail.shape[1] - sf])
        return np.zeros((0, n_mels, sf), np.float32), np.zeros(0, int)


def fit_slices(mel: np.ndarray, slice_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut a whole log-mel spectrogram into slices by the :class:`StreamingSlicer` rule.

    Parameters
    ----------
    mel : numpy.ndarray, shape (n_mels, n_frames)
    slice_frames : int

    Returns
    -------
    slices : numpy.ndarray, shape (n_slices, n_mels, slice_frames)
    starts : numpy.ndarray, shape (n_slices,), int
        First frame of each slice.
    """
    slicer = StreamingSlicer(mel.shape[0], slice_frames)
    head, head_starts = slicer.push(mel)
    tail, tail_starts = slicer.finish()
    return np.concatenate([head, tail]), np.concatenate([head_starts, tail_starts]).astype(int)


def vote(slice_probs: np.ndarray, audible: np.ndarray | None = None,
         weights: np.ndarray | None = None) -> np.ndarray:
    """Track distribution from slice probabilities: mean log-probability, renormalised.

    Parameters
    ----------
    slice_probs : (n_slices, n_labels)
    audible : (n_slices,) bool, optional
        Slices to count; silent slices are left out of the vote (as the app does). When no
        slice is audible, every slice counts.
    weights : (n_slices,) float, optional
        Each slice's weight in the mean (an album's vote gives each track the same weight,
        however many of its slices a scan stored); equal weights by default.

    Returns
    -------
    (n_labels,) float, summing to 1
    """
    if audible is not None and np.any(audible):
        keep = np.asarray(audible, bool)
        slice_probs = slice_probs[keep]
        weights = None if weights is None else np.asarray(weights, float)[keep]
    log_p = np.average(np.log(np.clip(slice_probs, 1e-8, 1.0)), axis=0, weights=weights)
    p = np.exp(log_p - log_p.max())
    return p / p.sum()


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of (..., n_labels) logits."""
    z = logits / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


#: the hedge rules' defaults (a bundle's ``model.json`` ``thresholds`` may set each; the
#: bundled model's are chosen on artist-grouped held-out tracks, ``recipes/hedges.py``)
HEDGE_DEFAULTS = {**DEFAULT_THRESHOLDS, "unknown_margin": 1.0, "unknown_max_confidence": 1.01}
#: a vote of one slice (a 2-3-s excerpt, one live window) may have a confidence line of its
#: own, ``min_confidence_1`` in ``thresholds`` (default: ``min_confidence``)
#: fewer audible slices than this say nothing about slice agreement
MIN_AGREEMENT_SLICES = 3


def hedge(confidence: float, agreement: float, n_audible: int, outlier: str | None,
          genre_distance: float | None, steady: bool, rules: dict) -> tuple[str, list[str]]:
    """The one hedge rule of files, live windows and the recipe's risk-coverage curve.

    Parameters
    ----------
    confidence : float
        Calibrated confidence of the top genre.
    agreement : float
        Share of audible slices whose own top genre is the track's.
    n_audible : int
    outlier : {"not_music", "unknown", None}
        The open-set test's answer (``openset.OpenSet.judge``).
    genre_distance : float or None
        Distance to the nearest genre as a multiple of its threshold.
    steady : bool
        A steady sound (noise, tone, hum): "not music" whatever else.
    rules : dict
        ``min_confidence`` (``min_confidence_1`` for one slice, when given), ``min_agreement``,
        ``unknown_margin`` (the open-set answer
        counts only beyond this multiple of its threshold) and ``unknown_max_confidence``
        (... and only below this confidence); missing keys take :data:`HEDGE_DEFAULTS`.

    Returns
    -------
    verdict : {"genre", "unsure", "unknown", "not_music"}
    why : list of {"steady", "outlier", "low_confidence", "disagree"}
    """
    r = {**HEDGE_DEFAULTS, **rules}
    if steady:
        return "not_music", ["steady"]
    if (outlier is not None and (genre_distance is None or genre_distance > r["unknown_margin"])
            and confidence < r["unknown_max_confidence"]):
        return outlier, ["outlier"]
    line = r.get("min_confidence_1", r["min_confidence"]) if n_audible <= 1 else r["min_confidence"]
    why = (["low_confidence"] if confidence < line else []) + (
        ["disagree"] if n_audible >= MIN_AGREEMENT_SLICES and agreement < r["min_agreement"] else [])
    return ("unsure" if why else "genre"), why

