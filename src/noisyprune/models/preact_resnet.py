"""PreActResNet-18 (He et al., "Identity Mappings in Deep Residual Networks", ECCV 2016), the
CIFAR network of SOP/SOP+, DivideMix, ELR and Prune4ReL's scripts.

The CIFAR form those codebases train: a 3×3 stride-1 stem of 64 channels, four stages of two
pre-activation basic blocks (BatchNorm → ReLU → 3×3 conv, twice; 64, 128, 256, 512 channels,
stride 2 from the second stage on, a 1×1 strided conv on the shortcut where the shape changes), then
global average pooling. As in those codebases there is no BatchNorm/ReLU after the last block: the
512-d embedding is the pooled output of the last residual sum, so its values can be negative
(docs/methods.md#prune4rel), which the pruners that read embeddings see as the
originals do.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from noisyprune.models.base import Classifier
from noisyprune.params import declare


class PreActBlock(nn.Module):
    """A pre-activation basic block: ``x + conv(relu(bn(conv(relu(bn(x))))))``; with ``stride`` > 1
    or a change of width the shortcut is a strided 1×1 conv of the pre-activated input."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in, H, W)`` → ``(B, out, H/stride, W/stride)``."""
        activated = F.relu(self.bn1(x))
        identity = self.shortcut(activated) if self.shortcut is not None else x
        out = self.conv1(activated)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + identity


class PreActResNet(Classifier):
    """A PreActResNet with ``blocks`` pre-activation basic blocks per stage (module docstring)."""

    def __init__(
        self,
        blocks: Sequence[int],
        input_shape: Sequence[int],
        num_classes: int,
        widths: Sequence[int] = (64, 128, 256, 512),
    ):
        super().__init__()
        if len(input_shape) != 3:
            raise ValueError(f"PreActResNet needs image inputs (C, H, W), got shape {tuple(input_shape)}")
        self.stem = nn.Conv2d(input_shape[0], widths[0], 3, stride=1, padding=1, bias=False)
        stages, channels = [], widths[0]
        for index, (count, width) in enumerate(zip(blocks, widths)):
            stride = 1 if index == 0 else 2
            layers = [PreActBlock(channels, width, stride)]
            layers += [PreActBlock(width, width) for _ in range(count - 1)]
            stages.append(nn.Sequential(*layers))
            channels = width
        self.stages = nn.Sequential(*stages)
        self.head = nn.Linear(channels, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` → the pooled last-stage output ``(B, 512)``."""
        return torch.flatten(F.adaptive_avg_pool2d(self.stages(self.stem(x)), 1), 1)


@declare()
def preact_resnet18(input_shape: Sequence[int], num_classes: int) -> PreActResNet:
    """PreActResNet-18: two blocks per stage, 512-d embedding (11.2 M parameters for 10 classes)."""
    return PreActResNet((2, 2, 2, 2), input_shape, num_classes)
