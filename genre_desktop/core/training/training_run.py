"""What the stages of :func:`~genre_desktop.core.training.train_on_library.train_on_library`
share: the options a person chose and the run as it goes (the tracks read, the base model,
the label plan, the split)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from genre_desktop.core.engine.models.bundle import ModelBundle
from genre_desktop.core.tasks import StopCallback
from genre_desktop.core.training.labelled_folders import LabelledScan
from genre_desktop.core.training.scope import LabelPlan, fit_scoped_head, head_prior, pseudo_samples

# thorough mode's peak learning rate per base architecture: the pretrained MSD_musicnn
# mid-end overfits a small library at 1e-3 (Emotify, 20 tracks/genre: 73.8 % vs 81.2 % for
# quick mode on the same draw)
FINE_TUNE_LR = {"genre_cnn": 1e-3, "musicnn_genre": 1e-4}
SMALL_LIBRARY = 200  # up to this many tracks, quick mode also cross-validates over all of them


@dataclass
class TrainOptions:
    mode: str = "quick"  # "quick" or "thorough"
    epochs: Optional[int] = None  # thorough mode; default 8
    lr: Optional[float] = None  # thorough mode; default: the base architecture's FINE_TUNE_LR
    seed: int = 0
    val_fraction: float = 0.25
    l2: float = 0.1  # on standardised features
    # a genre the base model knows (same name, ignoring case, spaces and punctuation)
    # starts from the base's head row, and the L2 penalty pulls it there rather than to zero
    reuse_known_genres: bool = True
    scope: str = "extend"  # "extend": the base's genres plus yours; "only": yours alone


@dataclass
class Run:
    """What the stages share: the library as read, the base model, the label plan."""

    scan: LabelledScan
    base: ModelBundle
    plan: LabelPlan
    options: TrainOptions
    mels: list
    y: np.ndarray  # each track's row in plan.labels
    train_idx: np.ndarray
    val_idx: np.ndarray
    should_stop: Optional[StopCallback] = None

    @property
    def eval_idx(self) -> np.ndarray:
        return self.val_idx if len(self.val_idx) else self.train_idx

    @property
    def thorough(self) -> bool:
        return self.options.mode == "thorough"

    def head_fitter(self) -> Callable[[list, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """``fit(track_feats, rows) -> (weight, bias)``: the head for this plan on these
        tracks (also what the cross-validation refits on each fold)."""
        head = self.base.network.head
        prior = head_prior(self.plan, self.base.labels, head.weight.detach().numpy(), head.bias.detach().numpy())
        openset = self.base.openset
        use_pseudo = bool(self.plan.others) and openset is not None

        def fit(track_feats: list, rows: np.ndarray):
            x = np.concatenate(track_feats)
            ys = np.concatenate([[r] * len(f) for f, r in zip(track_feats, rows)])
            pseudo = pseudo_samples(openset, self.plan.others, track_feats, seed=self.options.seed) if use_pseudo else None
            return fit_scoped_head(self.plan, x, ys, self.options.l2, prior, pseudo, self.should_stop)

        return fit
