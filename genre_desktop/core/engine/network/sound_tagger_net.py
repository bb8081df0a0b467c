"""The AudioSet sound tagger's network (EfficientAT's ``mn04_as``) in plain torch.

A MobileNetV3-Large layout (the key names of torchvision's, so the published state dict
loads strictly) with width multiplier 0.4, one input channel, BatchNorm eps 0.001, the four
stride-2 blocks kept, channel-wise squeeze-excitation (ReLU, then sigmoid), and a
384 -> 512 -> 527 classifier. Schmid, Koutini & Widmer, "Efficient Large-Scale Audio
Tagging via Transformer-to-CNN Knowledge Distillation", ICASSP 2023; weights MIT
(``models/audioset_mn04/LICENSE``). Input (batch, 1, 128, frames) log-mel
(:func:`.sound_tagger.tagger_features`); output logits (batch, 527) and the 384-d embedding.
"""
from __future__ import annotations

import torch
from torch import nn

WIDTH = 0.4
N_CLASSES = 527
BN_EPS = 0.001
#: torchvision's MobileNetV3-Large blocks: (in, kernel, expanded, out, squeeze-excite, hardswish, stride)
LARGE = (
    (16, 3, 16, 16, False, False, 1), (16, 3, 64, 24, False, False, 2), (24, 3, 72, 24, False, False, 1),
    (24, 5, 72, 40, True, False, 2), (40, 5, 120, 40, True, False, 1), (40, 5, 120, 40, True, False, 1),
    (40, 3, 240, 80, False, True, 2), (80, 3, 200, 80, False, True, 1), (80, 3, 184, 80, False, True, 1),
    (80, 3, 184, 80, False, True, 1), (80, 3, 480, 112, True, True, 1), (112, 3, 672, 112, True, True, 1),
    (112, 5, 672, 160, True, True, 2), (160, 5, 960, 160, True, True, 1), (160, 5, 960, 160, True, True, 1),
)


def divisible(v: float, divisor: int = 8) -> int:
    """torchvision's ``_make_divisible``: ``v`` rounded to a multiple of ``divisor``, not
    below 90 % of ``v``."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1,
             act: type[nn.Module] | None = None) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                               nn.BatchNorm2d(cout, eps=BN_EPS)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class _SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, squeezed: int):
        super().__init__()
        self.fc1 = nn.Linear(channels, squeezed)
        self.fc2 = nn.Linear(squeezed, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean(dim=(2, 3))))))
        return x * scale[:, :, None, None]


class _ConcurrentSE(nn.Module):
    """EfficientAT's wrapper (one channel-wise layer here: its max over one is itself)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conc_se_layers = nn.ModuleList([_SqueezeExcitation(channels, divisible(channels // 4))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conc_se_layers[0](x)


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, kernel: int, expanded: int, cout: int, se: bool, hardswish: bool, stride: int):
        super().__init__()
        act = nn.Hardswish if hardswish else nn.ReLU
        layers: list[nn.Module] = []
        if expanded != cin:
            layers.append(_conv_bn(cin, expanded, 1, act=act))
        layers.append(_conv_bn(expanded, expanded, kernel, stride, groups=expanded, act=act))
        if se:
            layers.append(_ConcurrentSE(expanded))
        layers.append(_conv_bn(expanded, cout, 1))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return out + x if self.residual else out


class SoundTaggerNet(nn.Module):
    """mn04_as: ``forward(mel)`` with mel (batch, 1, 128, frames) returns
    ``(logits (batch, 527), embedding (batch, 384))``."""

    def __init__(self, width: float = WIDTH, n_classes: int = N_CLASSES):
        super().__init__()
        c = lambda v: divisible(v * width)
        layers: list[nn.Module] = [_conv_bn(1, c(LARGE[0][0]), 3, 2, act=nn.Hardswish)]
        for cin, kernel, expanded, cout, se, hs, stride in LARGE:
            layers.append(_InvertedResidual(c(cin), kernel, c(expanded), c(cout), se, hs, stride))
        last_in = c(LARGE[-1][3])
        layers.append(_conv_bn(last_in, 6 * last_in, 1, act=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(6 * last_in, c(1280)),
                                        nn.Hardswish(), nn.Dropout(0.2), nn.Linear(c(1280), n_classes))

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.features(mel)
        embedding = x.mean(dim=(2, 3))
        return self.classifier(x), embedding
