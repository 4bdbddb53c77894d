"""The interface every model implements, so one training loop serves every architecture."""

from __future__ import annotations

import torch
from torch import nn


class Classifier(nn.Module):
    """A network split into a feature extractor and a linear classification head.

    ``features(x)`` maps a batch ``(B, *input_shape)`` to penultimate embeddings ``(B, d)``;
    ``head`` is an ``nn.Linear(d, C)``; ``forward(x)`` returns logits ``(B, C)``. Pruners read the
    embeddings, and last-layer methods (GraNd, Glister, RDIA) need the head separately.
    """

    head: nn.Linear

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Return the penultimate embedding ``(B, d)`` of a batch ``x``."""
        raise NotImplementedError

    @property
    def embedding_dim(self) -> int:
        """Width ``d`` of the embedding returned by :meth:`features`."""
        return self.head.in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits ``(B, C)``."""
        return self.head(self.features(x))
