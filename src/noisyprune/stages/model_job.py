"""What the stages that run a model share (warm-up, extraction, retrain, active-learning round):
opening the job's device, dataset and labels, and building a training's
:class:`~noisyprune.training.job.TrainingJob`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from noisyprune.data import load_dataset
from noisyprune.data.base import ArrayDataset
from noisyprune.stages.common import NoisyLabels, load_labels
from noisyprune.stages.interface import Compute, Run, TrainingEntries
from noisyprune.training.device import configure_torch
from noisyprune.training.job import TrainingJob


def open_model_job(
    run: Run, labels_path: str, dataset_entry: Mapping[str, Any], compute: Compute
) -> tuple[torch.device, ArrayDataset, NoisyLabels]:
    """The device the job runs on (torch configured by ``compute``: threads, execution settings),
    the run's dataset loaded by ``dataset_entry`` and the noisy labels of ``labels_path`` aligned
    to it."""
    torch_device = configure_torch(compute.device, compute.threads, compute.execution)
    data = load_dataset(run.dataset, dataset_entry)
    return torch_device, data, load_labels(labels_path, data)


def training_job(training: TrainingEntries, seed: int, compute: Compute) -> TrainingJob:
    """The training of ``training``'s entries with the stage's derived ``seed`` (weights, batch
    order, augmentation draws), evaluating in batches of ``compute.inference_batch_size`` samples."""
    return TrainingJob(
        training_entry=training.trainer,
        model_entry=training.model,
        seed=seed,
        inference_batch_size=compute.inference_batch_size,
        augment_entry=training.dataset.get("augment"),
        entry_key=training.key,
    )
