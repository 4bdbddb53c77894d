"""Stage: noise-detection quality of every per-sample score of one warm-up → ``detection.json``."""

from __future__ import annotations

import logging

import numpy as np

from noisyprune.artifacts import DYNAMICS, check_same_samples, read_table, write_json
from noisyprune.detection import ROC_GRID, detection_quality, noise_scores
from noisyprune.stages.common import aligned_features, load_labels

log = logging.getLogger(__name__)


def run_detect_stage(*, labels_path: str, features_path: str, dynamics_path: str, code_hash: str,
                     output: str) -> None:
    """Score every training sample with each pruner score and measure how well it finds the
    mislabelled ones (AUROC, average precision), written with the realised noise rate."""
    labels = load_labels(labels_path)
    if not labels.clean_known:
        log.info("no clean training labels (intrinsic noise): noise detection cannot be measured")
        write_json({"noise_rate": None, "num_samples": len(labels.sample_id), "scores": [],
                    "roc_fpr": ROC_GRID.tolist(), "code_hash": code_hash}, output)
        return
    features = aligned_features(features_path, labels.sample_id, labels_path)
    dynamics = read_table(dynamics_path, DYNAMICS)
    check_same_samples(labels.sample_id, np.unique(dynamics.numpy("sample_id")), labels_path, dynamics_path)
    rows = detection_quality(noise_scores(features, dynamics, labels.noisy, labels.num_classes),
                             labels.is_noisy)
    for row in rows:
        log.info("%-30s AUROC %.4f  AP %.4f", row["score"], row["auroc"], row["average_precision"])
    write_json({"noise_rate": float(labels.is_noisy.mean()), "num_samples": len(labels.sample_id),
                "scores": rows, "roc_fpr": ROC_GRID.tolist(), "code_hash": code_hash}, output)
