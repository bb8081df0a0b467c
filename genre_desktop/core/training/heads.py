"""Linear (softmax) heads fitted on fixed embeddings (the vote is ``engine.verdict.vote``)."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from genre_desktop.core.tasks import StopCallback, check_stop


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Inverse-frequency weights (mean 1 over the samples), shape (n_classes,)."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    w = np.where(counts > 0, len(y) / np.maximum(counts, 1) / max((counts > 0).sum(), 1), 0.0)
    return w.astype(np.float32)


def fit_linear_head(x: np.ndarray, y: np.ndarray, n_classes: int, l2: float = 1e-3,
                    steps: int = 300, balanced: bool = True,
                    init: Optional[tuple[np.ndarray, np.ndarray]] = None,
                    sample_weight: Optional[np.ndarray] = None,
                    prior: Optional[np.ndarray] = None,
                    frozen: Optional[np.ndarray] = None,
                    outliers: Optional[np.ndarray] = None, outlier_weight: float = 0.5,
                    should_stop: Optional[StopCallback] = None) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression by full-batch L-BFGS.

    Parameters
    ----------
    x : (n, d) float features
    y : (n,) int labels in ``range(n_classes)``
    l2 : weight decay on the weights (not the bias)
    balanced : weight samples inversely to their class frequency
    sample_weight : (n,) optional per-sample weights (replace ``balanced``)
    prior : (n_classes, d) optional weights that the L2 penalty pulls towards (instead of
        zero): ``l2 * ||weight - prior||^2``; a row of zeros is the plain penalty
    frozen : (n_classes,) optional bool: these rows (weight and bias) stay at ``init``
        (zeros without it); they still compete in the softmax
    outliers : (m, d) optional features of music that is none of the classes: their target
        is the uniform distribution (outlier exposure), weighted ``outlier_weight`` against
        the labelled samples' mean loss

    Returns
    -------
    weight : (n_classes, d), bias : (n_classes,)
    """
    xt = torch.from_numpy(np.asarray(x, np.float32))
    yt = torch.from_numpy(np.asarray(y, np.int64))
    w = torch.zeros(n_classes, xt.shape[1], requires_grad=True)
    b = torch.zeros(n_classes, requires_grad=True)
    w0 = torch.zeros(n_classes, xt.shape[1]) if prior is None else torch.from_numpy(np.asarray(prior, np.float32))
    if init is not None:
        with torch.no_grad():
            w.copy_(torch.from_numpy(init[0]))
            b.copy_(torch.from_numpy(init[1]))
    if sample_weight is not None:
        sw = torch.from_numpy(np.asarray(sample_weight, np.float32))
        sw = sw / sw.mean()
    elif balanced:
        sw = torch.from_numpy(class_weights(y, n_classes))[yt]
    else:
        sw = torch.ones(len(yt))
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=20, history_size=10, line_search_fn="strong_wolfe")
    keep = torch.zeros(n_classes, dtype=torch.bool) if frozen is None else torch.from_numpy(np.asarray(frozen, bool))
    w_fixed, b_fixed = w.detach().clone(), b.detach().clone()

    def effective():
        return (torch.where(keep[:, None], w_fixed, w), torch.where(keep, b_fixed, b))

    ot = None if outliers is None or not len(outliers) else torch.from_numpy(np.asarray(outliers, np.float32))

    def closure():
        opt.zero_grad()
        we, be = effective()
        loss = (F.cross_entropy(xt @ we.T + be, yt, reduction="none") * sw).mean() + l2 * ((we - w0) ** 2).sum()
        if ot is not None:  # cross-entropy against the uniform distribution
            loss = loss - outlier_weight * F.log_softmax(ot @ we.T + be, dim=1).mean()
        loss.backward()
        return loss

    for _ in range(max(1, steps // 20)):
        check_stop(should_stop)
        opt.step(closure)
    we, be = effective()
    return we.detach().numpy(), be.detach().numpy()


def fit_standardised_head(x: np.ndarray, y: np.ndarray, n_classes: int, l2: float,
                          sample_weight: Optional[np.ndarray] = None,
                          prior: Optional[tuple[np.ndarray, np.ndarray]] = None,
                          frozen: Optional[np.ndarray] = None, outliers: Optional[np.ndarray] = None,
                          should_stop: Optional[StopCallback] = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fit_linear_head` on standardised features, folded back to act on raw ones.

    The L2 penalty then treats every feature dimension alike, whatever its scale.
    ``prior = (weight (n_classes, d), bias (n_classes,))``, a head acting on the raw
    features, is where the fit starts and what the penalty pulls towards (rows of zeros
    for classes without prior knowledge). ``frozen`` rows stay the prior's exactly.

    Returns
    -------
    weight : (n_classes, d) float32, bias : (n_classes,) float32, for ``x @ weight.T + bias``
    """
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    init = None
    if prior is not None:  # the same head in standardised coordinates
        w_raw, b_raw = (np.asarray(a, np.float64) for a in prior)
        init = ((w_raw * std).astype(np.float32), (b_raw + w_raw @ mean).astype(np.float32))
    w, b = fit_linear_head((x - mean) / std, y, n_classes, l2=l2, sample_weight=sample_weight,
                           init=init, prior=None if init is None else init[0], frozen=frozen,
                           outliers=None if outliers is None else (outliers - mean) / std, should_stop=should_stop)
    return (w / std).astype(np.float32), (b - (w / std) @ mean).astype(np.float32)
