"""A linear classifier (multinomial logistic regression) over flattened inputs."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

import torch
from torch import nn

from noisyprune.models.base import Classifier
from noisyprune.params import declare


@declare()
class Linear(Classifier):
    """Flatten → Linear head: logistic regression, as RDIA's original runs on tabular data.

    The embedding is the flattened input itself (width ``prod(input_shape)``), so last-layer
    methods (RDIA's influence head, GraNd) work on the raw features.
    """

    def __init__(self, input_shape: Sequence[int], num_classes: int):
        super().__init__()
        self.head = nn.Linear(prod(input_shape), num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The flattened input ``(B, prod(input_shape))``."""
        return x.flatten(1)
