"""A PyTorch port of MSD_musicnn (Pons & Serra, 2019), the backbone of the bundled genre model.

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
FAST_CHUNK = 1  # slices per step of the factorised front-end (1 is fastest: cache-sized)


def _bn(n: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(n, eps=BN_EPS)


def _low_rank(weight: torch.Tensor, tolerance: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``weight (C, 1, kh, kw) ~= mix.T @ basis``: basis (rank, 1, kh, kw), mix (rank, C).

    The rank keeps all but < ``tolerance`` of the singular values' energy.
    """
    channels, _, kh, kw = weight.shape
    u, s, vt = torch.linalg.svd(weight.detach().reshape(channels, -1).double(), full_matrices=False)
    energy = torch.cumsum(s * s, 0) / (s * s).sum()
    rank = min(len(s), int(torch.searchsorted(energy, torch.tensor(1.0 - tolerance, dtype=energy.dtype))) + 1)
    basis = vt[:rank].reshape(rank, 1, kh, kw).float().contiguous()
    return basis, (u[:, :rank] * s[:rank]).T.float()


class _FactorisedConvMax:
    """``cat([bn(relu(conv(pad(x)))).amax(dim=frequency) for each conv])``, fast.

    For one-input-channel convs sharing an output grid (the two timbral convs each alone,
    the three temporal ones together). MSD_musicnn's front-end filters are (numerically)
    low-rank: 204 timbral filters span 23 and 14 dimensions, the 51 temporal ones 3, 7
    and 17. Each conv becomes a few basis filters, and one matmul mixes all basis outputs
    into the channels (rank chosen so that the dropped singular values hold < ``tolerance``
    of the energy: the same outputs to float rounding). In eval mode a batch norm is a
    per-channel affine map ``a*y + b`` and ReLU is monotonic, so the maximum over frequency
    comes from the largest conv output where ``a >= 0`` and from the smallest where
    ``a < 0``; with the latter's mixing columns negated, one max over the matmul output
    serves every channel, and nothing else touches that (frames x frequency x channels)
    tensor.
    """

    def __init__(self, parts: list[tuple[nn.Conv2d, nn.BatchNorm2d, tuple[int, int]]],
                 tolerance: float = 1e-7):
        self.convs = []  # (basis, time padding, stride)
        mixes, scales, shifts, biases = [], [], [], []
        for conv, bn, padding in parts:
            basis, mix = _low_rank(conv.weight, tolerance)
            self.convs.append((basis, padding, conv.stride))
            mixes.append(mix)
            scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
            scales.append(scale)
            shifts.append(bn.bias.detach() - bn.running_mean * scale)
            biases.append(conv.bias.detach())
        mix = torch.block_diag(*mixes)  # (total rank, C)
        scale = torch.cat(scales)
        self.scale, self.shift = scale[None, None, :], torch.cat(shifts)[None, None, :]
        self.bias = torch.cat(biases)[None, None, :]
        # a maximum where a >= 0, a minimum (= -max of the negated column) where a < 0:
        # negating those columns leaves one reduction over one contiguous tensor, whose
        # rows are padded to a multiple of 32 floats (rows of 153 or 204 reduce up to 3x
        # slower; measured)
        self.sign = torch.where(scale < 0, -1.0, 1.0)[None, None, :]
        self.channels = len(scale)
        self.mix = torch.zeros(mix.shape[0], -(-self.channels // 32) * 32)
        self.mix[:, :self.channels] = mix * self.sign[0]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, T, F) -> (B, C, T)."""
        basis_out = torch.cat([F.conv2d(F.pad(x, (0, 0, *padding)), basis, stride=stride)
                               for basis, padding, stride in self.convs], dim=1)  # (B, rank, T, F')
        b, r, t, f = basis_out.shape
        rows = basis_out.permute(0, 2, 3, 1).reshape(b * t * f, r)  # one plain matmul, no bmm
        y = torch.mm(rows, self.mix).view(b, t, f, -1)  # (B, T, F', width)
        extreme = y.amax(dim=2)[..., :self.channels] * self.sign  # max or min over frequency
        out = F.relu(extreme + self.bias) * self.scale + self.shift
        return out.transpose(1, 2)


def _time_padding(k: int) -> tuple[int, int]:
    """TensorFlow's "same" padding in time for a kernel of ``k`` frames (even k too)."""
    return (k - 1) // 2, k // 2


class MusiCNN(nn.Module):
    """MSD_musicnn: timbral + temporal front-end, dense mid-end, pooled back-end.

    ``forward`` returns ``(tag_logits, penultimate)``: shapes (batch, 50) and (batch, 200).
    """

    def __init__(self, n_mels: int = 96, n_tags: int = 50, midend: int = 64, backend: int = 200,
                 freq_stride: int = 1, temporal_freq_stride: int | None = None):
        super().__init__()
        self._fast: list | None = None
        self.input_bn = nn.BatchNorm2d(1, eps=BN_EPS)
        self.timbral_74 = nn.Conv2d(1, 204, (7, int(0.4 * n_mels)))
        self.timbral_74_bn = nn.BatchNorm2d(204, eps=BN_EPS)
        self.timbral_77 = nn.Conv2d(1, 204, (7, int(0.7 * n_mels)))
        self.timbral_77_bn = nn.BatchNorm2d(204, eps=BN_EPS)
        self.temporal = nn.ModuleList([nn.Conv2d(1, 51, (k, 1)) for k in (128, 64, 32)])
        # strides > 1 take the max over fewer frequency positions (faster, approximate)
        for conv in (self.timbral_74, self.timbral_77):
            conv.stride = (1, freq_stride)
        for conv in self.temporal:
            conv.stride = (1, temporal_freq_stride or freq_stride)
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
        if mode:  # weights may change in training: rebuild the factorised front-end later
            self._fast = None
        return super().train(mode)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        self._fast = None
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def frontend(self, mel: torch.Tensor) -> torch.Tensor:
        """(batch, n_mels, frames) -> (batch, 561, frames).

        Whenever no gradient can reach the front-end (inference, or a frozen front-end with
        batch norms in eval mode) this takes the factorised path: the same numbers to float
        rounding, ~3x faster, ``FAST_CHUNK`` slices at a time so that the (frames,
        frequency, channels) intermediate stays in cache.
        """
        x = self.input_bn(mel.transpose(1, 2).unsqueeze(1))  # (B, 1, T, F) like TF's NHWC
        if self._fast_path_applies():
            return torch.cat([self._fast_frontend(x[i:i + FAST_CHUNK])
                              for i in range(0, len(x), FAST_CHUNK)], dim=0)
        padded = F.pad(x, (0, 0, 3, 3))
        feats = []
        for conv, bn in ((self.timbral_74, self.timbral_74_bn), (self.timbral_77, self.timbral_77_bn)):
            feats.append(bn(F.relu(conv(padded))).amax(dim=3))
        for conv, bn in zip(self.temporal, self.temporal_bn):
            same = F.pad(x, (0, 0, *_time_padding(conv.kernel_size[0])))
            feats.append(bn(F.relu(conv(same))).amax(dim=3))
        return torch.cat(feats, dim=1)

    def frontend_modules(self) -> list[nn.Module]:
        """The input batch norm and the front-end's convolutions and batch norms."""
        return [self.input_bn, self.timbral_74, self.timbral_74_bn, self.timbral_77,
                self.timbral_77_bn, *self.temporal, *self.temporal_bn]

    def _fast_path_applies(self) -> bool:
        """The factorised path gives no gradients and uses batch-norm running statistics."""
        if self.input_bn.training or self.timbral_74_bn.training:
            return False
        return not torch.is_grad_enabled() or not self.timbral_74.weight.requires_grad

    def _fast_frontend(self, x: torch.Tensor) -> torch.Tensor:
        if self._fast is None:
            self._fast = [
                _FactorisedConvMax([(self.timbral_74, self.timbral_74_bn, (3, 3))]),
                _FactorisedConvMax([(self.timbral_77, self.timbral_77_bn, (3, 3))]),
                _FactorisedConvMax([(conv, bn, _time_padding(conv.kernel_size[0]))
                                    for conv, bn in zip(self.temporal, self.temporal_bn)])]
        return torch.cat([part(x) for part in self._fast], dim=1)

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
