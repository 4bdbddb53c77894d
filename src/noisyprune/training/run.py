"""Train a freshly initialised model on chosen samples of a dataset: the step warm-up and retrain share."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from noisyprune.data.base import ArrayDataset
from noisyprune.models import build_model
from noisyprune.training.augment import AugmentationSpec, Augmenter
from noisyprune.training.callbacks import EpochHistory
from noisyprune.training.context import Callback, LabelsToCorrect, TrainContext
from noisyprune.training.data import TensorData, device_data
from noisyprune.training.inputs import TrainingInputs
from noisyprune.training.job import TrainingJob
from noisyprune.training.learners import build_learner
from noisyprune.training.loop import fit
from noisyprune.training.resume import ResumeFile


@dataclass
class TrainingResult:
    """A finished training: the loop's context (model inside), the learner, the per-epoch history
    and the wall time of the whole training in seconds."""

    ctx: TrainContext
    learner: Any
    history: EpochHistory
    seconds: float


def train_on_samples(
    job: TrainingJob,
    data: ArrayDataset,
    noisy_label: np.ndarray,
    sample_ids: np.ndarray,
    device: torch.device,
    *,
    callbacks: Sequence[Callback] = (),
    init_state: Mapping[str, torch.Tensor] | None = None,
    resume: ResumeFile | None = None,
    probe_ids: np.ndarray | None = None,
    warmup_embeddings: np.ndarray | None = None,
) -> TrainingResult:
    """Train a new model from ``job``'s model entry with its learner and schedule on the samples
    ``sample_ids`` (global ids, ``(m,)``) of ``data`` labelled by ``noisy_label`` (``(n,)``, indexed
    by sample id) on ``device``; evaluate on the clean test split after every epoch.

    ``callbacks`` run after each step and epoch besides the history's. ``init_state`` (a state dict
    of the same architecture) initialises every network instead of the random initialisation.
    ``resume`` makes the run resumable (see :mod:`noisyprune.training.resume`). ``probe_ids``: the
    clean probe set (global ids, labelled by ``noisy_label``, which is clean there), handed to
    learners that ask for one (``needs_probe``) as ``ctx.probe``. ``warmup_embeddings`` ``(n, d)``:
    the warm-up model's embedding of every sample, for learners that correct labels before training
    (``prepare_labels``, e.g. RDIA).

    A ``batch_size`` above the whole training set is refused (a typo, not a choice); above the
    trained subset only, each epoch is one full batch, which the log says
    (:meth:`TrainingJob.check_batch_size`).
    """
    sample_ids = np.sort(np.asarray(sample_ids, dtype=np.int64))
    spec, seed = job.spec, job.seed
    job.check_batch_size(len(sample_ids), data.num_train)
    learner = build_learner(job.learner, job.learner_params)
    if learner.needs_warmup_features:
        if warmup_embeddings is None:
            raise ValueError(f"learner {job.learner!r} needs the warm-up embeddings")
        noisy_label = learner.prepare_labels(
            LabelsToCorrect(
                noisy_label=np.asarray(noisy_label),
                sample_ids=sample_ids,
                probe_ids=np.asarray(probe_ids if probe_ids is not None else [], dtype=np.int64),
                embeddings=warmup_embeddings,
                num_classes=data.num_classes,
            )
        )
    torch.manual_seed(seed)

    def make_network():
        network = build_model(job.model_entry, data.input_shape, data.num_classes)
        if init_state is not None:
            network.load_state_dict(init_state)
        return network

    model = make_network()
    augment_spec = AugmentationSpec.from_entry(job.augment_entry, data.input_shape)
    if not spec.augment:
        augment_spec = AugmentationSpec()
    # Seeded apart from the batch order so that turning augmentation on or off keeps the order.
    augmenter = Augmenter(augment_spec, data.pixel_mean, data.pixel_std, torch.Generator().manual_seed(seed + 1))
    train = device_data(data.train_x, noisy_label[sample_ids], sample_ids, device)
    test = device_data(data.test_x, data.test_y, np.arange(len(data.test_y)), device)
    probe: TrainingInputs | None = None
    if probe_ids is not None and len(probe_ids):
        # a few samples per class: held on the device even when the training set is streamed
        probe = TensorData.from_numpy(data.train_x[probe_ids], noisy_label[probe_ids], probe_ids, device)
    history = EpochHistory(learner, test, job.inference_batch_size)
    start = time.perf_counter()
    ctx = fit(
        model,
        learner,
        train,
        spec,
        num_samples=data.num_train,
        num_classes=data.num_classes,
        learner_name=job.learner,
        seed=seed,
        callbacks=[*callbacks, history],
        make_network=make_network,
        augment=augmenter,
        resume=resume,
        probe=probe,
    )
    return TrainingResult(ctx=ctx, learner=learner, history=history, seconds=time.perf_counter() - start)
