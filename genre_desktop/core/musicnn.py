"""A PyTorch port of MSD_musicnn (Pons & Serra, 2019), used as the teacher/backbone.

The original is TensorFlow 1 code in the ``musicnn`` wheel (ISC licence). This port
matches it layer for layer; ``tools/convert_musicnn.py`` turns the wheel's checkpoint
into ``models/msd_musicnn/weights.safetensors`` and ``tests/test_musicnn_port.py`` checks
the tags against outputs recorded from TensorFlow.

Input: log-mel patches (batch, 96 mels, 187 frames) from :mod:`genre_desktop.core.features`
with the default :class:`FeatureConfig`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MSD_TAGS = ['rock', 'pop', 'alternative', 'indie', 'electronic', 'female vocalists', 'dance',
            '00s', 'alternative rock', 'jazz', 'beautiful', 'metal', 'chillout', 'male vocalists',
            'classic rock', 'soul', 'indie rock', 'Mellow', 'electronica', '80s', 'folk', '90s',
            'chill', 'instrumental', 'punk', 'oldies', 'blues', 'hard rock', 'ambient', 'acoustic',
            'experimental', 'female vocalist', 'guitar', 'Hip-Hop', '70s', 'party', 'country',
            'easy listening', 'sexy', 'catchy', 'funk', 'electro', 'heavy metal',
            'Progressive rock', '60s', 'rnb', 'indie pop', 'sad', 'House', 'happy']
PATCH_FRAMES = 187
BN_EPS = 1e-3  # TensorFlow's default


def _bn(n: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(n, eps=BN_EPS)


class MusiCNN(nn.Module):
    """MSD_musicnn: timbral + temporal front-end, dense mid-end, pooled back-end.

    ``forward`` returns ``(tag_logits, penultimate)``: shapes (batch, 50) and (batch, 200).
    """

    def __init__(self, n_mels: int = 96, n_tags: int = 50, midend: int = 64, backend: int = 200):
        super().__init__()
        self.input_bn = nn.BatchNorm2d(1, eps=BN_EPS)
        self.timbral_74 = nn.Conv2d(1, 204, (7, int(0.4 * n_mels)))
        self.timbral_74_bn = nn.BatchNorm2d(204, eps=BN_EPS)
        self.timbral_77 = nn.Conv2d(1, 204, (7, int(0.7 * n_mels)))
        self.timbral_77_bn = nn.BatchNorm2d(204, eps=BN_EPS)
        self.temporal = nn.ModuleList([nn.Conv2d(1, 51, (k, 1)) for k in (128, 64, 32)])
        self.temporal_bn = nn.ModuleList([nn.BatchNorm2d(51, eps=BN_EPS) for _ in range(3)])
        front = 204 * 2 + 51 * 3
        self.mid = nn.ModuleList([nn.Conv1d(front, midend, 7, padding=3),
                                  nn.Conv1d(midend, midend, 7, padding=3),
                                  nn.Conv1d(midend, midend, 7, padding=3)])
        self.mid_bn = nn.ModuleList([_bn(midend) for _ in range(3)])
        pooled = 2 * (front + 3 * midend)
        self.pool_bn = _bn(pooled)
        self.dense = nn.Linear(pooled, backend)
        self.dense_bn = _bn(backend)
        self.tags = nn.Linear(backend, n_tags)

    def frontend(self, mel: torch.Tensor) -> torch.Tensor:
        """(batch, n_mels, frames) -> (batch, 561, frames)."""
        x = self.input_bn(mel.transpose(1, 2).unsqueeze(1))  # (B, 1, T, F) like TF's NHWC
        padded = F.pad(x, (0, 0, 3, 3))
        feats = []
        for conv, bn in ((self.timbral_74, self.timbral_74_bn), (self.timbral_77, self.timbral_77_bn)):
            feats.append(bn(F.relu(conv(padded))).amax(dim=3))
        for conv, bn in zip(self.temporal, self.temporal_bn):
            k = conv.kernel_size[0]
            same = F.pad(x, (0, 0, (k - 1) // 2, k // 2))  # TensorFlow's "same" for even k
            feats.append(bn(F.relu(conv(same))).amax(dim=3))
        return torch.cat(feats, dim=1)

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        front = self.frontend(mel)
        layers = [front]
        h = self.mid_bn[0](F.relu(self.mid[0](front)))
        layers.append(h)
        for conv, bn in zip(self.mid[1:], self.mid_bn[1:]):
            h = bn(F.relu(conv(h))) + h
            layers.append(h)
        feats = torch.cat(layers, dim=1)  # (B, 753, T)
        # TF flattens [max, mean] per channel, interleaved
        pooled = torch.stack([feats.amax(dim=2), feats.mean(dim=2)], dim=2).flatten(1)
        penultimate = self.dense_bn(F.relu(self.dense(self.pool_bn(pooled))))
        return self.tags(penultimate), penultimate


def tf_to_torch_state(tf_vars: dict) -> dict:
    """Map the MSD_musicnn checkpoint's variables (numpy arrays) to :class:`MusiCNN` keys."""
    import numpy as np

    out: dict = {}

    def bn(tf_name: str, key: str) -> None:
        out[f"{key}.weight"] = tf_vars[f"{tf_name}/gamma"]
        out[f"{key}.bias"] = tf_vars[f"{tf_name}/beta"]
        out[f"{key}.running_mean"] = tf_vars[f"{tf_name}/moving_mean"]
        out[f"{key}.running_var"] = tf_vars[f"{tf_name}/moving_variance"]
        out[f"{key}.num_batches_tracked"] = np.array(0, dtype=np.int64)

    def conv2d(tf_name: str, key: str) -> None:
        out[f"{key}.weight"] = tf_vars[f"{tf_name}/kernel"].transpose(3, 2, 0, 1)
        out[f"{key}.bias"] = tf_vars[f"{tf_name}/bias"]

    def conv1d(tf_name: str, key: str) -> None:
        out[f"{key}.weight"] = tf_vars[f"{tf_name}/kernel"][:, :, 0, :].transpose(2, 1, 0)
        out[f"{key}.bias"] = tf_vars[f"{tf_name}/bias"]

    def dense(tf_name: str, key: str) -> None:
        out[f"{key}.weight"] = tf_vars[f"{tf_name}/kernel"].T
        out[f"{key}.bias"] = tf_vars[f"{tf_name}/bias"]

    bn("batch_normalization", "input_bn")
    conv2d("conv2d", "timbral_74"); bn("batch_normalization_1", "timbral_74_bn")
    conv2d("conv2d_1", "timbral_77"); bn("batch_normalization_2", "timbral_77_bn")
    for i in range(3):
        conv2d(f"conv2d_{2 + i}", f"temporal.{i}"); bn(f"batch_normalization_{3 + i}", f"temporal_bn.{i}")
    for i in range(3):
        conv1d(f"conv2d_{5 + i}", f"mid.{i}"); bn(f"batch_normalization_{6 + i}", f"mid_bn.{i}")
    bn("batch_normalization_9", "pool_bn")
    dense("dense", "dense"); bn("batch_normalization_10", "dense_bn")
    dense("dense_1", "tags")
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in out.items()}
