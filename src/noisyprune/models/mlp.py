"""A plain multilayer perceptron over flattened inputs."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

import torch
from torch import nn

from noisyprune.models.base import Classifier
from noisyprune.params import declare, param


@declare(
    param(
        "hidden",
        "Hidden layer widths; the embedding is the last one.",
        type="array",
        minItems=1,
        items={"type": "integer", "minimum": 1},
    ),
    param("dropout", "Dropout after each hidden layer.", type="number", minimum=0, exclusiveMaximum=1),
)
class MLP(Classifier):
    """Flatten → [Linear → ReLU → Dropout] per hidden width → Linear head.

    The embedding is the output of the last hidden layer (width ``hidden[-1]``).
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        hidden: Sequence[int] = (256, 128),
        dropout: float = 0.0,
    ):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = prod(input_shape)
        for out in hidden:
            layers += [nn.Linear(width, out), nn.ReLU(inplace=True)]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = out
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
