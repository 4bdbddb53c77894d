"""Stage 2, warm-up: train on the full noisy set, save the model and the per-sample dynamics."""

from __future__ import annotations

import logging
from typing import Any

from noisyprune.artifacts import DYNAMICS, HISTORY, SNAPSHOTS, write_table
from noisyprune.provenance import environment
from noisyprune.seeding import warmup_seed
from noisyprune.stages.common import save_checkpoint
from noisyprune.stages.interface import Compute, Files, Run, TrainingEntries
from noisyprune.stages.model_job import open_model_job, training_job
from noisyprune.stages.resumable import resume_file
from noisyprune.training.callbacks import DynamicsRecorder, SnapshotScorer
from noisyprune.training.device import device_description
from noisyprune.training.memory import peak_memory
from noisyprune.training.run import train_on_samples

log = logging.getLogger(__name__)


def run_warmup_stage(
    *, run: Run, inputs: Files, outputs: Files, training: TrainingEntries, compute: Compute, code_hash: str
) -> None:
    """Train the warm-up model ``run.warmup`` (the warm-up entry ``training.trainer``) on every
    training sample with its noisy label (``inputs["labels"]``).

    Writes the checkpoint (``outputs["model"]``), ``outputs["dynamics"]`` (one row per sample and
    epoch: loss, correctness w.r.t. the noisy label and prediction, from the training batches),
    ``outputs["history"]`` (per epoch; its metadata carries the warm-up entry and wall time) and
    ``outputs["snapshots"]`` (every sample scored after each epoch in ``score_epochs``; may be empty).
    """
    torch_device, data, labels = open_model_job(run, inputs["labels"], training.dataset, compute)
    warmup_entry, model_entry = training.trainer, training.model
    stage_seed = warmup_seed(run.seed, run.dataset, run.noise, run.warmup)
    dynamics = DynamicsRecorder()
    score_epochs = sorted(warmup_entry.get("score_epochs") or [])
    snapshots = SnapshotScorer(score_epochs, compute.inference_batch_size)
    identity = (run.dataset, training.dataset, run.noise, run.seed, run.warmup, warmup_entry, model_entry, labels.noisy)
    resume = resume_file(outputs["model"], compute.resume_every, *identity, code_hash)
    job = training_job(training, stage_seed, compute)
    training_ids = labels.training_ids  # never the clean probe set
    result = train_on_samples(
        job, data, labels.noisy, training_ids, torch_device, callbacks=[dynamics, snapshots], resume=resume
    )
    epochs, last = len(result.history.rows), result.history.rows[-1]
    log.info(
        "warm-up %s: %d epochs in %.1f s, test accuracy %.4f", run.warmup, epochs, result.seconds, last["test_acc"]
    )
    checkpoint = {"warmup": run.warmup, "epochs": int(warmup_entry["epochs"]), "seed": stage_seed}
    save_checkpoint(result.ctx.model, model_entry, data.input_shape, data.num_classes, outputs["model"], **checkpoint)
    dynamics_metadata = {"num_classes": data.num_classes, "epochs": checkpoint["epochs"], "warmup": run.warmup}
    write_table(dynamics.columns(labels.noisy), outputs["dynamics"], DYNAMICS, metadata=dynamics_metadata)
    write_table(snapshots.columns(), outputs["snapshots"], SNAPSHOTS, metadata={"epochs": score_epochs})
    provenance = warmup_provenance(run, result, labels, warmup_entry, model_entry, stage_seed, code_hash, torch_device)
    write_table(result.history.columns(), outputs["history"], HISTORY, metadata=provenance)
    if resume is not None:
        resume.remove()


def warmup_provenance(
    run: Run, result, labels, warmup_entry, model_entry, stage_seed: int, code_hash: str, torch_device
) -> dict[str, Any]:
    """The metadata of the warm-up's ``history.parquet``: entries, seeds, size, wall time (s), peak
    memory (:mod:`noisyprune.training.memory`), last test accuracy, code hash and environment (the
    aggregation reads them)."""
    return {
        "learner": warmup_entry["learner"],
        "warmup": run.warmup,
        "warmup_entry": dict(warmup_entry),
        "model_entry": dict(model_entry),
        "seed": run.seed,
        "warmup_seed": stage_seed,
        "num_samples": len(labels.sample_id),
        "wall_seconds": result.seconds,
        **peak_memory(torch_device),
        "test_acc_last": result.history.rows[-1]["test_acc"],
        "code_hash": code_hash,
        "environment": environment(device_description(torch_device)),
    }
