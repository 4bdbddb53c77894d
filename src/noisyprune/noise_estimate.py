"""An estimate of which given labels are wrong, for data whose clean labels nobody knows.

A label is *likely wrong* when the model's probabilities favour another class: some class is
strictly more probable than the given one (cleanlab's ``predicted_neq_given`` filter, with ties
going to the given label as cleanlab's ``find_label_issues`` resolves them). The estimated
wrong-label share of a set of samples is the share of its likely-wrong labels.

Which probabilities it expects: those of a model that has **not memorised** the given labels — a
short, early-epoch warm-up like the workflow's (its ``features.parquet``), out-of-sample
(cross-validated) probabilities, or a model trained on other data. A model trained until it fits
every given label predicts the wrong labels too, and the estimate then falls towards 0. Where the
model errs on correctly labelled samples, those count as wrong: the estimate is too high by about
the model's own error rate. docs/methods.md ("Estimated wrong-label share") has the measured
errors against the truth (``benchmarks/noise_estimate.py``), and why this rule was chosen over
cleanlab's confident-joint filters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The rule's name, as written next to an estimate (the summary of ``noisyprune select``).
ESTIMATOR = "predicted_neq_given"


def likely_wrong(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """``(n,)`` bool: True where another class is strictly more probable than the given label.

    ``labels`` ``(n,)``: the given class indices; ``probabilities`` ``(n, C)``: a model's class
    probabilities per sample (or any scores monotone in them per row, e.g. logits)."""
    scores = np.asarray(probabilities)
    given = scores[np.arange(len(labels)), np.asarray(labels)]
    return given < scores.max(axis=1)


@dataclass(frozen=True)
class WrongLabelEstimate:
    """The estimate for ``n`` candidates of which ``kept`` were kept: ``wrong`` ``(n,)`` flags the
    likely wrong labels; ``kept_share`` and ``all_share`` are the shares of flagged labels among
    the kept samples and among all candidates (fractions in [0, 1]; NaN for an empty set)."""

    wrong: np.ndarray
    kept_share: float
    all_share: float


def estimate_wrong_labels(labels: np.ndarray, probabilities: np.ndarray, kept: np.ndarray) -> WrongLabelEstimate:
    """The :class:`WrongLabelEstimate` of candidates with given ``labels`` ``(n,)`` and model
    ``probabilities`` ``(n, C)``, of which the positions ``kept`` ``(k,)`` were kept."""
    return wrong_label_shares(likely_wrong(labels, probabilities), kept)


def wrong_label_shares(wrong: np.ndarray, kept: np.ndarray) -> WrongLabelEstimate:
    """The :class:`WrongLabelEstimate` of the likely wrong labels ``wrong`` ``(n,)`` (bool, from
    :func:`likely_wrong`) of which the positions ``kept`` ``(k,)`` were kept."""
    kept = np.asarray(kept, dtype=np.int64)
    return WrongLabelEstimate(
        wrong=wrong,
        kept_share=float(wrong[kept].mean()) if len(kept) else float("nan"),
        all_share=float(wrong.mean()) if len(wrong) else float("nan"),
    )
