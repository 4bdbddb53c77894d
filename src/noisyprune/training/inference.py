"""Batched inference: logits and penultimate embeddings for a whole set of inputs."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from noisyprune.models.base import Classifier
from noisyprune.training.execution import current


def input_chunks(x, batch_size: int) -> Iterator[torch.Tensor]:
    """Yield ``x`` ``(n, …)`` in order, ``batch_size`` rows at a time: slices of a tensor, or the
    streamed batches of a :class:`~noisyprune.training.streaming.StreamedInputs`."""
    if hasattr(x, "chunks"):
        yield from x.chunks(batch_size)
        return
    for start in range(0, len(x), batch_size):
        yield x[start : start + batch_size]


@torch.no_grad()
def embed_and_classify(model: Classifier, x: torch.Tensor, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(logits (n, C), embeddings (n, d))`` (float32) of ``model`` in eval mode for inputs
    ``x`` (a tensor or streamed inputs), under the job's autocast setting (:mod:`noisyprune.training.execution`).

    The model's train/eval mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    logits, embeddings = [], []
    with current().autocast_context(x.device):
        for chunk in input_chunks(x, batch_size):
            features = model.features(chunk)
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
        chunks = [model(chunk).float() for chunk in input_chunks(x, batch_size)]
    model.train(was_training)
    return torch.cat(chunks) if chunks else x.new_zeros((0, 0))
