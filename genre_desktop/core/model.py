"""The genre network shipped in bundles: a compact CNN over 2.5-s log-mel slices.

It has one shared embedding and two heads: genres (the bundle's labels) and, when the
bundle has them, MSD tags distilled from MSD_musicnn (descriptors such as "80s").
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ARCHITECTURES = ("genre_cnn",)


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

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Returns ``(genre_logits, tag_logits or None, embedding)``."""
        emb = self.embedding(mel)
        act = F.relu(emb)
        tags = self.tag_head(act) if self.tag_head is not None else None
        return self.head(act), tags, emb


def build_model(architecture: dict, n_labels: int, n_tags: int = 0) -> nn.Module:
    """Instantiate a network from a bundle's ``architecture`` entry."""
    name = architecture.get("name")
    if name != "genre_cnn":
        raise ValueError(f"unknown architecture {name!r} (known: {', '.join(ARCHITECTURES)})")
    params = dict(architecture.get("params", {}))
    return GenreCNN(n_labels, n_tags=n_tags, **params)
