"""Stage 5, retrain: a fresh model trained on the subset → ``metrics.json``, ``history.parquet``,
``relabels.parquet``."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from noisyprune.artifacts import (
    HISTORY,
    RELABELS,
    SUBSET,
    read_table,
    write_json,
    write_table,
)
from noisyprune.data import load_dataset
from noisyprune.errors import ArtifactError
from noisyprune.metrics import relabeling_metrics, test_accuracy_summary
from noisyprune.models import architecture
from noisyprune.provenance import environment
from noisyprune.seeding import retrain_seed
from noisyprune.stages.common import load_checkpoint_model, load_labels
from noisyprune.stages.resumable import resume_file
from noisyprune.training.data import device_inputs
from noisyprune.training.device import configure_torch, device_description
from noisyprune.training.run import train_on_samples

log = logging.getLogger(__name__)


def run_retrain_stage(
    *,
    run: Mapping[str, Any],
    dataset_entry: Mapping[str, Any],
    learner_entry: Mapping[str, Any],
    model_entry: Mapping[str, Any],
    labels_path: str,
    subset_path: str,
    device: str,
    threads: int,
    execution: Mapping[str, Any] | None = None,
    inference_batch_size: int,
    code_hash: str,
    metrics_output: str,
    history_output: str,
    relabels_output: str,
    checkpoint_path: str | None = None,
    features_path: str | None = None,
    resume_every: int = 0,
) -> None:
    """Train a freshly initialised model with the learner entry on the kept samples only.

    ``run`` holds the wildcards (dataset, noise, seed, warmup, method, fraction, learner). After
    training, the learner's re-labeling readout gives a corrected label for *every* training sample
    (pruned ones included), scored against the clean labels, which the learner never sees.
    """
    total_start = time.perf_counter()
    run = {**run, "seed": int(run["seed"])}
    torch_device = configure_torch(device, threads, execution)
    data = load_dataset(run["dataset"], dataset_entry)
    labels = load_labels(labels_path, data)
    subset = read_table(subset_path, SUBSET)
    kept = np.sort(subset.numpy("sample_id"))
    if not np.isin(kept, labels.sample_id).all():
        raise ArtifactError(f"{subset_path}: holds sample ids absent from {labels_path}")
    if len(kept) == 0:
        raise ArtifactError(f"{subset_path}: the subset is empty; nothing to train on")
    if np.isin(kept, labels.probe_ids).any():
        raise ArtifactError(f"{subset_path}: holds samples of the clean probe set of {labels_path}")
    # Classes the learner never sees a label of cannot be predicted from their own labels: report them.
    missing_classes = sorted(set(range(labels.num_classes)) - set(labels.noisy[kept].tolist()))
    if missing_classes:
        log.warning(
            "%s: no sample with noisy label in classes %s; the learner never sees them", subset_path, missing_classes
        )
    stage_seed = retrain_seed(run["seed"], run["dataset"], run["noise"], run["learner"])
    resume = resume_file(
        metrics_output, resume_every, run, learner_entry, model_entry, dataset_entry, stage_seed, kept, code_hash
    )
    init_state = None
    if learner_entry.get("init") == "warmup":
        init_state = warmup_weights(checkpoint_path, model_entry, torch_device)
    result = train_on_samples(
        data=data,
        noisy_label=labels.noisy,
        sample_ids=kept,
        model_entry=model_entry,
        training_entry=learner_entry,
        entry_key=f"learners.{run['learner']}",
        seed=stage_seed,
        device=torch_device,
        inference_batch_size=inference_batch_size,
        augment_entry=dataset_entry.get("augment"),
        init_state=init_state,
        resume=resume,
        probe_ids=labels.probe_ids,
        warmup_embeddings=warmup_embeddings(features_path, labels) if features_path else None,
    )

    all_x = device_inputs(data.train_x, labels.sample_id, torch_device)
    logits = result.learner.predict_logits(result.ctx, all_x, inference_batch_size)
    ids = torch.as_tensor(labels.sample_id, device=torch_device)
    noisy = torch.as_tensor(labels.noisy, device=torch_device)
    relabel = result.learner.relabel(result.ctx, ids, noisy, logits).cpu().numpy()
    in_subset = np.isin(labels.sample_id, kept)
    train_rows = labels.training_rows  # re-labeling is scored on the training set proper

    history = result.history.columns()
    metrics = {
        **test_accuracy_summary(history["epoch"], history["test_acc"]),
        "train_acc_noisy_last": float(history["train_acc_noisy"][-1]),
        "subset_size": len(kept),
        "subset_missing_classes": ",".join(map(str, missing_classes)),  # noisy-label classes absent
        # Without clean training labels (intrinsic noise) these are missing (NaN → null), not zero.
        "subset_noise_rate": labels.noise_rate(in_subset),
        "dataset_noise_rate": labels.noise_rate(),
        **relabeling_metrics(
            relabel[train_rows],
            labels.clean[train_rows] if labels.clean_known else None,
            labels.is_noisy[train_rows] if labels.clean_known else None,
            in_subset[train_rows],
        ),
        # the model-prediction readout, to compare with learners whose readout uses their own state
        "relabel_acc_prediction": float((logits.argmax(dim=1).cpu().numpy() == labels.clean)[train_rows].mean())
        if labels.clean_known
        else float("nan"),
        **result.learner.report,  # learner-specific facts (e.g. RDIA's relabel count)
    }
    log.info(
        "%s: test accuracy last %.4f best %.4f, re-labeling accuracy %.4f (%.1f s)",
        "/".join(str(v) for v in run.values()),
        metrics["test_acc_last"],
        metrics["test_acc_best"],
        metrics["relabel_acc_all"],
        result.seconds,
    )

    write_table(history, history_output, HISTORY, metadata={"learner": learner_entry["learner"]})
    write_table(
        {
            "sample_id": labels.sample_id,
            "noisy_label": labels.noisy,
            "relabel": relabel,
            "in_subset": in_subset,
        },
        relabels_output,
        RELABELS,
        metadata={"num_classes": labels.num_classes, "learner": learner_entry["learner"]},
    )
    write_json(
        {
            "run": dict(run),
            "metrics": metrics,
            "timing": {"train_seconds": result.seconds, "total_seconds": time.perf_counter() - total_start},
            "provenance": {
                "config": {
                    "dataset": dict(dataset_entry),
                    "noise": labels.metadata.get("noise_entry"),
                    "method": subset.metadata.get("method_entry"),
                    "learner": dict(learner_entry),
                    "model": dict(model_entry),
                },
                "seeds": {
                    "base": run["seed"],
                    "noise": labels.metadata.get("noise_seed"),
                    "select": subset.metadata.get("select_seed"),
                    "retrain": stage_seed,
                },
                "code_hash": code_hash,
                "environment": environment(device_description(torch_device)),
            },
        },
        metrics_output,
    )
    if resume is not None:
        resume.remove()


def warmup_weights(checkpoint_path: str | None, model_entry: Mapping[str, Any], device: torch.device) -> dict:
    """The warm-up checkpoint's weights, for a learner with ``init: warmup``; its architecture must
    be the learner's (``model_entry``), else the error names both."""
    if not checkpoint_path:
        raise ArtifactError("learner has init: warmup but the retrain job got no warm-up checkpoint")
    model, payload = load_checkpoint_model(checkpoint_path, device)
    if architecture(payload["model_entry"]) != architecture(model_entry):
        raise ArtifactError(
            f"{checkpoint_path}: warm-up model {architecture(payload['model_entry'])} differs from the "
            f"learner's {architecture(model_entry)}; init: warmup needs the same model entry"
        )
    return model.state_dict()


def warmup_embeddings(features_path: str, labels) -> np.ndarray:
    """The warm-up embedding ``(n, d)`` of every sample, rows by sample id (for RDIA's head)."""
    from noisyprune.stages.common import aligned_features

    return aligned_features(features_path, labels.sample_id, labels.path).numpy("embedding")
