"""Augmentations of log-mel batches (torch, in place-free): crops, gain, SpecAugment."""
from __future__ import annotations

import numpy as np
import torch

from genre_desktop.core.engine.classify.verdict import loop_to_length


def random_crops(mel: np.ndarray, n: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random crops of ``length`` frames from (n_mels, n_frames); loops short tracks.

    Returns crops (n, n_mels, length) float32 and their first frames (n,).
    """
    if mel.shape[1] < length:
        mel = loop_to_length(mel, length)
    n_frames = mel.shape[1]
    starts = rng.integers(0, n_frames - length + 1, size=n)
    return np.stack([mel[:, s:s + length] for s in starts]).astype(np.float32), starts


def random_gain(batch: torch.Tensor, max_db: float, generator: torch.Generator) -> torch.Tensor:
    """Scale the power under ``log10(1 + 10000 p)`` by a random gain in +-``max_db`` dB."""
    db = (torch.rand(batch.shape[0], 1, 1, generator=generator) * 2 - 1) * max_db
    gain = 10 ** (db / 10)
    power = torch.pow(10.0, batch) - 1.0
    return torch.log10(1.0 + power * gain)


def spec_augment(batch: torch.Tensor, generator: torch.Generator, max_freq: int = 12,
                 max_time: int = 24) -> torch.Tensor:
    """One frequency and one time mask per example, filled with the example's mean."""
    out = batch.clone()
    b, n_mels, n_frames = batch.shape
    fill = batch.mean(dim=(1, 2))
    widths_f = torch.randint(0, max_freq + 1, (b,), generator=generator)
    widths_t = torch.randint(0, max_time + 1, (b,), generator=generator)
    for i in range(b):
        f0 = int(torch.randint(0, n_mels - int(widths_f[i]) + 1, (1,), generator=generator))
        t0 = int(torch.randint(0, n_frames - int(widths_t[i]) + 1, (1,), generator=generator))
        out[i, f0:f0 + int(widths_f[i]), :] = fill[i]
        out[i, :, t0:t0 + int(widths_t[i])] = fill[i]
    return out
