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
FAST_CHUNK = 4  # slices per step of the factorised front-end


def _bn(n: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(n, eps=BN_EPS)


def _bn_relu(extreme_max: torch.Tensor, extreme_min: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    """``max over frequency of bn(relu(y))`` from the max and min of ``y`` over frequency.

    In eval mode the batch norm is a per-channel affine map ``a*y + b``; ReLU is monotonic,
    so for ``a >= 0`` the maximum comes from the largest ``y``, for ``a < 0`` from the
    smallest. Inputs and output: (B, C, T).
    """
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias - bn.running_mean * scale
    extreme = torch.where((scale >= 0)[None, :, None], extreme_max, extreme_min)
    return F.relu(extreme) * scale[None, :, None] + shift[None, :, None]


class _FactorisedConv:
    """A one-input-channel conv whose filters span few dimensions, as basis + mixing matrix.

    MSD_musicnn's front-end filters are (numerically) low-rank: 204 timbral filters span 24
    and 16 dimensions, the 51 temporal ones 4, 8 and 16. ``weight ~= mix @ basis`` with
    the rank chosen so that the dropped singular values hold < ``tolerance`` of the energy;
    the conv then costs ``rank`` filters plus a small matmul, and the max/min over
    frequency is taken straight from the matmul output.
    """

    def __init__(self, conv: nn.Conv2d, tolerance: float = 1e-7):
        w = conv.weight.detach()
        channels, _, kh, kw = w.shape
        u, s, vt = torch.linalg.svd(w.reshape(channels, -1).double(), full_matrices=False)
        energy = torch.cumsum(s * s, 0) / (s * s).sum()
        rank = int(torch.searchsorted(energy, torch.tensor(1.0 - tolerance, dtype=energy.dtype))) + 1
        self.rank = min(rank, len(s))
        self.basis = vt[:self.rank].reshape(self.rank, 1, kh, kw).float().contiguous()
        mix = (u[:, :self.rank] * s[:self.rank]).T.float()  # (rank, C)
        # reductions over rows of 51 floats run 4x slower than over 64 (measured): pad small C
        width = -(-channels // 64) * 64 if channels < 128 else channels
        self.mix = F.pad(mix, (0, width - channels)).contiguous()  # (rank, width)
        self.channels = channels
        self.bias = conv.bias.detach()[None, :, None]
        self.stride = conv.stride

    def max_min(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Max and min over frequency of ``conv(x)``: (B, 1, T', F) -> 2 x (B, C, T)."""
        basis_out = F.conv2d(x, self.basis, stride=self.stride)  # (B, rank, T, F')
        b, r, t, f = basis_out.shape
        rows = basis_out.permute(0, 2, 3, 1).reshape(b * t * f, r)  # one plain matmul, no bmm
        y = torch.mm(rows, self.mix).view(b, t, f, -1)  # (B, T, F', C)
        hi, lo = y.amax(dim=2), y.amin(dim=2)  # over contiguous rows: vectorised (aminmax is not)
        c = self.channels
        return hi[..., :c].transpose(1, 2) + self.bias, lo[..., :c].transpose(1, 2) + self.bias


def _same_time_padding(x: torch.Tensor, k: int) -> torch.Tensor:
    """TensorFlow's "same" padding in time for a kernel of ``k`` frames (even k too)."""
    return F.pad(x, (0, 0, (k - 1) // 2, k // 2))


class MusiCNN(nn.Module):
    """MSD_musicnn: timbral + temporal front-end, dense mid-end, pooled back-end.

    ``forward`` returns ``(tag_logits, penultimate)``: shapes (batch, 50) and (batch, 200).
    """

    def __init__(self, n_mels: int = 96, n_tags: int = 50, midend: int = 64, backend: int = 200,
                 freq_stride: int = 1):
        super().__init__()
        self._fast: list | None = None
        self.input_bn = nn.BatchNorm2d(1, eps=BN_EPS)
        self.timbral_74 = nn.Conv2d(1, 204, (7, int(0.4 * n_mels)))
        self.timbral_74_bn = nn.BatchNorm2d(204, eps=BN_EPS)
        self.timbral_77 = nn.Conv2d(1, 204, (7, int(0.7 * n_mels)))
        self.timbral_77_bn = nn.BatchNorm2d(204, eps=BN_EPS)
        self.temporal = nn.ModuleList([nn.Conv2d(1, 51, (k, 1)) for k in (128, 64, 32)])
        for conv in (self.timbral_74, self.timbral_77, *self.temporal):
            conv.stride = (1, freq_stride)  # >1: fewer frequency positions in the max (faster)
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

    def train(self, mode: bool = True) -> "MusiCNN":
        self._fast = None  # weights may change: rebuild the factorised front-end later
        return super().train(mode)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        self._fast = None
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def frontend(self, mel: torch.Tensor) -> torch.Tensor:
        """(batch, n_mels, frames) -> (batch, 561, frames).

        In eval mode without gradients this takes the factorised path (same numbers to
        float rounding, several times faster), a few slices at a time so the
        (slices, frames, channels, frequency) intermediate stays in cache.
        """
        x = self.input_bn(mel.transpose(1, 2).unsqueeze(1))  # (B, 1, T, F) like TF's NHWC
        if not self.training and not torch.is_grad_enabled():
            return torch.cat([self._fast_frontend(x[i:i + FAST_CHUNK])
                              for i in range(0, len(x), FAST_CHUNK)], dim=0)
        padded = F.pad(x, (0, 0, 3, 3))
        feats = []
        for conv, bn in ((self.timbral_74, self.timbral_74_bn), (self.timbral_77, self.timbral_77_bn)):
            feats.append(bn(F.relu(conv(padded))).amax(dim=3))
        for conv, bn in zip(self.temporal, self.temporal_bn):
            feats.append(bn(F.relu(conv(_same_time_padding(x, conv.kernel_size[0])))).amax(dim=3))
        return torch.cat(feats, dim=1)

    def _fast_frontend(self, x: torch.Tensor) -> torch.Tensor:
        if self._fast is None:
            convs = [self.timbral_74, self.timbral_77, *self.temporal]
            self._fast = [_FactorisedConv(conv) for conv in convs]
        timbral_74, timbral_77, *temporal = self._fast
        padded = F.pad(x, (0, 0, 3, 3))
        feats = [_bn_relu(*timbral_74.max_min(padded), self.timbral_74_bn),
                 _bn_relu(*timbral_77.max_min(padded), self.timbral_77_bn)]
        for conv, fast, bn in zip(self.temporal, temporal, self.temporal_bn):
            feats.append(_bn_relu(*fast.max_min(_same_time_padding(x, conv.kernel_size[0])), bn))
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
