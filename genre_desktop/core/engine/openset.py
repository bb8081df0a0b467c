"""Honest verdicts: is this music at all, and is it one of this model's genres?

Both questions are answered in the space the genre head reads (``model.features``), from a
track's (or live window's) mean embedding over its audible slices:

- **not music**: the Mahalanobis distance to the distribution of music at large (one
  Gaussian fitted on the bundled model's training tracks: 11 genres, GTZAN and Emotify);
  a user model inherits it from its base, since it shares the backbone;
- **none of this model's genres**: the Mahalanobis distance to the nearest of the model's
  own genres (one mean per genre, a tied covariance), fitted on its training tracks.

Covariances are shrunk towards a scaled identity (``SHRINKAGE``). Thresholds follow one
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

from .bundle_meta import BundleError

log = logging.getLogger(__name__)
FILE = "openset.safetensors"
SHRINKAGE = 0.2
UNKNOWN_QUANTILE = 0.90
NOT_MUSIC_QUANTILE = 0.97
FOLDS = 5
RULE = (f"Mahalanobis distance of the track-mean embedding (tied covariance, shrinkage {SHRINKAGE}); "
        f"thresholds: the {UNKNOWN_QUANTILE:.2f} (genres) and {NOT_MUSIC_QUANTILE:.2f} (music) quantiles "
        f"of {FOLDS}-fold held-out training-track scores")


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


def held_out_distances(x: np.ndarray, labels: Sequence, folds: int = FOLDS) -> np.ndarray:
    """Each point's distance under Gaussians fitted without its fold (n,); folds are
    interleaved by position, so every label is spread over them."""
    x, labels = np.asarray(x, np.float64), np.asarray(labels)
    fold = np.arange(len(x)) % folds
    out = np.zeros(len(x))
    for f in range(folds):
        test = fold == f
        train = ~test
        if test.any() and len(set(labels[train].tolist())) == len(set(labels.tolist())):
            out[test] = fit_gaussians(x[train], labels[train]).distance(x[test])
        else:  # too few tracks to hold any out: in-sample (optimistic, so the threshold is lower)
            out[test] = fit_gaussians(x, labels).distance(x[test])
    return out


@dataclass
class OpenSet:
    """What a bundle needs to say "not music" and "none of this model's genres"."""

    genres: Gaussians
    unknown_threshold: float
    music: Optional[Gaussians] = None
    not_music_threshold: float = float("inf")

    def judge(self, embedding: np.ndarray) -> tuple[Optional[str], float, float]:
        """``(verdict or None, genre distance, music distance)`` for one (d,) mean embedding:
        ``"not_music"``, ``"unknown"`` or None (one of the genres, as far as this can tell)."""
        to_genres = float(self.genres.distance(embedding)[0])
        to_music = float(self.music.distance(embedding)[0]) if self.music is not None else 0.0
        if self.music is not None and to_music > self.not_music_threshold:
            return "not_music", to_genres, to_music
        if to_genres > self.unknown_threshold:
            return "unknown", to_genres, to_music
        return None, to_genres, to_music

    # --- storage
    def tensors(self) -> dict:
        import torch

        out = {"genre_means": self.genres.means, "genre_precision": self.genres.precision}
        if self.music is not None:
            out.update(music_means=self.music.means, music_precision=self.music.precision)
        return {k: torch.from_numpy(np.ascontiguousarray(v, np.float32)) for k, v in out.items()}

    def meta(self, **extra) -> dict:
        out = {"unknown_threshold": self.unknown_threshold, "rule": RULE, **extra}
        if self.music is not None:
            out["not_music_threshold"] = self.not_music_threshold
        return out

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        save_file(self.tensors(), str(folder / FILE))


def fit_openset(track_embeddings: np.ndarray, labels: Sequence,
                music: Optional[tuple[Gaussians, float]] = None, fit_music: bool = False) -> OpenSet:
    """Fit the genre Gaussians and their threshold on training tracks (n, d).

    ``music`` is ``(Gaussians, threshold)`` of music at large, inherited from the base
    model; ``fit_music`` fits it here from the same tracks instead (the bundled model's
    recipe, whose tracks are music at large); with neither there is no "not music" test.
    """
    x = np.asarray(track_embeddings, np.float64)
    genres = fit_gaussians(x, labels)
    unknown = float(np.quantile(held_out_distances(x, labels), UNKNOWN_QUANTILE))
    if fit_music:
        ones = np.zeros(len(x), int)
        music = (fit_gaussians(x, ones), float(np.quantile(held_out_distances(x, ones), NOT_MUSIC_QUANTILE)))
    if music is None:
        return OpenSet(genres, unknown)
    return OpenSet(genres, unknown, music[0], music[1])


def load_openset(folder: Path, meta: dict) -> Optional[OpenSet]:
    """The bundle's open-set statistics, or None when it has none (older bundles).

    Raises
    ------
    BundleError
        The file or its thresholds are damaged or do not fit the embedding.
    """
    entry = meta.get("openset")
    if entry is None:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("unknown_threshold"), (int, float)):
        raise BundleError("openset must hold an unknown_threshold")
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        t = {k: v.double().numpy() for k, v in load_file(str(folder / FILE)).items()}
    except (FileNotFoundError, SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"open-set statistics unreadable ({exc})") from None
    try:
        genres = Gaussians(t["genre_means"], t["genre_precision"])
        music = Gaussians(t["music_means"], t["music_precision"]) if "music_means" in t else None
    except KeyError as exc:
        raise BundleError(f"open-set statistics incomplete ({exc})") from None
    for g in (genres, music):
        if g is not None and (g.means.ndim != 2 or g.precision.shape != (g.means.shape[1],) * 2
                              or not np.isfinite(g.means).all() or not np.isfinite(g.precision).all()):
            raise BundleError("open-set statistics have the wrong shape or are not finite")
    if genres.means.shape[0] != len(meta["labels"]):
        raise BundleError("open-set statistics do not match the labels")
    threshold = entry.get("not_music_threshold", float("inf"))
    if not isinstance(threshold, (int, float)):
        raise BundleError("openset not_music_threshold must be a number")
    return OpenSet(genres, float(entry["unknown_threshold"]), music, float(threshold))
