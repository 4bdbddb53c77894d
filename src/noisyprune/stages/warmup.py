"""Stage 2, warm-up: train on the full noisy set, save the model and the per-sample dynamics."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from noisyprune.artifacts import DYNAMICS, HISTORY, SNAPSHOTS, write_table
from noisyprune.data import load_dataset
from noisyprune.provenance import environment
from noisyprune.seeding import warmup_seed
from noisyprune.stages.common import load_labels, save_checkpoint
from noisyprune.stages.resumable import resume_file
from noisyprune.training.callbacks import DynamicsRecorder, SnapshotScorer
from noisyprune.training.device import configure_torch, device_description
from noisyprune.training.run import train_on_samples

log = logging.getLogger(__name__)


def run_warmup_stage(
    *,
    dataset: str,
    dataset_entry: Mapping[str, Any],
    noise: str,
    seed: int,
    warmup: str,
    warmup_entry: Mapping[str, Any],
    model_entry: Mapping[str, Any],
    labels_path: str,
    device: str,
    threads: int,
    execution: Mapping[str, Any] | None = None,
    inference_batch_size: int,
    code_hash: str,
    model_output: str,
    dynamics_output: str,
    history_output: str,
    snapshots_output: str,
    resume_every: int = 0,
) -> None:
    """Train the warm-up model on every training sample with its noisy label.

    Writes the checkpoint (``model.pt``), ``dynamics.parquet`` (one row per sample and epoch: loss,
    correctness w.r.t. the noisy label and prediction, from the training batches),
    ``history.parquet`` (per epoch; its metadata carries the warm-up entry and wall time) and
    ``snapshots.parquet`` (every sample scored after each epoch in ``score_epochs``; may be empty).
    """
    torch_device = configure_torch(device, threads, execution)
    data = load_dataset(dataset, dataset_entry)
    labels = load_labels(labels_path, data)
    stage_seed = warmup_seed(seed, dataset, noise, warmup)
    dynamics = DynamicsRecorder()
    score_epochs = sorted(warmup_entry.get("score_epochs") or [])
    snapshots = SnapshotScorer(score_epochs, inference_batch_size)
    resume = resume_file(
        model_output,
        resume_every,
        dataset,
        dataset_entry,
        noise,
        seed,
        warmup,
        warmup_entry,
        model_entry,
        labels.noisy,
        code_hash,
    )
    result = train_on_samples(
        data=data,
        noisy_label=labels.noisy,
        sample_ids=labels.training_ids,  # never the clean probe set
        model_entry=model_entry,
        training_entry=warmup_entry,
        entry_key=f"warmups.{warmup}",
        seed=stage_seed,
        device=torch_device,
        inference_batch_size=inference_batch_size,
        augment_entry=dataset_entry.get("augment"),
        callbacks=[dynamics, snapshots],
        resume=resume,
    )
    last = result.history.rows[-1]
    log.info(
        "warm-up %s: %d epochs in %.1f s, test accuracy %.4f",
        warmup,
        len(result.history.rows),
        result.seconds,
        last["test_acc"],
    )
    save_checkpoint(
        result.ctx.model,
        model_entry,
        data.input_shape,
        data.num_classes,
        model_output,
        warmup=warmup,
        epochs=int(warmup_entry["epochs"]),
        seed=stage_seed,
    )
    write_table(
        dynamics.columns(labels.noisy),
        dynamics_output,
        DYNAMICS,
        metadata={"num_classes": data.num_classes, "epochs": int(warmup_entry["epochs"]), "warmup": warmup},
    )
    write_table(snapshots.columns(), snapshots_output, SNAPSHOTS, metadata={"epochs": score_epochs})
    write_table(
        result.history.columns(),
        history_output,
        HISTORY,
        metadata={
            "learner": warmup_entry["learner"],
            "warmup": warmup,
            "warmup_entry": dict(warmup_entry),
            "model_entry": dict(model_entry),
            "seed": seed,
            "warmup_seed": stage_seed,
            "num_samples": len(labels.sample_id),
            "wall_seconds": result.seconds,
            "test_acc_last": last["test_acc"],
            "code_hash": code_hash,
            "environment": environment(device_description(torch_device)),
        },
    )
    if resume is not None:
        resume.remove()
