"""Noise-detection quality of per-sample scores: how well each score separates mislabelled from
correctly labelled training samples (AUROC and average precision, noisy = positive class)."""

from __future__ import annotations

import numpy as np

from noisyprune.artifacts import Artifact, SharedColumns
from noisyprune.pruners.base import DetectionScore, PrunerInputs
from noisyprune.pruners.registry import PRUNERS


def offered_scores() -> dict[str, DetectionScore]:
    """Every detection score the registered pruners offer (their ``detection_scores``), in
    registration order. A score a subclass inherits is its parent's, listed once; two different
    scores under one name are refused, naming both pruners."""
    scores: dict[str, DetectionScore] = {}
    offered_by: dict[str, str] = {}
    for pruner in PRUNERS.registered():
        for name, score in PRUNERS.get(pruner).detection_scores.items():
            if name in scores and scores[name] is not score:
                raise ValueError(f"pruners {offered_by[name]!r} and {pruner!r} both offer a detection score {name!r}")
            scores.setdefault(name, score)
            offered_by.setdefault(name, pruner)
    return scores


def score_modules() -> list[str]:
    """The modules of the pruners that offer detection scores: the detection job's code hash covers them."""
    return [PRUNERS.module_name(name) for name in PRUNERS.registered() if PRUNERS.get(name).detection_scores]


def noise_scores(
    features: Artifact, dynamics: Artifact | None, noisy_label: np.ndarray, num_classes: int
) -> dict[str, np.ndarray]:
    """Every per-sample score the pruners offer (:func:`offered_scores`), oriented so that
    **larger = more likely mislabelled**, by score name.

    ``features`` and ``noisy_label`` are aligned by sample id (sorted). The built-in pruners offer
    ``loss``, ``el2n``, ``grand`` (as their pruners), ``self_confidence`` (1 − p[noisy label],
    cleanlab's label quality turned around), the three uncertainty scores, ``moderate_distance``
    (to the class median) and, with dynamics, ``forgetting`` under both never-learned conventions.
    A score whose artifact is absent (no dynamics) is left out.
    """
    features = SharedColumns.of(features)  # every score reads probs: converted once, not per score
    dynamics = SharedColumns.of(dynamics) if dynamics is not None else None
    inputs = PrunerInputs(features.numpy("sample_id"), noisy_label, num_classes, features=features, dynamics=dynamics)
    return {
        name: np.asarray(score.compute(inputs))
        for name, score in offered_scores().items()
        if all(getattr(inputs, artifact) is not None for artifact in score.reads)
    }


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
