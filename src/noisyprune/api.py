"""The pruners from Python, on your own arrays: labels and a representation in, the kept samples out.

    import noisyprune
    kept = noisyprune.select_subset(labels, method="prune4rel", fraction=0.2,
                                    features=embeddings, probabilities=probs, tau=0.95)
    kept.indices      # positions into your arrays, best first
    kept.summary      # kept per class, estimated wrong-label share kept vs all, the method's diagnostics

The same pruner classes as the workflow's ``select`` stage, the same method names and parameters as a
``methods`` entry of the config (validated by the same schema), and the same derived scores the
workflow's ``extract`` stage computes from a warm-up model's outputs (loss on the given label,
confidence, margin, entropy, …), here from the probabilities or logits you pass.

Given probabilities or logits, the kept subset's share of wrong labels is estimated (from the labels
the model disagrees with, :mod:`noisyprune.noise_estimate`) and compared with the input's: a
subset with more wrong labels raises :class:`NoisierSubsetWarning`, saying what the method keeps.
Prune4ReL does that by design (it keeps samples a re-labeling learner can correct, not clean ones).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from noisyprune.data.checks import aligned_matrix, class_indices
from noisyprune.noisier_subset import NoisierSubsetWarning

__all__ = ["KeptSubset", "NoisierSubsetWarning", "select_subset", "validated_method"]

# Pruners that read the warm-up's per-epoch training record, which only the workflow's warm-up makes.
DYNAMICS_INPUTS = ("dynamics", "snapshots")


@dataclass(frozen=True)
class KeptSubset:
    """The samples a pruner kept: ``indices`` ``(budget,)`` are positions into the arrays given to
    :func:`select_subset`, best first (``rank`` 0 first); ``sample_ids`` the caller's ids of the same
    samples (the positions again when none were given); ``scores`` the method's score of each
    (NaN where a method has none); ``diagnostics`` the method's facts about the run (e.g.
    Prune4ReL's τ, neighbourhood sizes, coverage); ``summary`` what was kept, as plain JSON
    (:func:`noisyprune.selection_summary.selection_summary`: kept vs input per class, the estimated
    wrong-label share kept and overall when probabilities or logits were given, the diagnostics and
    the noisier-subset warning's text, or ``None``)."""

    indices: np.ndarray
    sample_ids: np.ndarray
    scores: np.ndarray
    method: str
    params: dict[str, Any]
    budget: int
    num_candidates: int
    diagnostics: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    def columns(self) -> dict[str, np.ndarray]:
        """The kept samples as named columns ``(budget,)`` each: ``rank``, ``index``, ``sample_id``,
        ``score`` (what :meth:`to_frame` holds, without pandas)."""
        return {
            "rank": np.arange(self.budget),
            "index": self.indices,
            "sample_id": self.sample_ids,
            "score": self.scores,
        }

    def to_frame(self):
        """The kept samples as a pandas DataFrame: ``rank``, ``index``, ``sample_id``, ``score``."""
        import pandas as pd

        return pd.DataFrame(self.columns())


def select_subset(
    labels,
    *,
    method: str,
    fraction: float | None = None,
    budget: int | None = None,
    features=None,
    probabilities=None,
    logits=None,
    sample_ids=None,
    num_classes: int | None = None,
    seed: int = 0,
    method_params: Mapping[str, Any] | None = None,
    **params: Any,
) -> KeptSubset:
    """Keep ``fraction`` (or exactly ``budget``) of ``n`` samples with the pruner ``method``.

    ``labels`` ``(n,)``: the labels as given (noisy), class indices. ``features`` ``(n, d)``: an
    embedding per sample (Prune4ReL, Moderate, kCenterGreedy, …). ``probabilities`` ``(n, C)``
    (rows sum to 1) or ``logits`` ``(n, C)``: a model's class scores per sample (Prune4ReL's
    confidence, SmallLoss, Uncertainty, EL2N, …); with logits, every derived score is exactly the
    workflow's. ``sample_ids`` ``(n,)``: your ids, returned with the kept indices. ``num_classes``
    defaults to ``C``, else the largest label + 1. ``seed`` seeds the method's random choices.
    ``params``: the method's parameters, as in a config ``methods`` entry (``tau=0.95``,
    ``balance="equal"``, …), validated the same way. ``method_params``: the same as a mapping —
    the way to pass a parameter whose name is one of this function's own arguments
    (``confident_learning``'s ``probabilities``: ``method_params={"probabilities": "warmup"}``).

    Raises ``ValueError`` naming the argument for misaligned, non-finite or wrongly shaped arrays,
    a parameter the method does not take, or a method whose inputs are missing. Warns with
    :class:`NoisierSubsetWarning` when the kept subset's estimated share of wrong labels exceeds
    the input's (by more than chance: :func:`noisyprune.noisier_subset.share_tolerance`); it needs
    probabilities or logits, and the text is also in ``summary["warning"]``."""
    from noisyprune.artifacts import Artifact
    from noisyprune.pruners import build_pruner
    from noisyprune.pruners.base import PrunerInputs
    from noisyprune.pruners.budget import budget_for
    from noisyprune.seeding import make_rng
    from noisyprune.selection_summary import selection_summary

    twice = sorted(set(method_params or {}) & set(params))
    if twice:
        raise ValueError(f"method parameter(s) {twice} given both as keywords and in method_params")
    entry = validated_method(method, {**(method_params or {}), **params})
    labels = _labels(labels)
    n = len(labels)
    columns: dict[str, np.ndarray] = {}
    if probabilities is not None or logits is not None:
        # The derived scores the extract stage writes, computed with torch: imported only here, so a method on
        # features or labels alone (uniform, moderate, …) starts without torch (noisyprune select).
        from noisyprune.derived_scores import scores_from_class_outputs

        columns = scores_from_class_outputs(labels, probabilities, logits, num_classes)
    if features is not None:
        columns["embedding"] = aligned_matrix(features, "features", n)
    classes = num_classes or (columns["probs"].shape[1] if "probs" in columns else int(labels.max()) + 1)
    if labels.max(initial=-1) >= classes:
        raise ValueError(f"labels: label {int(labels.max())} is outside the {classes} classes")
    ids = np.arange(n, dtype=np.int64) if sample_ids is None else _ids(sample_ids, n)
    if (fraction is None) == (budget is None):
        raise ValueError("give exactly one of fraction (0 < f ≤ 1) or budget (1 ≤ b ≤ n)")
    if budget is None:
        if not 0.0 < float(fraction) <= 1.0:
            raise ValueError(f"fraction: {fraction} is not in (0, 1]")
        budget = budget_for(float(fraction), n)
    elif not (isinstance(budget, int | np.integer) and 1 <= budget <= n):
        raise ValueError(f"budget: {budget!r} is not a whole number in [1, {n}]")

    pruner = build_pruner(entry)
    missing_inputs = [name for name in DYNAMICS_INPUTS if name in pruner.requires]
    if missing_inputs:
        raise ValueError(
            f"method {method!r} reads the warm-up's per-epoch training record ({', '.join(missing_inputs)}), "
            "which only the workflow's warm-up writes; run it through the workflow, or pick a method that reads "
            "features or scores"
        )
    import pyarrow as pa

    from noisyprune.artifacts import vector_array

    table = pa.table(
        {
            "sample_id": np.arange(n, dtype=np.int64),
            "noisy_label": labels,
            **{name: vector_array(v) if v.ndim == 2 else v for name, v in columns.items()},
        }
    )
    inputs = PrunerInputs(
        sample_id=np.arange(n, dtype=np.int64),
        noisy_label=labels,
        num_classes=classes,
        features=Artifact(table=table, metadata={"num_classes": classes}, path=Path("<arrays>")),
    )
    try:
        selection = pruner.select(inputs, budget, make_rng(seed))
    except KeyError as err:  # a column the caller's arrays cannot provide
        if "embedding" in str(err):
            needs = "features="
        elif "max_logit" in str(err):
            needs = "logits= for score max_logit (the largest raw logit cannot be recovered from probabilities)"
        else:
            needs = "probabilities= or logits="
        raise ValueError(f"method {method!r} needs {needs}; pass it") from None
    positions = np.asarray(selection.positions, dtype=np.int64)
    summary = selection_summary(
        method=method,
        params=entry,
        pruner=pruner,
        labels=labels,
        kept=positions,
        num_classes=classes,
        probabilities=columns.get("probs"),
        diagnostics=selection.diagnostics,
    )
    if summary["warning"] is not None:
        warnings.warn(summary["warning"], NoisierSubsetWarning, stacklevel=2)
    return KeptSubset(
        indices=positions,
        sample_ids=ids[positions],
        scores=np.asarray(selection.scores, dtype=np.float64),
        method=method,
        params=entry,
        budget=budget,
        num_candidates=n,
        diagnostics=dict(selection.diagnostics),
        summary=summary,
    )


def validated_method(method: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The method entry ``{"pruner": method, **params}`` validated against the pruner's parameter
    declarations (the same schema branch the workflow's config uses, defaults filled), with the
    config's messages (``parameter 'tau': …``)."""
    import jsonschema

    from noisyprune.config import check_finite
    from noisyprune.errors import ConfigError
    from noisyprune.schema import method_schema

    entry = {"pruner": method, **params}
    try:
        check_finite(entry)
    except ConfigError as err:
        raise ValueError(str(err).replace("config key", "parameter")) from None
    schema = method_schema(method)
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(entry))
    if error is not None:
        if error.validator == "additionalProperties":
            allowed = sorted(set(error.schema.get("properties", {})) - {"pruner"})
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            raise ValueError(f"method {method!r} has no parameter {', '.join(map(repr, unknown))}; it takes {allowed}")
        where = ".".join(map(str, error.absolute_path)) or "method"
        raise ValueError(f"parameter {where!r}: {error.message}")
    defaults = schema["allOf"][0]["then"]["properties"]
    return entry | {key: spec["default"] for key, spec in defaults.items() if "default" in spec and key not in entry}


def _labels(labels) -> np.ndarray:
    values = np.asarray(labels)
    if values.ndim != 1 or not len(values):
        raise ValueError(f"labels: expected a non-empty 1-D array, got shape {values.shape}")
    try:
        return class_indices(values, "labels", "the array")
    except Exception as err:
        raise ValueError(str(err)) from None


def _ids(values, n: int) -> np.ndarray:
    ids = np.asarray(values)
    if ids.shape != (n,):
        raise ValueError(f"sample_ids: expected shape ({n},) aligned with labels, got {ids.shape}")
    return ids
