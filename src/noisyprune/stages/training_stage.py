"""What the stages that train (warm-up, retrain, active-learning round) share: opening the job's
device, dataset and labels, and building its :class:`~noisyprune.training.job.TrainingJob`."""

from __future__ import annotations

import torch

from noisyprune.data import load_dataset
from noisyprune.data.base import ArrayDataset
from noisyprune.stages.common import NoisyLabels, load_labels
from noisyprune.stages.interface import Compute, Run, TrainingEntries
from noisyprune.training.device import configure_torch
from noisyprune.training.job import TrainingJob


def open_training_stage(
    run: Run, labels_path: str, training: TrainingEntries, compute: Compute
) -> tuple[torch.device, ArrayDataset, NoisyLabels]:
    """The device the job trains on (torch configured by ``compute``: threads, execution settings),
    the run's dataset loaded by ``training.dataset`` and the noisy labels of ``labels_path``
    aligned to it."""
    torch_device = configure_torch(compute.device, compute.threads, compute.execution)
    data = load_dataset(run.dataset, training.dataset)
    return torch_device, data, load_labels(labels_path, data)


def training_job(training: TrainingEntries, seed: int, compute: Compute) -> TrainingJob:
    """The training of ``training``'s entries with the stage's derived ``seed``, evaluating in
    batches of ``compute.inference_batch_size`` samples."""
    return TrainingJob.from_config(
        training.trainer,
        training.model,
        training.dataset,
        seed=seed,
        inference_batch_size=compute.inference_batch_size,
        entry_key=training.key,
    )
