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
    Artifact,
    read_table,
    write_table,
)
from noisyprune.errors import ArtifactError
from noisyprune.metrics import relabeling_metrics, test_accuracy_means, test_accuracy_summary
from noisyprune.models import architecture
from noisyprune.seeding import retrain_seed
from noisyprune.stages.common import NoisyLabels, load_checkpoint_model
from noisyprune.stages.interface import Compute, Files, Run, TrainingEntries
from noisyprune.stages.metrics_file import write_metrics_file
from noisyprune.stages.model_job import open_model_job, training_job
from noisyprune.stages.resumable import resume_file
from noisyprune.training.data import device_inputs
from noisyprune.training.run import train_on_samples

log = logging.getLogger(__name__)


def run_retrain_stage(
    *, run: Run, inputs: Files, outputs: Files, training: TrainingEntries, compute: Compute, code_hash: str
) -> None:
    """Train a freshly initialised model with the learner entry ``training.trainer`` on the kept
    samples only (``inputs["subset"]`` of ``inputs["labels"]``); write ``outputs["metrics"]``
    (``metrics.json``), ``outputs["history"]`` and ``outputs["relabels"]``. After training, the
    learner's re-labeling readout gives a corrected label for *every* training sample (pruned ones
    included), scored against the clean labels, which the learner never sees."""
    total_start = time.perf_counter()
    torch_device, data, labels = open_model_job(run, inputs["labels"], training.dataset, compute)
    subset, kept, missing_classes = checked_subset(inputs["subset"], labels)
    stage_seed = retrain_seed(run.seed, run.dataset, run.noise, run.learner)
    identity = (run.wildcards(), training.trainer, training.model, training.dataset, stage_seed, kept)
    resume = resume_file(outputs["metrics"], compute.resume_every, *identity, code_hash)
    job = training_job(training, stage_seed, compute)
    result = train_on_samples(
        job,
        data,
        labels.noisy,
        kept,
        torch_device,
        resume=resume,
        probe_ids=labels.probe_ids,
        **learner_start(training.trainer, training.model, inputs, labels, torch_device),
    )
    logits, relabel = relabel_every_sample(result, data, labels, torch_device, compute.inference_batch_size)
    in_subset = np.isin(labels.sample_id, kept)
    history = result.history.columns()
    metrics = retrain_metrics(result, history, labels, kept, in_subset, missing_classes, logits, relabel)
    log.info(
        "%s: test accuracy last %.4f best %.4f, re-labeling accuracy %.4f (%.1f s)",
        "/".join(str(value) for value in run.wildcards().values()),
        *(metrics["test_acc_last"], metrics["test_acc_best"], metrics["relabel_acc_all"], result.seconds),
    )
    write_table(history, outputs["history"], HISTORY, metadata={"learner": job.learner})
    columns = {"sample_id": labels.sample_id, "noisy_label": labels.noisy, "relabel": relabel, "in_subset": in_subset}
    metadata = {"num_classes": labels.num_classes, "learner": job.learner}
    write_table(columns, outputs["relabels"], RELABELS, metadata=metadata)
    provenance = retrain_provenance(run, labels, subset, training, stage_seed)
    write_metrics_file(outputs["metrics"], run, metrics, provenance, result, total_start, torch_device, code_hash)
    if resume is not None:
        resume.remove()


def checked_subset(subset_path: str, labels: NoisyLabels) -> tuple[Artifact, np.ndarray, list[int]]:
    """The subset file, its kept sample ids ``(k,)`` sorted and the noisy-label classes none of them
    has (logged). Refuses ids absent from ``labels``, an empty subset and probe samples."""
    subset = read_table(subset_path, SUBSET)
    kept = np.sort(subset.numpy("sample_id"))
    if not np.isin(kept, labels.sample_id).all():
        raise ArtifactError(f"{subset_path}: holds sample ids absent from {labels.path}")
    if len(kept) == 0:
        raise ArtifactError(f"{subset_path}: the subset is empty; nothing to train on")
    if np.isin(kept, labels.probe_ids).any():
        raise ArtifactError(f"{subset_path}: holds samples of the clean probe set of {labels.path}")
    # Classes the learner never sees a label of cannot be predicted from their own labels: report them.
    missing_classes = sorted(set(range(labels.num_classes)) - set(labels.noisy[kept].tolist()))
    if missing_classes:
        log.warning(
            "%s: no sample with noisy label in classes %s; the learner never sees them", subset_path, missing_classes
        )
    return subset, kept, missing_classes


def learner_start(
    learner_entry: Mapping[str, Any], model_entry: Mapping[str, Any], inputs: Files, labels: NoisyLabels, device
) -> dict[str, Any]:
    """What the learner starts from besides fresh weights, as keywords of ``train_on_samples``: the
    warm-up checkpoint's weights for ``init: warmup`` (``inputs["checkpoint"]``), the warm-up
    embeddings for a learner whose head reads them (``inputs["features"]``)."""
    init_state = None
    if learner_entry.get("init") == "warmup":
        init_state = warmup_weights(inputs.get("checkpoint"), model_entry, device)
    embeddings = warmup_embeddings(inputs["features"], labels) if inputs.get("features") else None
    return {"init_state": init_state, "warmup_embeddings": embeddings}


def relabel_every_sample(result, data, labels: NoisyLabels, device: torch.device, batch_size: int):
    """The trained learner's logits ``(n, C)`` (on ``device``) and corrected labels ``(n,)`` (numpy)
    of every training sample, pruned ones included, in sample-id order."""
    all_x = device_inputs(data.train_x, labels.sample_id, device)
    logits = result.learner.predict_logits(result.ctx, all_x, batch_size)
    ids = torch.as_tensor(labels.sample_id, device=device)
    noisy = torch.as_tensor(labels.noisy, device=device)
    return logits, result.learner.relabel(result.ctx, ids, noisy, logits).cpu().numpy()


def retrain_metrics(
    result,
    history: Mapping[str, np.ndarray],
    labels: NoisyLabels,
    kept: np.ndarray,
    in_subset: np.ndarray,
    missing_classes: list[int],
    logits: torch.Tensor,
    relabel: np.ndarray,
) -> dict[str, Any]:
    """The ``metrics`` block of ``metrics.json``: test accuracy (last, best, mean of the last 10
    epochs, mean of all epochs), subset facts, noise rates (NaN
    without clean training labels, not zero), re-labeling accuracies on the training set proper
    (probe excluded) and the learner's own report."""
    train_rows = labels.training_rows
    known = labels.clean_known
    return {
        **test_accuracy_summary(history["epoch"], history["test_acc"]),
        **test_accuracy_means(history["test_acc"]),
        "train_acc_noisy_last": float(history["train_acc_noisy"][-1]),
        "subset_size": len(kept),
        "subset_missing_classes": ",".join(map(str, missing_classes)),  # noisy-label classes absent
        "subset_noise_rate": labels.noise_rate(in_subset),
        "dataset_noise_rate": labels.noise_rate(),
        **relabeling_metrics(
            relabel[train_rows],
            labels.clean[train_rows] if known else None,
            labels.is_noisy[train_rows] if known else None,
            in_subset[train_rows],
        ),
        # the model-prediction readout, to compare with learners whose readout uses their own state
        "relabel_acc_prediction": float((logits.argmax(dim=1).cpu().numpy() == labels.clean)[train_rows].mean())
        if known
        else float("nan"),
        **result.learner.report,  # learner-specific facts (e.g. RDIA's relabel count)
    }


def retrain_provenance(
    run: Run, labels: NoisyLabels, subset: Artifact, training: TrainingEntries, stage_seed: int
) -> dict[str, Any]:
    """The ``provenance`` block of ``metrics.json`` but its code hash and environment: the config
    entries of every stage the run went through and their seeds."""
    return {
        "config": {
            "dataset": dict(training.dataset),
            "noise": labels.metadata.get("noise_entry"),
            "method": subset.metadata.get("method_entry"),
            "learner": dict(training.trainer),
            "model": dict(training.model),
        },
        "seeds": {
            "base": run.seed,
            "noise": labels.metadata.get("noise_seed"),
            "select": subset.metadata.get("select_seed"),
            "retrain": stage_seed,
        },
    }


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
