"""The genre networks bundles hold; both map 2.5-s log-mel slices to genres and tags.

- ``musicnn_genre``: the pretrained MSD_musicnn backbone (its 200-d penultimate layer) with
  a linear genre head; its own tag layer gives descriptors such as "80s" for free.
- ``genre_cnn``: a compact CNN with one embedding and two heads (genres; tags), trained from
  scratch; the retired bundled model ``genre_cnn_v1`` was one, and a person's models trained
  from it still load (its distillation recipe is in the git history, not here).

Both return ``(genre_logits, tag_logits or None, embedding)`` from ``forward`` and expose
``features(mel)``: what the genre head sees, for fitting a new head on frozen features.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genre_desktop.core.engine.network.architectures import ARCHITECTURES, check_architecture
from genre_desktop.core.engine.network.musicnn import MusiCNN


class GenreCNN(nn.Module):
    """Four conv blocks, global mean+max pooling, a linear embedding and two heads.

    Parameters
    ----------
    n_labels : int
        Genres.
    n_mels : int
    channels : sequence of int
        Output channels of the conv blocks.
    embedding : int
        Embedding size (200 = MSD_musicnn's penultimate layer, the distillation target).
    n_tags : int
        Tag outputs (0 for none).
    """

    def __init__(self, n_labels: int, n_mels: int = 96, channels=(32, 64, 128, 192),
                 embedding: int = 200, n_tags: int = 0, dropout: float = 0.3):
        super().__init__()
        self.input_bn = nn.BatchNorm2d(1)
        blocks = []
        c_in = 1
        for c_out in channels:
            blocks += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout)
        self.embed = nn.Linear(2 * c_in, embedding)
        self.head = nn.Linear(embedding, n_labels)
        self.tag_head = nn.Linear(embedding, n_tags) if n_tags else None

    def embedding(self, mel: torch.Tensor) -> torch.Tensor:
        """(batch, n_mels, frames) -> (batch, embedding)."""
        h = self.blocks(self.input_bn(mel.unsqueeze(1)))
        pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return self.embed(self.dropout(pooled))

    def features(self, mel: torch.Tensor) -> torch.Tensor:
        """The genre head's input: (batch, n_mels, frames) -> (batch, embedding)."""
        return F.relu(self.embedding(mel))

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Returns ``(genre_logits, tag_logits or None, embedding)``."""
        emb = self.embedding(mel)
        act = F.relu(emb)
        tags = self.tag_head(act) if self.tag_head is not None else None
        return self.head(act), tags, act


#: ln(10): the log-mel is ``log10(1 + y)`` with ``y = 10000 * mel power``
_LN10 = 2.302585092994046
#: quieter slices than this mean ``y`` are not raised further (digital silence stays silent)
LEVEL_FLOOR = 1e-9


def normalise_level(mel: torch.Tensor, reference: float | None) -> torch.Tensor:
    """Each slice of (batch, n_mels, frames) log-mel brought to one level: ``y = 10 ** mel - 1``
    (10000 x the mel power) scaled so that its mean over the slice is ``reference``, then
    compressed again, ``log10(1 + y)``. A gain applied to the audio scales ``y`` and is
    undone exactly, so the network sees the same input at any loudness; silence is still
    told by the raw level (``verdict.silent_slices`` reads the slices before this). In
    float64 (``10 ** mel - 1`` loses quiet bins in float32); plain ops, so the ONNX graph
    holds it too. ``reference`` None: ``mel`` unchanged.
    """
    if reference is None:
        return mel
    y = torch.exp(mel.double() * _LN10) - 1.0
    level = y.mean(dim=(1, 2), keepdim=True).clamp_min(LEVEL_FLOOR)
    return (torch.log(1.0 + y * (reference / level)) / _LN10).float()


class MusicnnGenre(nn.Module):
    """MSD_musicnn with a linear genre head on its penultimate layer.

    Its batch norms keep the statistics learnt on the Million Song Dataset, also while
    fine-tuning (small batches of one library would only add noise). ``freeze_frontend``
    (the default) keeps the convolutional front-end fixed: training then touches the
    mid-end, the dense layer and the head, and the front-end runs on its fast,
    factorised inference path even during training.

    Parameters
    ----------
    n_labels : int
    n_tags : int
        50 keeps MSD_musicnn's tag layer (descriptors); 0 drops it.
    freq_stride, temporal_freq_stride : int
        Frequency strides of the timbral and temporal front-end filters (1: the original
        network; 2: the max over every other mel band, cheaper and approximate).
    dropout : float
        Dropout before the genre head while training.
    level_reference : float, optional
        Level normalisation (:func:`normalise_level`): every slice is brought to this
        mean ``10000 * mel power`` before the network reads it, so that the same music at
        any loudness gives the same outputs. None (bundles before v3.2): the raw log-mel.
    """

    def __init__(self, n_labels: int, n_tags: int = 50, freq_stride: int = 1,
                 temporal_freq_stride: int | None = None, dropout: float = 0.3,
                 freeze_frontend: bool = True, level_reference: float | None = None):
        super().__init__()
        self.level_reference = level_reference
        self.backbone = MusiCNN(freq_stride=freq_stride, temporal_freq_stride=temporal_freq_stride)
        self.n_tags = n_tags
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.backbone.dense.out_features, n_labels)
        if freeze_frontend:
            for module in self.backbone.frontend_modules():
                module.requires_grad_(False)

    def train(self, mode: bool = True) -> "MusicnnGenre":
        super().train(mode)
        for module in self.backbone.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
        return self

    def embedding(self, mel: torch.Tensor) -> torch.Tensor:
        """(batch, n_mels, frames) -> (batch, 200), MSD_musicnn's penultimate layer."""
        return self.backbone(normalise_level(mel, self.level_reference))[1]

    def features(self, mel: torch.Tensor) -> torch.Tensor:
        """The genre head's input (the penultimate layer, already ReLU + batch norm)."""
        return self.embedding(mel)

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Returns ``(genre_logits, tag_logits or None, embedding)``."""
        tag_logits, emb = self.backbone(normalise_level(mel, self.level_reference))
        return self.head(self.dropout(emb)), (tag_logits if self.n_tags else None), emb


#: slices per forward pass outside the app's classifier: memory stays flat however long a track is
SLICE_BATCH = 64


@torch.inference_mode()
def in_batches(fn, slices) -> torch.Tensor:
    """``fn`` (slices -> per-slice outputs) over (n, n_mels, frames) slices, ``SLICE_BATCH``
    at a time, without gradients; returns the outputs concatenated, shape (n, ...)."""
    import numpy as np

    return torch.cat([fn(torch.from_numpy(np.ascontiguousarray(slices[i:i + SLICE_BATCH], np.float32)))
                      for i in range(0, len(slices), SLICE_BATCH)])


def build_model(architecture: dict, n_labels: int, n_tags: int = 0) -> nn.Module:
    """Instantiate a network from a bundle's ``architecture`` entry (checked first)."""
    check_architecture(architecture)
    name = architecture.get("name")
    params = dict(architecture.get("params", {}))
    if name == "genre_cnn":
        return GenreCNN(n_labels, n_tags=n_tags, **params)
    if name == "musicnn_genre":
        return MusicnnGenre(n_labels, n_tags=n_tags, **params)
    raise ValueError(f"unknown architecture {name!r} (known: {', '.join(ARCHITECTURES)})")
