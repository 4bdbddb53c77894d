"""What a selection kept, for whoever ran it, before any retraining: the kept count per class against
the input, the estimated share of wrong labels kept and overall (from the given probabilities or
logits), the method's own diagnostics and, when the kept subset holds more wrong labels than its
input, the warning. One plain-JSON mapping (``KeptSubset.summary``, the sidecar of
``noisyprune select``) and its few lines of text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from noisyprune.noise_estimate import ESTIMATOR, estimate_wrong_labels
from noisyprune.noisier_subset import is_noisier, noisier_message, share_tolerance

# Above this many classes the text lists the smallest and largest kept shares, not every class.
CLASSES_LISTED = 20


def selection_summary(
    *,
    method: str,
    params: Mapping[str, Any],
    pruner,
    labels: np.ndarray,
    kept: np.ndarray,
    num_classes: int,
    probabilities: np.ndarray | None,
    diagnostics: Mapping[str, Any],
) -> dict[str, Any]:
    """The summary of ``method`` (its validated entry ``params``, its ``pruner`` instance) keeping
    the positions ``kept`` ``(k,)`` of ``n`` candidates with given ``labels`` ``(n,)`` in
    ``num_classes`` classes. With the model's ``probabilities`` ``(n, C)`` it holds the estimated
    wrong-label shares (fractions, kept and all) and the noisier-subset check; ``None`` there
    without them. Keys: ``method``, ``params``, ``kept``, ``candidates``, ``classes`` (per class:
    ``class``, ``kept``, ``input`` counts by given label), ``wrong_labels`` (``estimator``,
    ``kept``, ``all``, ``tolerance``, ``noisier``) or ``None``, ``diagnostics`` and ``warning``
    (the text, or ``None``). Plain JSON: no NaN, no numpy types."""
    from noisyprune.artifacts import json_safe

    kept = np.asarray(kept, dtype=np.int64)
    budget, n = len(kept), len(labels)
    kept_counts = np.bincount(labels[kept], minlength=num_classes)
    input_counts = np.bincount(labels, minlength=num_classes)
    wrong_labels, warning = None, None
    if probabilities is not None:
        estimate = estimate_wrong_labels(labels, probabilities, kept)
        noisier = is_noisier(estimate.kept_share, estimate.all_share, budget, n)
        wrong_labels = {
            "estimator": ESTIMATOR,
            "kept": estimate.kept_share,
            "all": estimate.all_share,
            "tolerance": share_tolerance(estimate.all_share, budget, n),
            "noisier": noisier,
        }
        if noisier:
            warning = noisier_message(method, pruner, estimate.kept_share, estimate.all_share, budget, n, "estimated")
    return json_safe(
        {
            "method": method,
            "params": dict(params),
            "kept": budget,
            "candidates": n,
            "classes": [
                {"class": c, "kept": int(kept_counts[c]), "input": int(input_counts[c])} for c in range(num_classes)
            ],
            "wrong_labels": wrong_labels,
            "diagnostics": dict(diagnostics),
            "warning": warning,
        }
    )


def summary_lines(summary: Mapping[str, Any]) -> list[str]:
    """The summary as a few lines of text (what ``noisyprune select`` prints)."""
    classes = summary["classes"]
    lines = [f"kept per class (given label), of the input: {_class_counts(classes)}"]
    wrong = summary["wrong_labels"]
    if wrong is not None:
        verdict = "MORE than the input" if wrong["noisier"] else "not more than the input"
        lines.append(
            f"estimated wrong labels ({wrong['estimator']}): {_share(wrong['kept'])} of the kept, "
            f"{_share(wrong['all'])} of all: {verdict} (tolerance {_share(wrong['tolerance'])})"
        )
    diagnostics = summary["diagnostics"]
    if "neighbours_mean" in diagnostics:  # Prune4ReL's τ-neighbourhoods and pick confidence
        lines.append(
            f"τ = {diagnostics['tau']:.4g}: {diagnostics['neighbours_mean']:.1f} neighbours per sample on average "
            f"(median {diagnostics['neighbours_median']:.0f}), {_number(diagnostics['picked_neighbours_mean'])} per "
            f"pick; {_share(diagnostics['coverage'])} of all samples covered by a pick"
        )
        lines.append(
            f"confidence of the picks {diagnostics['picked_confidence_mean']:.3f} against "
            f"{diagnostics['confidence_mean']:.3f} over all samples"
        )
    elif diagnostics:
        lines.append("diagnostics: " + ", ".join(f"{key}={value}" for key, value in diagnostics.items()))
    return lines


def _class_counts(classes: list[Mapping[str, int]]) -> str:
    def share(entry):
        return entry["kept"] / entry["input"] if entry["input"] else float("nan")

    if len(classes) <= CLASSES_LISTED:
        return ", ".join(f"{e['class']}: {e['kept']}/{e['input']}" for e in classes)
    present = sorted((e for e in classes if e["input"]), key=share)
    low, high = present[0], present[-1]
    return (
        f"{len(classes)} classes, {sum(1 for e in classes if e['kept'])} kept; smallest share class "
        f"{low['class']} {low['kept']}/{low['input']}, largest class {high['class']} {high['kept']}/{high['input']}"
    )


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"
