"""Stage 4, select: run one pruner at one fraction → ``subset.parquet`` (+ ``timing.json``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from noisyprune import __version__
from noisyprune.artifacts import (
    DYNAMICS,
    SNAPSHOTS,
    SUBSET,
    read_table,
    write_json,
    write_table,
)
from noisyprune.provenance import environment
from noisyprune.pruners import build_pruner
from noisyprune.pruners.base import PrunerInputs, Selection
from noisyprune.pruners.budget import budget_for
from noisyprune.pruners.progress import listening, log_reporter
from noisyprune.seeding import make_rng, select_seed
from noisyprune.stages.common import aligned_features, load_labels

log = logging.getLogger(__name__)


def _check_selection(selection: Selection, budget: int, num_candidates: int, method: str) -> None:
    positions = selection.positions
    if len(positions) != budget or len(np.unique(positions)) != budget:
        raise RuntimeError(
            f"method {method!r} returned {len(positions)} samples (unique: "
            f"{len(np.unique(positions))}) for a budget of {budget}"
        )
    if budget and (positions.min() < 0 or positions.max() >= num_candidates):
        raise RuntimeError(f"method {method!r} returned positions outside [0, {num_candidates})")


def run_select_stage(
    *,
    dataset: str,
    noise: str,
    seed: int,
    warmup: str,
    method: str,
    method_entry: Mapping[str, Any],
    fraction: str,
    labels_path: str,
    features_path: str | None,
    dynamics_path: str | None,
    code_hash: str,
    snapshots_path: str | None = None,
    output: str,
    timing_output: str,
) -> None:
    """Keep ``round(fraction · n)`` training samples chosen by ``method``.

    ``subset.parquet`` lists the kept ``sample_id``s with their ``rank`` (0 = first choice) and the
    method's ``score``; its metadata records the method entry, the budget, the realised noise rate
    inside the subset and per-class counts (by noisy label, as the learner sees them, and by clean
    label). It is deterministic; the selection wall time goes to ``timing_output`` instead.
    """
    labels = load_labels(labels_path)
    pruner = build_pruner(method_entry)
    # The candidates: every training sample but the clean probe set (never selected or budgeted).
    rows = labels.training_rows
    features = None
    if "features" in pruner.requires:
        features = aligned_features(features_path, labels.sample_id, labels_path).take(rows)
    inputs = PrunerInputs(
        sample_id=labels.sample_id[rows],
        noisy_label=labels.noisy[rows],
        num_classes=labels.num_classes,
        features=features,
        dynamics=read_table(dynamics_path, DYNAMICS) if "dynamics" in pruner.requires else None,
        snapshots=read_table(snapshots_path, SNAPSHOTS) if "snapshots" in pruner.requires else None,
    )
    budget = budget_for(float(fraction), len(inputs))
    stage_seed = select_seed(seed, dataset, noise, warmup, method, fraction)
    start = time.perf_counter()
    with listening(log_reporter(log)):  # a tenth at a time into the job's log
        selection = pruner.select(inputs, budget, make_rng(stage_seed))
    seconds = time.perf_counter() - start
    _check_selection(selection, budget, len(inputs), method)

    kept = rows[selection.positions]  # rows of the labels table
    num_classes = labels.num_classes
    class_counts = np.bincount(labels.noisy[kept], minlength=num_classes)
    empty_classes = np.flatnonzero(class_counts == 0).tolist()
    if empty_classes:
        log.warning("subset of %s at fraction %s has no sample of noisy classes %s", method, fraction, empty_classes)
    noise_rate = labels.noise_rate(kept)  # NaN without clean labels
    log.info(
        "%s f=%s: kept %d of %d samples, subset noise rate %.4f (dataset %.4f), %.3f s",
        method,
        fraction,
        budget,
        len(inputs),
        noise_rate,
        labels.noise_rate(),
        seconds,
    )
    write_table(
        {
            "sample_id": labels.sample_id[kept],
            "rank": np.arange(budget, dtype=np.int64),
            "score": selection.scores.astype(np.float64),
        },
        output,
        SUBSET,
        metadata={
            "method": method,
            "method_entry": dict(method_entry),
            "fraction": float(fraction),
            "budget": budget,
            "num_candidates": len(inputs),
            "noise_rate": noise_rate,
            "num_noisy": int(labels.is_noisy[kept].sum()) if labels.clean_known else None,
            "class_counts": class_counts.tolist(),
            "clean_class_counts": np.bincount(labels.clean[kept], minlength=num_classes).tolist()
            if labels.clean_known
            else None,
            "empty_classes": empty_classes,
            "diagnostics": selection.diagnostics,
            "seed": seed,
            "select_seed": stage_seed,
            "package_version": __version__,
            "code_hash": code_hash,
        },
    )
    write_json({"select_seconds": seconds, **selection.runtime, "environment": environment()}, timing_output)
