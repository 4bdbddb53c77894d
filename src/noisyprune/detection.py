"""Noise-detection quality of per-sample scores: how well each score separates mislabelled from
correctly labelled training samples (AUROC and average precision, noisy = positive class)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from noisyprune.artifacts import Artifact
from noisyprune.pruners.el2n import el2n_scores
from noisyprune.pruners.forgetting import forgetting_counts
from noisyprune.pruners.grand import grand_scores
from noisyprune.pruners.moderate import median_distances
from noisyprune.pruners.uncertainty import uncertainty_scores


def noise_scores(
    features: Artifact, dynamics: Artifact | None, noisy_label: np.ndarray, num_classes: int
) -> dict[str, np.ndarray]:
    """Every per-sample score the pruners use, oriented so that **larger = more likely mislabelled**.

    ``features`` and ``noisy_label`` are aligned by sample id (sorted). Scores: ``loss``, ``el2n``,
    ``grand`` (as their pruners), ``self_confidence`` (1 − p[noisy label], cleanlab's label quality
    turned around), the three uncertainty scores, ``moderate_distance`` (to the class median) and,
    with dynamics, ``forgetting`` under both never-learned conventions.
    """
    probs = features.numpy("probs")
    sample_id = features.numpy("sample_id")
    scores: dict[str, Callable[[], np.ndarray]] = {
        "loss": lambda: features.numpy("loss").astype(np.float64),
        "el2n": lambda: el2n_scores(probs, noisy_label),
        "grand": lambda: grand_scores(probs, features.numpy("embedding"), noisy_label),
        "self_confidence": lambda: 1.0 - probs[np.arange(len(noisy_label)), noisy_label].astype(np.float64),
        "least_confidence": lambda: uncertainty_scores(probs, "least_confidence"),
        "entropy": lambda: uncertainty_scores(probs, "entropy"),
        "margin": lambda: uncertainty_scores(probs, "margin"),
        "moderate_distance": lambda: median_distances(features.numpy("embedding"), noisy_label, num_classes),
    }
    if dynamics is not None:
        scores["forgetting"] = lambda: forgetting_counts(dynamics, sample_id, "zero")
        scores["forgetting_never_learned_most"] = lambda: forgetting_counts(dynamics, sample_id, "most")
    return {name: compute() for name, compute in scores.items()}


# ROC curves are stored on this fixed grid of false-positive rates, so curves of several seeds
# can be averaged and a detection.json stays a few KB whatever the dataset size.
ROC_GRID = np.linspace(0.0, 1.0, 101)


def detection_quality(scores: dict[str, np.ndarray], is_noisy: np.ndarray) -> list[dict]:
    """AUROC, average precision and the ROC curve of each score for the positive class "noisy"
    (0.5 and the noise rate are chance levels). ``roc_tpr`` is the true-positive rate at each
    false-positive rate of ``ROC_GRID`` (101 points). All are NaN when the samples are all clean or
    all noisy."""
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

    both_present = 0 < is_noisy.sum() < len(is_noisy)
    rows = []
    for name, values in scores.items():
        if both_present:
            fpr, tpr, _ = roc_curve(is_noisy, values)
            # The curve is a step function: take the best TPR reached at each grid FPR.
            roc_tpr = np.maximum.accumulate(np.interp(ROC_GRID, fpr, tpr)).tolist()
        rows.append(
            {
                "score": name,
                "auroc": float(roc_auc_score(is_noisy, values)) if both_present else float("nan"),
                "average_precision": float(average_precision_score(is_noisy, values)) if both_present else float("nan"),
                "roc_tpr": roc_tpr if both_present else [float("nan")] * len(ROC_GRID),
            }
        )
    return rows
