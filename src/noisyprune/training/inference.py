"""Batched inference: logits and penultimate embeddings for a whole set of inputs."""

from __future__ import annotations

import torch

from noisyprune.models.base import Classifier
from noisyprune.training.execution import current


@torch.no_grad()
def embed_and_classify(
    model: Classifier, x: torch.Tensor, batch_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(logits (n, C), embeddings (n, d))`` (float32) of ``model`` in eval mode for inputs
    ``x``, under the job's autocast setting (:mod:`noisyprune.training.execution`).

    The model's train/eval mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    logits, embeddings = [], []
    with current().autocast_context(x.device):
        for start in range(0, len(x), batch_size):
            features = model.features(x[start : start + batch_size])
            embeddings.append(features.float())
            logits.append(model.head(features).float())
    model.train(was_training)
    if not logits:
        return x.new_zeros((0, model.head.out_features)), x.new_zeros((0, model.embedding_dim))
    return torch.cat(logits), torch.cat(embeddings)


@torch.no_grad()
def predict_logits(model: torch.nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Return logits ``(n, C)`` (float32) of ``model`` (any callable module) in eval mode for inputs
    ``x``, under the job's autocast setting."""
    was_training = model.training
    model.eval()
    with current().autocast_context(x.device):
        chunks = [model(x[start : start + batch_size]).float() for start in range(0, len(x), batch_size)]
    model.train(was_training)
    return torch.cat(chunks) if chunks else x.new_zeros((0, 0))
