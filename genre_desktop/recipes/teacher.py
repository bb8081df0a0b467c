"""The pretrained MSD_musicnn backbone as a teacher: embeddings and tags per patch."""
from __future__ import annotations

from importlib import resources

import numpy as np
import torch
from safetensors.torch import load_file

from ..core.engine.musicnn import PATCH_FRAMES, MusiCNN
from ..core.engine.verdict import loop_to_length


def load_teacher() -> MusiCNN:
    """The converted MSD_musicnn shipped in ``models/msd_musicnn`` (eval mode)."""
    weights = resources.files("genre_desktop_models") / "msd_musicnn" / "weights.safetensors"
    model = MusiCNN()
    with resources.as_file(weights) as path:
        model.load_state_dict(load_file(str(path)), strict=True)
    return model.eval()


def patch_starts(n_frames: int, hop_frames: int, patch_frames: int = PATCH_FRAMES) -> np.ndarray:
    """First frames of patches covering ``n_frames`` (at least one, possibly looped)."""
    if n_frames <= patch_frames:
        return np.zeros(1, int)
    return np.arange(0, n_frames - patch_frames + 1, hop_frames)


def crop(mel: np.ndarray, start: int, length: int) -> np.ndarray:
    """``mel[:, start:start+length]``, looping a too-short spectrogram to fill ``length``."""
    if mel.shape[1] < length:
        mel = loop_to_length(mel, length)
    return mel[:, start:start + length]


@torch.inference_mode()
def teacher_outputs(teacher: MusiCNN, mel: np.ndarray, hop_frames: int = 94,
                    batch_size: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the teacher over a track.

    Parameters
    ----------
    mel : numpy.ndarray, shape (96, n_frames)
    hop_frames : int
        Patch hop (94 frames = 1.5 s).

    Returns
    -------
    starts : (n_patches,) int, first frame of each 187-frame patch
    embeddings : (n_patches, 200) float32, the penultimate layer
    tags : (n_patches, 50) float32, sigmoid tag probabilities
    """
    starts = patch_starts(mel.shape[1], hop_frames)
    embs, tags = [], []
    for i in range(0, len(starts), batch_size):
        batch = np.stack([crop(mel, s, PATCH_FRAMES) for s in starts[i:i + batch_size]])
        logits, emb = teacher(torch.from_numpy(batch.astype(np.float32)))
        embs.append(emb.numpy())
        tags.append(torch.sigmoid(logits).numpy())
    return starts, np.concatenate(embs), np.concatenate(tags)
