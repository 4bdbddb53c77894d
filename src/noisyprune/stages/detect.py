"""Stage: noise-detection quality of every per-sample score of one warm-up → ``detection.json``."""

from __future__ import annotations

import logging

import numpy as np

from noisyprune.artifacts import DYNAMICS, check_same_samples, read_table, write_json
from noisyprune.detection import ROC_GRID, detection_quality, noise_scores
from noisyprune.stages.common import aligned_features, load_labels
from noisyprune.stages.interface import Files

log = logging.getLogger(__name__)


def run_detect_stage(*, inputs: Files, outputs: Files, code_hash: str) -> None:
    """Score every training sample of ``inputs["labels"]`` with each pruner score (from
    ``inputs["features"]`` and ``inputs["dynamics"]``) and measure how well it finds the mislabelled
    ones (AUROC, average precision), written with the realised noise rate to ``outputs["detection"]``.
    Without dynamics (a precomputed warm-up trains nothing) the forgetting scores are left out."""
    labels_path, dynamics_path, output = inputs["labels"], inputs.get("dynamics"), outputs["detection"]
    labels = load_labels(labels_path)
    if not labels.clean_known:
        log.info("no clean training labels (intrinsic noise): noise detection cannot be measured")
        write_json(
            {
                "noise_rate": None,
                "num_samples": len(labels.sample_id),
                "scores": [],
                "roc_fpr": ROC_GRID.tolist(),
                "code_hash": code_hash,
            },
            output,
        )
        return
    features = aligned_features(inputs["features"], labels.sample_id, labels_path)
    # The training samples proper: the clean probe set is neither trained on nor a candidate.
    train_rows = labels.training_rows
    features = features.take(train_rows)
    dynamics = None
    if dynamics_path is not None:
        dynamics = read_table(dynamics_path, DYNAMICS)
        check_same_samples(labels.training_ids, np.unique(dynamics.numpy("sample_id")), labels_path, dynamics_path)
    rows = detection_quality(
        noise_scores(features, dynamics, labels.noisy[train_rows], labels.num_classes), labels.is_noisy[train_rows]
    )
    for row in rows:
        log.info("%-30s AUROC %.4f  AP %.4f", row["score"], row["auroc"], row["average_precision"])
    write_json(
        {
            "noise_rate": labels.noise_rate(),
            "num_samples": len(train_rows),
            "scores": rows,
            "roc_fpr": ROC_GRID.tolist(),
            "code_hash": code_hash,
        },
        output,
    )
