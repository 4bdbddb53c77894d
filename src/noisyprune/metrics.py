"""Evaluation metrics of a retrained model: clean test accuracy and re-labeling accuracy."""

from __future__ import annotations

import numpy as np


def test_accuracy_summary(epochs: np.ndarray, test_acc: np.ndarray) -> dict[str, float | int | None]:
    """Last and best clean test accuracy of a training's per-epoch history (``epochs``,
    ``test_acc`` ``(E,)``, accuracy in [0, 1]) and the epoch of the best; NaN / None when no epoch
    has a finite accuracy."""
    best = int(np.nanargmax(test_acc)) if np.isfinite(test_acc).any() else -1
    return {
        "test_acc_last": float(test_acc[-1]),
        "test_acc_best": float(test_acc[best]) if best >= 0 else float("nan"),
        "best_epoch": int(epochs[best]) if best >= 0 else None,
    }


def masked_accuracy(predicted: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    """Fraction of ``mask``-ed samples whose ``predicted`` label equals ``truth``; NaN if none is masked."""
    count = int(mask.sum())
    return float((predicted[mask] == truth[mask]).sum() / count) if count else float("nan")


RELABELING_METRICS = (
    "relabel_acc_all",
    "relabel_acc_subset",
    "relabel_acc_subset_noisy",
    "relabel_acc_noisy",
    "relabel_acc_pruned",
)


def relabeling_metrics(
    relabel: np.ndarray, clean: np.ndarray | None, is_noisy: np.ndarray | None, in_subset: np.ndarray
) -> dict[str, float]:
    """Re-labeling accuracy (RA): how often the learner's corrected label equals the clean label.

    All arrays are ``(n,)`` over the full training set. Reported over every sample
    (``relabel_acc_all``, the Prune4ReL objective), the kept subset, the noisy samples of the
    subset (how many wrong labels the learner fixed), all noisy samples, and the pruned samples.
    Without clean labels (``clean``/``is_noisy`` ``None``: intrinsic noise) every value is NaN.
    """
    if clean is None or is_noisy is None:
        return dict.fromkeys(RELABELING_METRICS, float("nan"))
    everything = np.ones_like(in_subset, dtype=bool)
    return {
        "relabel_acc_all": masked_accuracy(relabel, clean, everything),
        "relabel_acc_subset": masked_accuracy(relabel, clean, in_subset),
        "relabel_acc_subset_noisy": masked_accuracy(relabel, clean, in_subset & is_noisy),
        "relabel_acc_noisy": masked_accuracy(relabel, clean, is_noisy),
        "relabel_acc_pruned": masked_accuracy(relabel, clean, ~in_subset),
    }
