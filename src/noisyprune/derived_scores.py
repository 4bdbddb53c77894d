"""Per-sample scores derived from a model's class outputs: the columns of ``features.parquet``.

The workflow's ``extract`` stage computes them from a warm-up model's logits, a precomputed warm-up
and the public API (:func:`noisyprune.select_subset`) from the logits or probabilities a user gives:
loss on the given label, confidence, margin, entropy, largest logit, prediction. One definition, so
a pruner reads the same scores whichever way they came.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from noisyprune.data.checks import aligned_matrix


def confidence_scores(logits: torch.Tensor, noisy_label: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-sample scores from logits ``(n, C)`` and noisy labels ``(n,)``, each ``(n,)`` unless noted.

    ``probs`` ``(n, C)`` softmax; ``loss`` cross-entropy on the noisy label (nats); ``confidence``
    the top probability; ``margin`` top-1 minus top-2 probability; ``entropy`` of ``probs`` (nats);
    ``max_logit`` the largest raw logit (DeepCore's LeastConfidence score); ``prediction`` the
    arg-max class.
    """
    log_probs = F.log_softmax(logits.float(), dim=1)
    probs = log_probs.exp()
    top2 = probs.topk(min(2, probs.shape[1]), dim=1).values
    second = top2[:, 1] if probs.shape[1] > 1 else torch.zeros_like(top2[:, 0])
    return {
        "probs": probs,
        "loss": F.nll_loss(log_probs, noisy_label, reduction="none"),
        "confidence": top2[:, 0],
        "margin": top2[:, 0] - second,
        "entropy": -(probs * log_probs).sum(dim=1),
        "max_logit": logits.float().max(dim=1).values,
        "prediction": probs.argmax(dim=1),
    }


def scores_from_class_outputs(
    labels: np.ndarray, probabilities=None, logits=None, num_classes: int | None = None
) -> dict[str, np.ndarray]:
    """The derived score columns of :func:`confidence_scores`, as numpy arrays, from a model's
    ``logits`` ``(n, C)`` or ``probabilities`` ``(n, C)`` for samples with ``labels`` ``(n,)``.
    Probabilities' logs are logits up to a per-row constant, so every score but ``max_logit`` is
    exact; ``max_logit`` is then unknown and left out (a method reading it says so). Returns ``{}``
    when neither is given; raises ``ValueError`` naming the argument for a bad shape, a row that is
    not a distribution, or a label without a class column."""
    if probabilities is None and logits is None:
        return {}
    if probabilities is not None and logits is not None:
        raise ValueError("give probabilities or logits, not both")
    name = "logits" if logits is not None else "probabilities"
    scores = aligned_matrix(logits if logits is not None else probabilities, name, len(labels))
    if logits is None:
        sums = scores.sum(axis=1)
        invalid = (scores < 0).any(axis=1) | ~np.isclose(sums, 1.0, atol=1e-3)
        if invalid.any():
            row = int(np.flatnonzero(invalid)[0])
            raise ValueError(
                f"probabilities: row {row} is not a probability distribution (sum {sums[row]:.4f}); "
                "pass raw scores as logits instead"
            )
        scores = np.log(np.clip(scores, 1e-30, None))
    if num_classes is not None and scores.shape[1] != num_classes:
        raise ValueError(f"{name}: {scores.shape[1]} columns, not {num_classes}")
    if len(labels) and labels.max() >= scores.shape[1]:
        raise ValueError(f"labels: label {int(labels.max())} has no column among the {scores.shape[1]} class scores")
    columns = {
        key: value.numpy()
        for key, value in confidence_scores(torch.from_numpy(scores), torch.from_numpy(np.asarray(labels))).items()
    }
    if logits is None:
        del columns["max_logit"]
    return columns


def feature_columns(
    sample_id: np.ndarray, noisy_label: np.ndarray, logits: torch.Tensor, embeddings: torch.Tensor
) -> dict[str, np.ndarray]:
    """The columns of ``features.parquet`` for samples ``sample_id`` ``(n,)`` with noisy labels
    ``(n,)``, from their logits ``(n, C)`` and embeddings ``(n, d)`` (any device)."""
    scores = confidence_scores(logits, torch.as_tensor(noisy_label, device=logits.device))
    columns = {"sample_id": sample_id, "noisy_label": noisy_label}
    columns.update({name: value.cpu().numpy() for name, value in scores.items()})
    columns["embedding"] = embeddings.float().cpu().numpy()
    return columns
