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


# Epochs averaged by ``test_acc_mean_last10``: the convention of Co-teaching(+) (from which RDIA-LS
# derives) and DivideMix, whose papers report the mean test accuracy of the last 10 epochs.
LAST_EPOCHS = 10


def test_accuracy_means(test_acc: np.ndarray) -> dict[str, float]:
    """Means of a training's per-epoch clean test accuracy ``test_acc`` ``(E,)`` (in [0, 1]), the
    statistics published protocols report beside the best and last epoch:

    - ``test_acc_mean_last10``: the mean of the last :data:`LAST_EPOCHS` epochs (of all epochs when
      there are fewer), the convention of Co-teaching(+) and DivideMix;
    - ``test_acc_mean_all``: the mean over every epoch (what "average test accuracy" over a curve
      means when nothing else is said).

    Epochs without a finite accuracy are left out of each mean; NaN when none has one.
    """
    values = np.asarray(test_acc, dtype=np.float64)

    def finite_mean(part: np.ndarray) -> float:
        finite = part[np.isfinite(part)]
        return float(finite.mean()) if len(finite) else float("nan")

    return {"test_acc_mean_last10": finite_mean(values[-LAST_EPOCHS:]), "test_acc_mean_all": finite_mean(values)}


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
