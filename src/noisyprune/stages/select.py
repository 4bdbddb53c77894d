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
    vector_to_numpy,
    write_json,
    write_table,
)
from noisyprune.noise_estimate import likely_wrong, wrong_label_shares
from noisyprune.noisier_subset import is_noisier, noisier_message
from noisyprune.provenance import environment
from noisyprune.pruners import build_pruner
from noisyprune.pruners.base import PrunerInputs, Selection
from noisyprune.pruners.budget import budget_for
from noisyprune.pruners.placement import on_device
from noisyprune.pruners.progress import listening, log_reporter
from noisyprune.seeding import make_rng, select_seed
from noisyprune.stages.common import NoisyLabels, aligned_features, load_labels
from noisyprune.stages.interface import Compute, Files, Run

log = logging.getLogger(__name__)

# Rows of warm-up probabilities read at a time for the estimated wrong-label share.
PROBS_BLOCK_ROWS = 65_536


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
    run: Run,
    inputs: Files,
    outputs: Files,
    method_entry: Mapping[str, Any],
    code_hash: str,
    compute: Compute | None = None,
) -> None:
    """Keep ``round(run.fraction · n)`` training samples chosen by ``run.method``.

    Reads ``inputs["labels"]`` and, when the pruner needs them, ``inputs["features"]``,
    ``["dynamics"]``, ``["snapshots"]``. ``outputs["subset"]`` (``subset.parquet``) lists the kept
    ``sample_id``s with their ``rank`` (0 = first choice) and the method's ``score``; its metadata
    records the method entry, the budget, the realised noise rate inside the subset (``noise_rate``)
    and among all candidates (``noise_rate_all``), the wrong-label shares estimated from the
    warm-up's probabilities when the pruner reads ``features.parquet`` (``estimated_noise_rate``,
    ``estimated_noise_rate_all``; :mod:`noisyprune.noise_estimate`) and per-class counts (by noisy
    label, as the learner sees them, and by clean label). A subset with more wrong labels than its
    candidates (true shares when known, else estimated) is logged as a warning. It is
    deterministic; the selection wall time goes to ``outputs["timing"]`` instead.
    """
    labels = load_labels(inputs["labels"])
    pruner = build_pruner(method_entry)
    # The candidates: every training sample but the clean probe set (never selected or budgeted).
    rows = labels.training_rows
    candidates = pruner_inputs(pruner.requires, labels, rows, inputs)
    budget = budget_for(float(run.fraction), len(candidates))
    stage_seed = select_seed(run.seed, run.dataset, run.noise, run.warmup, run.method, run.fraction)
    start = time.perf_counter()
    device = compute.device if compute is not None else "auto"
    with listening(log_reporter(log)), on_device(device):  # progress: a tenth at a time into the job's log
        selection = pruner.select(candidates, budget, make_rng(stage_seed))
    seconds = time.perf_counter() - start
    _check_selection(selection, budget, len(candidates), run.method)
    kept = rows[selection.positions]  # rows of the labels table
    composition = subset_composition(labels, kept) | noise_shares(labels, rows, candidates, selection.positions)
    warning = noisier_warning(run.method, pruner, composition, budget, len(candidates))
    if warning is not None:
        log.warning("%s", warning)
    if composition["empty_classes"]:
        log.warning(
            "subset of %s at fraction %s has no sample of noisy classes %s",
            run.method,
            run.fraction,
            composition["empty_classes"],
        )
    log.info(
        "%s f=%s: kept %d of %d samples, subset noise rate %.4f (all candidates %.4f), estimated %.4f (%.4f), %.3f s",
        run.method,
        run.fraction,
        budget,
        len(candidates),
        composition["noise_rate"],
        composition["noise_rate_all"],
        composition["estimated_noise_rate"],
        composition["estimated_noise_rate_all"],
        seconds,
    )
    columns = {
        "sample_id": labels.sample_id[kept],
        "rank": np.arange(budget, dtype=np.int64),
        "score": selection.scores.astype(np.float64),
    }
    metadata = subset_provenance(run, method_entry, budget, len(candidates), composition, selection, stage_seed)
    write_table(columns, outputs["subset"], SUBSET, metadata={**metadata, "code_hash": code_hash})
    write_json({"select_seconds": seconds, **selection.runtime, "environment": environment()}, outputs["timing"])


def pruner_inputs(requires, labels: NoisyLabels, rows: np.ndarray, inputs: Files) -> PrunerInputs:
    """What a pruner that ``requires`` features/dynamics/snapshots sees of the candidate ``rows``
    ``(m,)`` of the labels table: their ids and noisy labels, and the warm-up files it reads."""
    features = None
    if "features" in requires:
        features = aligned_features(inputs["features"], labels.sample_id, labels.path).take(rows)
    return PrunerInputs(
        sample_id=labels.sample_id[rows],
        noisy_label=labels.noisy[rows],
        num_classes=labels.num_classes,
        features=features,
        dynamics=read_table(inputs["dynamics"], DYNAMICS) if "dynamics" in requires else None,
        snapshots=read_table(inputs["snapshots"], SNAPSHOTS) if "snapshots" in requires else None,
    )


def subset_composition(labels: NoisyLabels, kept: np.ndarray) -> dict[str, Any]:
    """The realised noise rate (NaN without clean labels), the number of wrong labels and the
    per-class counts by noisy and clean label (``None`` without clean labels) of the ``kept`` rows,
    with the noisy-label classes it lacks."""
    class_counts = np.bincount(labels.noisy[kept], minlength=labels.num_classes)
    clean_counts = np.bincount(labels.clean[kept], minlength=labels.num_classes) if labels.clean_known else None
    return {
        "noise_rate": labels.noise_rate(kept),
        "num_noisy": int(labels.is_noisy[kept].sum()) if labels.clean_known else None,
        "class_counts": class_counts.tolist(),
        "clean_class_counts": clean_counts.tolist() if clean_counts is not None else None,
        "empty_classes": np.flatnonzero(class_counts == 0).tolist(),
    }


def noise_shares(labels: NoisyLabels, rows: np.ndarray, candidates: PrunerInputs, kept: np.ndarray) -> dict[str, Any]:
    """The share of wrong labels among all candidate ``rows`` ``(n,)`` of the labels table
    (``noise_rate_all``; NaN without clean labels) and the shares estimated from the warm-up's
    probabilities among the kept positions ``kept`` ``(k,)`` into the candidates and among all
    (``estimated_noise_rate``, ``estimated_noise_rate_all``; NaN when the pruner did not read
    ``features.parquet``, so that e.g. uniform selections stay independent of the warm-up)."""
    features = candidates.features
    if features is not None and "probs" in features.table.column_names:
        # By row blocks: the (n, C) probabilities are not copied whole (ImageNet: 1.28M × 1000).
        probs, noisy = features.table.column("probs"), candidates.noisy_label
        wrong = [
            likely_wrong(noisy[start : start + PROBS_BLOCK_ROWS], vector_to_numpy(probs.slice(start, PROBS_BLOCK_ROWS)))
            for start in range(0, len(noisy), PROBS_BLOCK_ROWS)
        ]
        estimate = wrong_label_shares(np.concatenate(wrong) if wrong else np.zeros(0, dtype=bool), kept)
        estimated, estimated_all = estimate.kept_share, estimate.all_share
    else:
        estimated = estimated_all = float("nan")
    return {
        "noise_rate_all": labels.noise_rate(rows),
        "estimated_noise_rate": estimated,
        "estimated_noise_rate_all": estimated_all,
    }


def noisier_warning(
    method: str, pruner, composition: Mapping[str, Any], budget: int, num_candidates: int
) -> str | None:
    """The warning text when the kept subset holds more wrong labels than all candidates, judged by
    the true shares of ``composition`` (:func:`subset_composition` | :func:`noise_shares`) when clean
    labels are known, else by the estimated ones; ``None`` otherwise."""
    for kept_key, all_key, source in (
        ("noise_rate", "noise_rate_all", "true"),
        ("estimated_noise_rate", "estimated_noise_rate_all", "estimated"),
    ):
        kept_share, all_share = composition[kept_key], composition[all_key]
        if not (np.isnan(kept_share) or np.isnan(all_share)):
            if is_noisier(kept_share, all_share, budget, num_candidates):
                return noisier_message(method, pruner, kept_share, all_share, budget, num_candidates, source)
            return None
    return None


def subset_provenance(
    run: Run,
    method_entry: Mapping[str, Any],
    budget: int,
    num_candidates: int,
    composition: Mapping[str, Any],
    selection: Selection,
    stage_seed: int,
) -> dict[str, Any]:
    """The metadata of ``subset.parquet`` but its code hash: method, budget, composition, the
    pruner's diagnostics, seeds and package version."""
    return {
        "method": run.method,
        "method_entry": dict(method_entry),
        "fraction": float(run.fraction),
        "budget": budget,
        "num_candidates": num_candidates,
        **composition,
        "diagnostics": selection.diagnostics,
        "seed": run.seed,
        "select_seed": stage_seed,
        "package_version": __version__,
    }
