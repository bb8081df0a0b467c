"""Honest verdicts: is this music at all, and is it one of this model's genres?

Both questions are answered in the space the genre head reads (``model.features``), from a
track's (or live window's) mean embedding over its audible slices:

- **not music**: how far the embedding lies outside the subspace that music at large
  spans (the residual off the top ``MUSIC_COMPONENTS`` principal components of the bundled
  model's training tracks: 11 genres, GTZAN and Emotify); a user model inherits it from
  its base, since it shares the backbone. (Measured on artist-grouped held-out tracks, the
  residual separated speech, noise and tones from unseen music better than a Mahalanobis
  distance: AUROC 0.992 vs 0.974; see ``benchmarks/bench_openset.py``.)

A track close to one of the model's own genres is that genre, however far from "music at
large" it lies: a person who trains a "field recordings" or "spoken word" genre gets it.
- **a steady sound** (noise, a tone, a hum, a quiet room with clicks) is "not music" even
  when its mean embedding sits among music: its slices barely change. The dispersion of a
  track's audible slice embeddings (mean distance from their mean, relative to the mean's
  length) is compared with ``STEADY_MARGIN`` times the ``STEADY_QUANTILE`` quantile of the
  training tracks' dispersions (the steadiest music the model was built from); a user
  model takes the lower of its base's threshold and its own, so a person who trains a
  "white noise" genre gets it. Measured with the bundled model: the 1 % quantile of its
  training tracks' dispersion is 0.30 (threshold 0.15; the steadiest of all 450 full
  shared tracks 0.22), generated noise, tones, hums and clicks 0.03-0.14, speech 0.25-0.46.
- **none of this model's genres**: the Mahalanobis distance to the nearest of the model's
  own genres (one mean per genre, a tied covariance), fitted on its training tracks.

The genres' covariance is shrunk towards a scaled identity (``SHRINKAGE``). Thresholds follow one
documented rule, on training data only: fit on 4/5 of the training tracks, score the
held-out fifth, five times; the threshold is the ``UNKNOWN_QUANTILE`` (genres) or
``NOT_MUSIC_QUANTILE`` (music) quantile of those held-out in-distribution scores. The
statistics live in ``openset.safetensors`` beside the weights, the thresholds and the rule
in ``model.json`` (``openset``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from genre_desktop.core.engine.models.bundle_meta import OPENSET_LENGTHS as LENGTHS
from genre_desktop.core.engine.models.bundle_meta import OpenSetThresholds
from genre_desktop.core.errors import BundleError

log = logging.getLogger(__name__)
FILE = "openset.safetensors"
SHRINKAGE = 0.2
UNKNOWN_QUANTILE = 0.85  # a model trained on a person's library: a few genres among many
BUNDLED_UNKNOWN_QUANTILE = 0.97  # the bundled model's 11 genres stand for music at large
NOT_MUSIC_QUANTILE = 0.99
STEADY_QUANTILE = 0.01
STEADY_MARGIN = 0.5
STEADY_MIN_SLICES = 3  # fewer slices say too little about how a sound changes
MUSIC_COMPONENTS = 40
FOLDS = 5
RULE = (f"track-mean embedding; genres: Mahalanobis distance (tied covariance, shrinkage {SHRINKAGE}); "
        f"music: residual off the top {MUSIC_COMPONENTS} principal components; thresholds: quantiles "
        f"(genres {{q}}, music {NOT_MUSIC_QUANTILE:.2f}) of {FOLDS}-fold held-out training-track scores "
        f"of means over 1-48 slices")


@dataclass
class Gaussians:
    """Class means (k, d) sharing one precision matrix (d, d); k = 1 for "music at large"."""

    means: np.ndarray
    precision: np.ndarray

    def distance(self, x: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of (n, d) points to the nearest mean, shape (n,)."""
        x = np.atleast_2d(np.asarray(x, np.float64))
        out = np.full(len(x), np.inf)
        for mean in self.means:
            diff = x - mean
            out = np.minimum(out, np.einsum("ij,jk,ik->i", diff, self.precision, diff))
        return out


@dataclass
class Subspace:
    """The principal subspace of music at large: a mean (d,) and orthonormal rows (k, d)."""

    mean: np.ndarray
    basis: np.ndarray

    def distance(self, x: np.ndarray) -> np.ndarray:
        """Length of the part of (n, d) points outside the subspace, shape (n,)."""
        r = np.atleast_2d(np.asarray(x, np.float64)) - self.mean
        return np.linalg.norm(r - (r @ self.basis.T) @ self.basis, axis=1)


def fit_subspace(x: np.ndarray, components: int = MUSIC_COMPONENTS) -> Subspace:
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return Subspace(mean, vt[:min(components, len(vt))])


def fit_gaussians(x: np.ndarray, labels: Sequence, shrinkage: float = SHRINKAGE) -> Gaussians:
    """Per-label means and a tied, shrunk covariance of (n, d) points."""
    x = np.asarray(x, np.float64)
    labels = np.asarray(labels)
    classes = sorted(set(labels.tolist()))
    means = np.array([x[labels == c].mean(axis=0) for c in classes])
    resid = x - means[np.searchsorted(classes, labels)]
    cov = resid.T @ resid / max(len(x), 1)
    scale = np.trace(cov) / cov.shape[0] if np.trace(cov) > 0 else 1.0
    cov = (1 - shrinkage) * cov + shrinkage * scale * np.eye(cov.shape[0])
    return Gaussians(means, np.linalg.inv(cov))


#: thresholds are learnt for means over this many slices (a clip of 1 slice is noisier
#: than a 30-s track's mean of 12); a mean over n slices uses the largest length <= n


def _window_means(slices: list[np.ndarray], n: int) -> np.ndarray:
    """Each track's mean over its middle ``n`` slices (all of them when it has fewer)."""
    out = []
    for s in slices:
        start = max(0, (len(s) - n) // 2)
        out.append(s[start:start + n].mean(axis=0))
    return np.array(out)


def held_out_thresholds(slices: list[np.ndarray], labels: Optional[Sequence], fit, quantile: float,
                        folds: int = FOLDS) -> dict[int, float]:
    """``{length: threshold}``: the ``quantile`` of held-out scores of means over ``length``
    slices, for each of :data:`LENGTHS`.

    ``fit(track_means, labels)`` returns a scorer with ``distance``; tracks are dealt into
    ``folds`` by position (within each label when there are labels). A fold whose removal
    would leave a label with no track is scored in-sample (a lower, stricter threshold).
    """
    labels_arr = np.zeros(len(slices), int) if labels is None else np.asarray(labels)
    fold = np.zeros(len(slices), int)
    for label in np.unique(labels_arr):
        members = np.where(labels_arr == label)[0]
        fold[members] = np.arange(len(members)) % folds
    full = _window_means(slices, 10 ** 9)
    scores = {n: np.zeros(len(slices)) for n in LENGTHS}
    for f in range(folds):
        test = fold == f
        if not test.any():
            continue
        train = ~test if len(np.unique(labels_arr[~test])) == len(np.unique(labels_arr)) else np.ones_like(test)
        scorer = fit(full[train], labels_arr[train])
        for n in LENGTHS:
            scores[n][test] = scorer.distance(_window_means([slices[i] for i in np.where(test)[0]], n))
    return {n: float(np.quantile(scores[n], quantile)) for n in LENGTHS}


def _pick(thresholds: dict[int, float], n_slices: int) -> float:
    usable = [n for n in thresholds if n <= max(n_slices, 1)]
    return thresholds[max(usable)] if usable else thresholds[min(thresholds)]


@dataclass
class OpenSet:
    """What a bundle needs to say "not music" and "none of this model's genres"."""

    genres: Gaussians
    unknown_thresholds: dict[int, float]
    music: Optional[Subspace] = None
    not_music_thresholds: Optional[dict[int, float]] = None
    unknown_quantile: float = UNKNOWN_QUANTILE
    steady_threshold: Optional[float] = None  # slice dispersion below which a sound is steady

    def judge(self, embedding: np.ndarray, n_slices: int,
              dispersion: Optional[float] = None) -> tuple[Optional[str], float, float]:
        """``(verdict or None, genre distance, music distance)`` for the (d,) mean embedding
        of ``n_slices`` audible slices: ``"not_music"``, ``"unknown"`` or None (one of the
        genres, as far as this can tell). Distances are given as multiples of their threshold.
        ``dispersion`` (:func:`slice_dispersion` of non-overlapping slices) adds the steady-
        sound test when there are at least ``STEADY_MIN_SLICES``; see :meth:`steady`."""
        to_genres = float(self.genres.distance(embedding)[0]) / _pick(self.unknown_thresholds, n_slices)
        to_music = 0.0
        if self.music is not None and self.not_music_thresholds:
            to_music = float(self.music.distance(embedding)[0]) / _pick(self.not_music_thresholds, n_slices)
        if self.steady(dispersion, n_slices):
            return "not_music", to_genres, to_music
        if to_genres <= 1.0:  # like one of the model's own genres, whatever music at large is like
            return None, to_genres, to_music
        return ("not_music" if to_music > 1.0 else "unknown"), to_genres, to_music

    def steady(self, dispersion: Optional[float], n_slices: int) -> bool:
        """Whether slices that vary this little are a steady sound (noise, tone, hum)."""
        return (self.steady_threshold is not None and dispersion is not None
                and n_slices >= STEADY_MIN_SLICES and dispersion < self.steady_threshold)

    # --- storage
    def tensors(self) -> dict:
        """The statistics as float32 arrays, by name (``openset.safetensors``)."""
        out = {"genre_means": self.genres.means, "genre_precision": self.genres.precision}
        if self.music is not None:
            out.update(music_mean=self.music.mean, music_basis=self.music.basis)
        return {k: np.ascontiguousarray(v, np.float32) for k, v in out.items()}

    def thresholds(self) -> OpenSetThresholds:
        """The ``model.json`` entry (``BundleMeta.openset``): a threshold for each slice count
        of :data:`LENGTHS`, and the rule that chose them."""
        not_music = self.not_music_thresholds if self.music is not None and self.not_music_thresholds else {}
        return OpenSetThresholds(dict(self.unknown_thresholds), dict(not_music), self.steady_threshold,
                                 RULE.format(q=f"{self.unknown_quantile:.2f}"))

    def meta(self) -> dict:
        """:meth:`thresholds` as ``model.json`` writes them."""
        return self.thresholds().to_dict()

    def save(self, folder: Path) -> None:
        from safetensors.numpy import save_file

        save_file(self.tensors(), str(folder / FILE))


def slice_dispersion(embeddings: np.ndarray) -> float:
    """How much (n, d) slice embeddings vary: their mean distance from their mean, relative
    to the mean's length, with the small-sample shrinkage undone (x sqrt(n / (n - 1)));
    0.0 for fewer than two slices."""
    e = np.asarray(embeddings, np.float64)
    if len(e) < 2:
        return 0.0
    mean = e.mean(axis=0)
    spread = np.linalg.norm(e - mean, axis=1).mean() * np.sqrt(len(e) / (len(e) - 1))
    return float(spread / max(np.linalg.norm(mean), 1e-12))


def fit_steady_threshold(track_slices: list[np.ndarray]) -> Optional[float]:
    """``STEADY_MARGIN`` x the ``STEADY_QUANTILE`` quantile of the dispersions of training
    tracks with at least ``STEADY_MIN_SLICES`` slices; None with fewer than 10 such tracks."""
    values = [slice_dispersion(s) for s in track_slices if len(s) >= STEADY_MIN_SLICES]
    return STEADY_MARGIN * float(np.quantile(values, STEADY_QUANTILE)) if len(values) >= 10 else None


def fit_openset(track_slices: list[np.ndarray], labels: Sequence,
                music: Optional[tuple[Subspace, dict[int, float]]] = None, fit_music: bool = False,
                unknown_quantile: float = UNKNOWN_QUANTILE, steady: Optional[float] = None) -> OpenSet:
    """Fit the genre Gaussians and their thresholds on training tracks.

    ``track_slices`` holds each training track's audible slice embeddings (n_i, d).
    ``music`` is ``(Subspace, thresholds)`` of music at large, inherited from the base
    model; ``fit_music`` fits it here from the same tracks instead (the bundled model's
    recipe, whose tracks are music at large); with neither there is no "not music" test.
    ``steady`` is the base model's steady-sound threshold: the model keeps the lower of it
    and its own tracks' (:func:`fit_steady_threshold`); the bundled recipe fits its own.
    """
    slices = [np.asarray(s, np.float64) for s in track_slices]
    means = _window_means(slices, 10 ** 9)
    genres = fit_gaussians(means, labels)
    unknown = held_out_thresholds(slices, labels, fit_gaussians, unknown_quantile)
    if fit_music:
        music = (fit_subspace(means), held_out_thresholds(slices, None, lambda x, _: fit_subspace(x),
                                                          NOT_MUSIC_QUANTILE))
    own = fit_steady_threshold(slices)
    if fit_music:
        steady_threshold = own
    else:
        steady_threshold = None if steady is None else (steady if own is None else min(steady, own))
    if music is None:
        return OpenSet(genres, unknown, unknown_quantile=unknown_quantile, steady_threshold=steady_threshold)
    return OpenSet(genres, unknown, music[0], music[1], unknown_quantile, steady_threshold)


def load_openset(folder: Path, meta: dict) -> Optional[OpenSet]:
    """The bundle's open-set statistics, or None when it has none (older bundles).

    Raises
    ------
    BundleError
        The file or its thresholds are damaged or do not fit the embedding.
    """
    if meta.get("openset") is None:
        return None
    entry = OpenSetThresholds.from_dict(meta["openset"])
    unknown = {n: float(entry.unknown[n]) for n in LENGTHS}
    not_music = {n: float(entry.not_music[n]) for n in LENGTHS} if entry.not_music else None
    steady = entry.steady
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        t = {k: np.asarray(v, np.float64) for k, v in load_file(str(folder / FILE)).items()}
    except (FileNotFoundError, SafetensorError, OSError, ValueError, TypeError) as exc:
        raise BundleError(f"open-set statistics unreadable ({exc})") from None
    try:
        genres = Gaussians(t["genre_means"], t["genre_precision"])
        music = Subspace(t["music_mean"], t["music_basis"]) if "music_mean" in t else None
    except KeyError as exc:
        raise BundleError(f"open-set statistics incomplete ({exc})") from None
    arrays = [genres.means, genres.precision] + ([music.mean, music.basis] if music is not None else [])
    if (genres.means.ndim != 2 or genres.precision.shape != (genres.means.shape[1],) * 2
            or (music is not None and (music.mean.shape != (genres.means.shape[1],)
                                       or music.basis.ndim != 2 or music.basis.shape[1] != music.mean.shape[0]))
            or not all(np.isfinite(a).all() for a in arrays)):
        raise BundleError("open-set statistics have the wrong shape or are not finite")
    if genres.means.shape[0] != len(meta["labels"]):
        raise BundleError("open-set statistics do not match the labels")
    if (music is None) != (not_music is None):
        raise BundleError("openset statistics and thresholds do not match")
    return OpenSet(genres, unknown, music, not_music, steady_threshold=None if steady is None else float(steady))
