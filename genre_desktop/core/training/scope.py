"""What a user model knows: the bundled genres plus the person's ("extend"), or the person's
genres alone ("only").

``extend`` (the default) keeps the base model's genres: a genre the person did not supply
keeps the base head's row unchanged (frozen); a genre they supplied is re-taught (it starts
from the base's row and the L2 penalty pulls it there), and a new genre gets a new row.
What the re-taught and new rows must *not* claim is taught by pseudo-samples of the genres
the person did not supply, drawn from the base model's open-set statistics (each genre's
mean embedding and the tied covariance of track means, ``openset.safetensors``) plus the
slice-to-slice spread measured on the person's own tracks: without them, a new row only
ever sees the person's music and may claim any music. The open-set statistics of the
extended model are the base's (its covariance and thresholds, fitted on 11 genres of music
at large) with the supplied genres' means replaced or added from the person's tracks.

``only`` learns the person's genres alone; everything will be called one of them unless
it hedges. So that it does hedge on music of other genres, the pseudo-samples of the base's
genres the person did not supply are taught to get no genre of theirs (a uniform target:
outlier exposure), and its open-set answer ("none of my genres") counts at any confidence.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from genre_desktop.core.engine.models.genre_names import match_label
from genre_desktop.core.errors import GenreDesktopError
from genre_desktop.core.engine.models.openset import Gaussians, OpenSet, fit_steady_threshold
from genre_desktop.core.tasks import StopCallback
from genre_desktop.core.training.heads import fit_standardised_head

log = logging.getLogger(__name__)
SCOPES = ("extend", "only")
PSEUDO_PER_GENRE = 100  # pseudo-sample slices per bundled genre the person did not supply


class TrainingRefused(GenreDesktopError, ValueError):
    """A library, scope or mode this training cannot run on; the message says why."""


def match_known_genres(base_labels: list[str], labels: list[str]) -> dict[str, int]:
    """``{label: index in base_labels}`` for the ``labels`` the base model knows."""
    return {label: base_labels.index(match) for label in labels
            if (match := match_label(label, base_labels)) is not None}


@dataclass
class LabelPlan:
    """The labels a trained model will have and where the person's genres sit among them."""

    labels: list[str]  # the model's labels, in head order
    index: dict[str, int]  # each of the person's genres -> its row
    kept: list[int]  # rows kept from the base unchanged (genres the person did not supply)
    known: list[str]  # the person's genres the base model knows (start from its row)
    scope: str
    others: list[int] = field(default_factory=list)  # the base's rows the person did not supply

    @property
    def supplied(self) -> list[int]:
        return sorted(set(self.index.values()))


def plan_labels(base_labels: list[str], user_labels: list[str], scope: str,
                reuse_known: bool = True) -> LabelPlan:
    """The labels of a model trained on ``user_labels`` from a base with ``base_labels``.

    ``extend``: the base's labels (a person's genre that matches one, ignoring case and
    punctuation, takes the base's spelling), then the new genres in the person's order.
    ``only``: the person's genres.
    """
    if scope not in SCOPES:
        raise TrainingRefused(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    matches = match_known_genres(base_labels, user_labels)
    known = list(matches) if reuse_known else []
    others = [k for k in range(len(base_labels)) if k not in set(matches.values())]
    if scope == "only":
        return LabelPlan(list(user_labels), {g: k for k, g in enumerate(user_labels)}, [], known, scope, others)
    new = [g for g in user_labels if g not in matches]
    labels = list(base_labels) + new
    index = {g: matches[g] if g in matches else len(base_labels) + new.index(g) for g in user_labels}
    return LabelPlan(labels, index, others, known, scope, others)


def head_prior(plan: LabelPlan, base_labels: list[str], base_weight: np.ndarray,
               base_bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each row starts and what the penalty pulls it to: the base's row for a genre
    the base knows (kept, or re-taught when ``plan.known`` has it), zeros otherwise."""
    weight = np.zeros((len(plan.labels), base_weight.shape[1]), np.float32)
    bias = np.zeros(len(plan.labels), np.float32)
    from_base = {k: k for k in plan.kept} if plan.scope == "extend" else {}
    for label in plan.known:
        from_base[plan.index[label]] = base_labels.index(match_label(label, base_labels))
    for row, base_row in from_base.items():
        weight[row], bias[row] = base_weight[base_row], base_bias[base_row]
    return weight, bias


def slice_spread(track_slices: list[np.ndarray]) -> Optional[np.ndarray]:
    """The covariance (d, d) of slice embeddings around their track's mean, pooled over
    tracks with at least two slices; None when there are none."""
    resid = [s - s.mean(axis=0) for s in track_slices if len(s) >= 2]
    if not resid:
        return None
    r = np.concatenate(resid).astype(np.float64)
    return r.T @ r / max(len(r) - len(resid), 1)


def pseudo_samples(base_openset: OpenSet, rows: list[int], track_slices: list[np.ndarray],
                   per_genre: int = PSEUDO_PER_GENRE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Slice-like embeddings of the base genres at ``rows``: a track mean drawn from the
    genre's Gaussian (its mean, the base's tied covariance of track means), plus the
    slice-to-slice spread of the person's own tracks.

    Returns
    -------
    x : (len(rows) * per_genre, d) float32, y : their rows
    """
    rng = np.random.default_rng(seed)
    genres = base_openset.genres
    d = genres.means.shape[1]
    cov = np.linalg.inv(genres.precision)
    spread = slice_spread(track_slices)
    if spread is not None:
        cov = cov + spread
    root = np.linalg.cholesky((cov + cov.T) / 2 + 1e-6 * np.trace(cov) / d * np.eye(d))
    xs, ys = [], []
    for row in rows:
        xs.append(genres.means[row] + rng.standard_normal((per_genre, d)) @ root.T)
        ys.append(np.full(per_genre, row))
    if not xs:
        return np.zeros((0, d), np.float32), np.zeros(0, int)
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


def fit_scoped_head(plan: LabelPlan, x: np.ndarray, y: np.ndarray, l2: float,
                    prior: tuple[np.ndarray, np.ndarray], pseudo: Optional[tuple[np.ndarray, np.ndarray]] = None,
                    should_stop: Optional[StopCallback] = None) -> tuple[np.ndarray, np.ndarray]:
    """The head for ``plan``: on the person's slices ``x`` (rows ``y``), plus for ``extend``
    the pseudo-samples of the kept genres, whose rows stay the base's (frozen); for ``only``
    the pseudo-samples of the base genres the person did not supply (``plan.others``), whose
    target is "none of these" (uniform over the person's genres: outlier exposure).

    Returns
    -------
    weight : (len(plan.labels), d), bias : (len(plan.labels),) acting on raw embeddings
    """
    has_prior = bool(plan.known) or bool(plan.kept)
    if plan.scope == "only":  # the other genres' pseudo-samples should get no genre of the person's
        return fit_standardised_head(x, y, len(plan.labels), l2, should_stop=should_stop,
                                     prior=prior if has_prior else None,
                                     outliers=None if pseudo is None or not len(pseudo[1]) else pseudo[0])
    if not plan.kept:
        return fit_standardised_head(x, y, len(plan.labels), l2, should_stop=should_stop,
                                     prior=prior if has_prior else None)
    frozen = np.zeros(len(plan.labels), bool)
    frozen[plan.kept] = True
    if pseudo is not None and len(pseudo[1]):
        x, y = np.concatenate([x, pseudo[0]]), np.concatenate([y, pseudo[1]])
    return fit_standardised_head(x, y, len(plan.labels), l2, should_stop=should_stop, prior=prior, frozen=frozen)


def extended_openset(plan: LabelPlan, base_openset: OpenSet, track_slices: list[np.ndarray],
                     rows: np.ndarray) -> OpenSet:
    """An ``extend`` model's open-set statistics: the base's covariance, thresholds, music
    subspace and steady-sound test; each supplied genre's mean from the person's tracks
    (the mean of its tracks' mean embeddings); the steady threshold the lower of the base's
    and the person's tracks'."""
    base = base_openset
    means = np.zeros((len(plan.labels), base.genres.means.shape[1]))
    means[:len(base.genres.means)] = base.genres.means
    track_means = np.array([s.mean(axis=0) for s in track_slices])
    for row in plan.supplied:
        means[row] = track_means[np.asarray(rows) == row].mean(axis=0)
    own = fit_steady_threshold(track_slices)
    steady = base.steady_threshold if own is None or base.steady_threshold is None else min(own, base.steady_threshold)
    return OpenSet(Gaussians(means, base.genres.precision), dict(base.unknown_thresholds), base.music,
                   base.not_music_thresholds, base.unknown_quantile, steady)
