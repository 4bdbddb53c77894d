"""Real human label noise: one of the label sets a dataset ships (CIFAR-10N/100N)."""

from __future__ import annotations

import numpy as np


def human_noise(clean: np.ndarray, num_classes: int, rng: np.random.Generator, labels: str, data) -> np.ndarray:
    """Return the dataset's human label set ``labels`` (``aggregate``, ``worst``, ``random1..3`` for
    CIFAR-10N, ``noisy100`` for CIFAR-100N). Deterministic; ``rng`` is unused. The loader has
    already checked that the file indexes the same images as ``clean``."""
    del rng
    available = data.label_sets or {}
    if labels not in available:
        raise ValueError(
            f"human noise: dataset {data.name!r} has no label set {labels!r} "
            f"(it has {sorted(available) or 'none; use loader cifar10n or cifar100n'})"
        )
    noisy = np.asarray(available[labels], dtype=np.int64)
    if noisy.shape != clean.shape:
        raise ValueError(f"human noise: label set {labels!r} has {len(noisy)} labels for {len(clean)} samples")
    if len(noisy) and (noisy.min() < 0 or noisy.max() >= num_classes):
        raise ValueError(f"human noise: label set {labels!r} has labels outside [0, {num_classes})")
    return noisy.copy()
