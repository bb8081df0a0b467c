"""Thorough mode for MSD_musicnn: fine-tune the whole network on a person's library.

The recipe (measured on Emotify, see ``docs/wizard_accuracy.md``): start from the quick
mode's head; train every layer, the front-end included in its factorised form
(:class:`~genre_desktop.core.musicnn.TrainableFrontend`), with Adam at a small learning
rate; each epoch sees every training track's slices at a fresh random offset, with a
random level shift and label smoothing; batch norms keep their pretrained statistics.
The last epoch's weights are kept (validation only reports, it does not select).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .features import fit_slices
from .heads import class_weights
from .model import MusicnnGenre
from .musicnn import TrainableFrontend
from .student import History, TrackData, evaluate_tracks
from .tasks import ProgressCallback, StopCallback, check_stop, no_progress

log = logging.getLogger(__name__)


@dataclass
class FineTuneOptions:
    epochs: int = 3
    lr: float = 2e-5
    batch_size: int = 32
    micro_batch: int = 8  # slices per forward/backward (cancel is checked between them)
    max_slices_per_track: int = 24  # per epoch: bounds the time of long tracks
    level_shift: float = 0.3  # random shift of the log-mel, +-, per slice
    label_smoothing: float = 0.1
    slice_frames: int = 156
    seed: int = 0


class _Trainable(nn.Module):
    """MusicnnGenre with its front-end swapped for the trainable factorised one."""

    def __init__(self, model: MusicnnGenre):
        super().__init__()
        self.model = model
        self.frontend = TrainableFrontend(model.backbone)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        backbone = self.model.backbone
        front = self.frontend(backbone.normalise_input(mel))
        return self.model.head(self.model.dropout(backbone.backend(front)[1]))


def epoch_slices(tracks: list[TrackData], options: FineTuneOptions,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One epoch's training slices: each track's, from a random offset, shuffled.

    Returns
    -------
    slices : (n, n_mels, slice_frames) float32
    labels : (n,) int64
    """
    xs, ys = [], []
    for track in tracks:
        mel = np.asarray(track.mel, np.float32)
        offset = int(rng.integers(0, options.slice_frames)) if mel.shape[1] > 2 * options.slice_frames else 0
        slices, _ = fit_slices(mel[:, offset:], options.slice_frames)
        if len(slices) > options.max_slices_per_track:
            slices = slices[np.sort(rng.choice(len(slices), options.max_slices_per_track, replace=False))]
        xs.append(slices)
        ys.append(np.full(len(slices), track.label, np.int64))
    order = rng.permutation(sum(len(y) for y in ys))
    return np.concatenate(xs)[order], np.concatenate(ys)[order]


def fine_tune_musicnn(model: MusicnnGenre, train: list[TrackData], val: list[TrackData],
                      n_labels: int, options: FineTuneOptions = FineTuneOptions(),
                      progress: ProgressCallback = no_progress,
                      should_stop: Optional[StopCallback] = None,
                      on_epoch: Optional[Callable[[History], None]] = None) -> tuple[MusicnnGenre, History]:
    """Fine-tune ``model`` (in place) on ``train``; returns it, in eval mode, and its history.

    ``val`` tracks are scored after every epoch (for the curves). Cancellation is checked
    between micro-batches (well under a second each on 2 cores).
    """
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    trainable = _Trainable(model)
    frontend_params = [p for m in model.backbone.frontend_modules() for p in m.parameters()]
    was_trainable = [p.requires_grad for p in frontend_params]
    for p in frontend_params:
        p.requires_grad_(False)  # trained through trainable.frontend instead
    params = [p for p in trainable.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=options.lr)
    weights = torch.from_numpy(class_weights(np.array([t.label for t in train]), n_labels))
    history = History()
    t0 = time.perf_counter()
    per_epoch = sum(min(options.max_slices_per_track, max(1, t.mel.shape[1] // options.slice_frames))
                    for t in train)
    for epoch in range(options.epochs):
        trainable.train()  # MusicnnGenre keeps its batch norms in eval mode
        x, y = epoch_slices(train, options, rng)
        losses = []
        for start in range(0, len(x), options.batch_size):
            opt.zero_grad()
            batch = slice(start, min(start + options.batch_size, len(x)))
            n_batch = batch.stop - batch.start
            total = 0.0
            for micro in range(batch.start, batch.stop, options.micro_batch):
                check_stop(should_stop)
                part = slice(micro, min(micro + options.micro_batch, batch.stop))
                xb = torch.from_numpy(x[part])
                shift = torch.empty(len(xb), 1, 1).uniform_(-options.level_shift, options.level_shift)
                loss = F.cross_entropy(trainable(xb + shift), torch.from_numpy(y[part]),
                                       weight=weights, label_smoothing=options.label_smoothing)
                (loss * (part.stop - part.start) / n_batch).backward()
                total += float(loss.detach()) * (part.stop - part.start) / n_batch
            opt.step()
            losses.append(total)
            done = (epoch * per_epoch + batch.stop) / (options.epochs * per_epoch)
            progress(min(done, 1.0), f"epoch {epoch + 1}/{options.epochs}, loss {np.mean(losses):.3f}")
        trainable.frontend.fold_into(model.backbone)  # the ordinary weights hold this epoch
        acc, _ = evaluate_tracks(model, val, options.slice_frames) if val else (0.0, None)
        history.epochs.append(epoch + 1)
        history.train_loss.append(float(np.mean(losses)))
        history.val_accuracy.append(acc)
        history.seconds.append(time.perf_counter() - t0)
        history.best_epoch = epoch + 1
        log.info("epoch %d: loss %.4f, val track accuracy %.3f (%.0f s)", epoch + 1,
                 history.train_loss[-1], acc, history.seconds[-1])
        if on_epoch is not None:
            on_epoch(history)
    for p, flag in zip(frontend_params, was_trainable):
        p.requires_grad_(flag)
    model.eval()
    return model, history
