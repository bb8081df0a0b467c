"""Train or fine-tune a slice network on random 2.5-s crops labelled with their track's genre.

The wizard's thorough mode fine-tunes the base network this way (for MSD_musicnn all but
its frozen front-end); the tests train a tiny CNN from scratch with it. Crops are drawn
class-balanced, with gain and SpecAugment; validation is by track, through the app's vote.
"""
from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F

from genre_desktop.core.training.augment import random_crops, random_gain, spec_augment
from genre_desktop.core.engine.classify.verdict import fit_slices, silent_slices, vote
from genre_desktop.core.engine.network.model import GenreCNN, in_batches
from genre_desktop.core.tasks import ProgressCallback, StopCallback, check_stop, no_progress

log = logging.getLogger(__name__)


@dataclass
class TrackData:
    """One training track: its log-mel and label."""

    mel: np.ndarray  # (n_mels, n_frames), float16 or float32
    label: int


@dataclass
class FineTuneOptions:
    epochs: int = 20
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    gain_db: float = 6.0
    spec_augment: bool = True
    patience: int = 6
    seed: int = 0
    channels: tuple = (32, 64, 128, 192)
    slice_frames: int = 156
    max_seconds: Optional[float] = None  # wall-clock budget
    select_best: bool = True  # keep the best validation epoch (else the last one)


@dataclass
class History:
    epochs: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int = -1

    def add(self, epoch: int, loss: float, accuracy: float, seconds: float) -> None:
        """Record one finished epoch (numbered from 1) and log it."""
        self.epochs.append(epoch)
        self.train_loss.append(loss)
        self.val_accuracy.append(accuracy)
        self.seconds.append(seconds)
        log.info("epoch %d: loss %.4f, val track accuracy %.3f (%.0f s)", epoch, loss, accuracy, seconds)


def track_probs(model: torch.nn.Module, mel: np.ndarray, slice_frames: int) -> np.ndarray:
    """Voted genre distribution of one track, as the app computes it, shape (n_labels,)."""
    slices, _ = fit_slices(np.asarray(mel, np.float32), slice_frames)
    logits = in_batches(lambda batch: model(batch)[0], slices)
    return vote(torch.softmax(logits, dim=1).numpy(), audible=~silent_slices(slices))


def evaluate_tracks(model: torch.nn.Module, tracks: list[TrackData], slice_frames: int) -> tuple[float, np.ndarray]:
    """Track accuracy and predicted labels."""
    model.eval()
    preds = np.array([int(np.argmax(track_probs(model, t.mel, slice_frames))) for t in tracks])
    labels = np.array([t.label for t in tracks])
    return float((preds == labels).mean()) if len(tracks) else 0.0, preds


def train_network(train: list[TrackData], val: list[TrackData], n_labels: int, n_tags: int,
                  options: FineTuneOptions, model: Optional[GenreCNN] = None,
                  track_weights: Optional[np.ndarray] = None,
                  progress: ProgressCallback = no_progress,
                  should_stop: Optional[StopCallback] = None,
                  on_epoch: Optional[Callable[[History], None]] = None) -> tuple[GenreCNN, History]:
    """Train (or fine-tune ``model``) on random crops with class-balanced sampling.

    ``track_weights`` (n_tracks,) replaces the default sampling weights (each genre
    equally often). With ``options.select_best`` the weights of the epoch with the best
    validation track accuracy are kept and training stops after ``options.patience``
    epochs without improvement; otherwise the last epoch's weights are returned.
    ``on_epoch(history)`` is called after each epoch (for live curves).
    """
    trainer = _Trainer.start(train, n_labels, n_tags, options, model, track_weights)
    model, history = trainer.model, History()
    best_state, best_acc, stale = None, -1.0, 0
    t0 = time.perf_counter()
    for epoch in range(options.epochs):
        loss = trainer.epoch(train, epoch, progress, should_stop)
        acc, _ = evaluate_tracks(model, val, options.slice_frames) if val else (0.0, None)
        history.add(epoch + 1, loss, acc, time.perf_counter() - t0)
        if on_epoch is not None:
            on_epoch(history)
        if acc > best_acc or not val or not options.select_best:
            best_acc, best_state, stale = acc, copy.deepcopy(model.state_dict()), 0
            history.best_epoch = epoch + 1
        else:
            stale += 1
            if stale >= options.patience:
                break
        if options.max_seconds and history.seconds[-1] > options.max_seconds:
            log.info("time budget reached")
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, history


@dataclass
class _Trainer:
    """One training run's moving parts: the network, its optimiser and one-cycle schedule,
    the class-balanced sampling of tracks and the seeded random sources."""

    model: torch.nn.Module
    options: FineTuneOptions
    opt: torch.optim.Optimizer
    sched: object
    labels: np.ndarray
    track_weight: np.ndarray
    steps: int
    rng: np.random.Generator
    gen: torch.Generator

    @classmethod
    def start(cls, train: list[TrackData], n_labels: int, n_tags: int, options: FineTuneOptions,
              model: Optional[GenreCNN], track_weights: Optional[np.ndarray]) -> "_Trainer":
        """Seed everything, build the network when none is given, and plan the steps."""
        torch.manual_seed(options.seed)
        rng = np.random.default_rng(options.seed)
        gen = torch.Generator().manual_seed(options.seed)
        if model is None:
            n_mels = train[0].mel.shape[0]
            model = GenreCNN(n_labels, n_mels=n_mels, channels=options.channels, n_tags=n_tags)
        opt = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
        labels = np.array([t.label for t in train])
        counts = np.bincount(labels, minlength=n_labels)
        track_weight = 1.0 / counts[labels] if track_weights is None else np.asarray(track_weights, float)
        track_weight = track_weight / track_weight.sum()
        crops_per_epoch = sum(max(1, t.mel.shape[1] // options.slice_frames) for t in train)
        steps = max(1, crops_per_epoch // options.batch_size)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=options.lr, total_steps=steps * options.epochs,
                                                    pct_start=0.15)
        return cls(model, options, opt, sched, labels, track_weight, steps, rng, gen)

    def epoch(self, train: list[TrackData], epoch: int, progress: ProgressCallback,
              should_stop: Optional[StopCallback]) -> float:
        """One epoch of augmented random crops; returns its mean training loss."""
        options, total_steps = self.options, self.steps * self.options.epochs
        self.model.train()
        losses = []
        for step in range(self.steps):
            check_stop(should_stop)
            picks = self.rng.choice(len(train), size=options.batch_size, p=self.track_weight)
            x = torch.from_numpy(_make_batch([train[i] for i in picks], options, self.rng))
            if options.gain_db:
                x = random_gain(x, options.gain_db, self.gen)
            if options.spec_augment:
                x = spec_augment(x, self.gen)
            loss = F.cross_entropy(self.model(x)[0], torch.from_numpy(self.labels[picks]),
                                   label_smoothing=options.label_smoothing)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            self.sched.step()
            losses.append(float(loss.detach()))
            done = (epoch * self.steps + step + 1) / total_steps
            progress(done, f"epoch {epoch + 1}/{options.epochs}, loss {np.mean(losses):.3f}")
        return float(np.mean(losses))


def _make_batch(tracks: list[TrackData], options: "FineTuneOptions", rng: np.random.Generator) -> np.ndarray:
    """One random crop of each track, shape (len(tracks), n_mels, slice_frames)."""
    return np.stack([random_crops(t.mel, 1, options.slice_frames, rng)[0][0] for t in tracks])
