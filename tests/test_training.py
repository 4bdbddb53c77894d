"""The training loop, the CE learner and the recording callbacks on tiny synthetic data."""

import itertools

import numpy as np
import pytest
import torch

from noisyprune.data.base import ArrayDataset
from noisyprune.errors import TrainingError
from noisyprune.models import build_model
from noisyprune.training.callbacks import DynamicsRecorder
from noisyprune.training.data import TensorData
from noisyprune.training.learners import build_learner
from noisyprune.training.loop import fit
from noisyprune.training.run import train_on_samples
from noisyprune.training.spec import TrainingSpec


def blobs(n=300, classes=3, seed=0):
    """Well separated Gaussian blobs in 2-D (as 1×1×2 "images")."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    centres = np.array([[4.0 * np.cos(a), 4.0 * np.sin(a)] for a in 2 * np.pi * np.arange(classes) / classes])
    x = centres[labels] + rng.normal(scale=0.5, size=(n, 2))
    return x.astype(np.float32).reshape(n, 1, 1, 2), labels


def blob_dataset():
    x, y = blobs()
    test_x, test_y = blobs(seed=1)
    return ArrayDataset("blobs", x, y, test_x, test_y, ("a", "b", "c"))


SPEC = {"learner": "ce", "epochs": 5, "batch_size": 32, "lr": 0.1}
MLP = {"arch": "mlp", "hidden": [16]}


def train(seed=0, sample_ids=None, callbacks=()):
    data = blob_dataset()
    ids = np.arange(data.num_train) if sample_ids is None else sample_ids
    return train_on_samples(
        data=data,
        noisy_label=data.train_y,
        sample_ids=ids,
        model_entry=MLP,
        training_entry=SPEC,
        seed=seed,
        device=torch.device("cpu"),
        inference_batch_size=128,
        callbacks=callbacks,
    )


def test_cross_entropy_learns_separable_data():
    result = train()
    assert result.history.rows[-1]["test_acc"] > 0.95
    assert len(result.history.rows) == SPEC["epochs"]


def test_training_is_bit_identical_for_the_same_seed_and_differs_otherwise():
    first, again, other = train(seed=4), train(seed=4), train(seed=5)
    for a, b in zip(first.ctx.model.parameters(), again.ctx.model.parameters()):
        assert torch.equal(a, b)
    assert not all(torch.equal(a, b) for a, b in zip(first.ctx.model.parameters(), other.ctx.model.parameters()))


def test_dynamics_cover_every_trained_sample_each_epoch_with_global_ids():
    recorder = DynamicsRecorder()
    subset = np.arange(1, 300, 2)  # odd sample ids only: a pruned set
    train(sample_ids=subset, callbacks=[recorder])
    noisy = blob_dataset().train_y
    columns = recorder.columns(noisy)
    assert len(columns["sample_id"]) == len(subset) * SPEC["epochs"]
    for epoch in range(1, SPEC["epochs"] + 1):
        assert np.array_equal(columns["sample_id"][columns["epoch"] == epoch], subset)
    assert np.array_equal(columns["correct"], columns["prediction"] == noisy[columns["sample_id"]])
    assert (columns["loss"] >= 0).all()
    # a separable problem is learnt: the last epoch is mostly correct
    assert columns["correct"][columns["epoch"] == SPEC["epochs"]].mean() > 0.9


def test_history_records_lr_schedule_and_test_accuracy():
    result = train()
    lrs = [row["lr"] for row in result.history.rows]
    assert lrs[0] == pytest.approx(0.1) and all(a > b for a, b in itertools.pairwise(lrs))  # cosine decay
    columns = result.history.columns()
    assert columns["epoch"].tolist() == [1, 2, 3, 4, 5]
    assert np.all((columns["test_acc"] >= 0) & (columns["test_acc"] <= 1))


def test_non_finite_loss_stops_with_epoch_and_learner_named():
    x, y = blobs()
    x[5] = np.nan
    torch.manual_seed(0)
    model = build_model(MLP, (1, 1, 2), 3)
    data = TensorData.from_numpy(x, y, np.arange(len(y)), torch.device("cpu"))
    with pytest.raises(TrainingError, match=r"learner 'ce': non-finite training loss in epoch 1"):
        fit(
            model,
            build_learner("ce", {}),
            data,
            TrainingSpec(epochs=2, batch_size=32),
            num_samples=len(y),
            num_classes=3,
            learner_name="ce",
            seed=0,
        )


def test_spec_separates_optimisation_settings_from_learner_parameters():
    entry = {"learner": "ce", "model": None, "epochs": 3, "lr": 0.5, "beta": 0.7}
    assert TrainingSpec.from_entry(entry).lr == 0.5
    assert TrainingSpec.learner_params(entry) == {"beta": 0.7}


def test_batches_carry_matching_labels_and_ids():
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    data = TensorData.from_numpy(x, np.arange(10) % 2, np.arange(100, 110), torch.device("cpu"))
    seen = []
    for batch in data.batches(4, generator=torch.Generator().manual_seed(0)):
        assert torch.equal(batch.sample_id - 100, batch.x[:, 0].long())
        assert torch.equal(batch.y, batch.x[:, 0].long() % 2)
        seen.extend(batch.sample_id.tolist())
    assert sorted(seen) == list(range(100, 110))
