"""A small convolutional network for tiny images (digits 8×8, MNIST-family 28×28)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from noisyprune.models.base import Classifier
from noisyprune.params import declare, param


@declare(
    param(
        "channels",
        (
            "Width of each 3×3 conv block (BatchNorm, ReLU, 2×2 max-pool between blocks, global average pool at the "
            "end)."
        ),
        type="array",
        minItems=1,
        items={"type": "integer", "minimum": 1},
    ),
)
class SmallCNN(Classifier):
    """Conv blocks (3×3 conv → BatchNorm → ReLU, 2×2 max-pool between blocks) → global average pool.

    ``channels`` gives each block's width; the embedding is the pooled output of the last block
    (width ``channels[-1]``). Pooling is skipped once the feature map is 1 pixel wide, so the same
    net runs on 8×8 and 32×32 inputs.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        channels: Sequence[int] = (32, 64, 128),
    ):
        super().__init__()
        in_channels, height = input_shape[0], min(input_shape[1:])
        blocks: list[nn.Module] = []
        for index, out in enumerate(channels):
            blocks += [
                nn.Conv2d(in_channels, out, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
            ]
            if index < len(channels) - 1 and height >= 2:
                blocks.append(nn.MaxPool2d(2))
                height //= 2
            in_channels = out
        self.body = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(in_channels, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
