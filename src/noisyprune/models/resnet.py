"""torchvision's ResNet-18/34/50 as :class:`Classifier` (random init; no weights are downloaded)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torchvision import models as tv_models

from noisyprune.models.base import Classifier


class TorchvisionResNet(Classifier):
    """A torchvision ResNet whose ``fc`` layer becomes :attr:`head`.

    ``small_input=True`` swaps the 7×7/stride-2 stem and its max-pool for a 3×3/stride-1 conv, the
    usual change for 32×32 images (CIFAR); ``False`` keeps the ImageNet stem (224×224 inputs).
    """

    def __init__(
        self,
        builder: Callable[..., tv_models.ResNet],
        input_shape: Sequence[int],
        num_classes: int,
        small_input: bool = True,
    ):
        super().__init__()
        net = builder(weights=None, num_classes=num_classes)
        in_channels = input_shape[0]
        if small_input:
            net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
            net.maxpool = nn.Identity()
        elif in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.head = net.fc
        net.fc = nn.Identity()
        self.body = net

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def resnet18(input_shape: Sequence[int], num_classes: int, small_input: bool = True) -> TorchvisionResNet:
    """ResNet-18 (512-d embedding)."""
    return TorchvisionResNet(tv_models.resnet18, input_shape, num_classes, small_input)


def resnet34(input_shape: Sequence[int], num_classes: int, small_input: bool = True) -> TorchvisionResNet:
    """ResNet-34 (512-d embedding)."""
    return TorchvisionResNet(tv_models.resnet34, input_shape, num_classes, small_input)


def resnet50(input_shape: Sequence[int], num_classes: int, small_input: bool = True) -> TorchvisionResNet:
    """ResNet-50 (2048-d embedding)."""
    return TorchvisionResNet(tv_models.resnet50, input_shape, num_classes, small_input)
