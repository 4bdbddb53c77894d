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
from noisyprune.training.job import TrainingJob
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
        TrainingJob(SPEC, MLP, seed=seed, inference_batch_size=128),
        data,
        data.train_y,
        ids,
        torch.device("cpu"),
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


def test_drop_last_leaves_out_the_last_partial_batch_as_pytorchs_loader():
    """RDIA-LS's loaders (drop_last=True): 60,000 / 128 gives 468 full batches, 96 samples unseen;
    a count that divides evenly keeps every batch; the default keeps the partial one."""
    from noisyprune.training.inputs import batch_rows

    generator = torch.Generator().manual_seed(0)
    dropped = batch_rows(60000, 128, generator, drop_last=True)
    assert len(dropped) == 468 and {len(rows) for rows in dropped} == {128}
    assert len(torch.cat(dropped).unique()) == 468 * 128
    kept = batch_rows(60000, 128, torch.Generator().manual_seed(0))
    assert len(kept) == 469 and len(kept[-1]) == 96
    assert all(torch.equal(a, b) for a, b in zip(dropped, kept))  # the same shuffle, one batch fewer
    assert len(batch_rows(256, 128, None, drop_last=True)) == 2
    loader = torch.utils.data.DataLoader(range(1000), batch_size=128, drop_last=True)
    assert len(batch_rows(1000, 128, None, drop_last=True)) == len(loader) == 7


def test_a_training_job_reads_its_entries_once_and_names_its_config_key_in_messages():
    from noisyprune.errors import ConfigError
    from noisyprune.stages.interface import Compute, TrainingEntries
    from noisyprune.stages.model_job import training_job

    entry = {**SPEC, "learner": "elr", "beta": 0.7, "lam": 3.0, "init": "warmup", "batch_size": 400}
    dataset_entry = {"loader": "digits", "augment": {"shift": 2}}
    training = TrainingEntries("learners.elr", entry, MLP, dataset_entry)
    job = training_job(training, seed=3, compute=Compute(device="cpu", threads=1, inference_batch_size=64))
    assert (job.learner, job.seed, job.augment_entry) == ("elr", 3, {"shift": 2})
    assert job.learner_params == {"beta": 0.7, "lam": 3.0}  # neither optimisation settings nor entry keys
    assert (job.spec.batch_size, job.spec.epochs, job.spec.lr) == (400, SPEC["epochs"], SPEC["lr"])
    message = r"config key 'learners.elr.batch_size': 400 is larger than the whole training set \(300 samples\)"
    with pytest.raises(ConfigError, match=message):
        train_on_samples(job, blob_dataset(), blob_dataset().train_y, np.arange(300), torch.device("cpu"))
    with pytest.raises(ValueError, match="schedule_epochs is the cosine schedule's length"):
        TrainingJob({**SPEC, "schedule": "step", "schedule_epochs": 9}, MLP, seed=0, inference_batch_size=8)


def test_drop_last_in_a_training_entry_shortens_each_epoch():
    data = blob_dataset()  # 300 samples
    steps = {}
    for drop_last in (False, True):
        recorder = DynamicsRecorder()
        train_on_samples(
            TrainingJob(
                {**SPEC, "epochs": 2, "batch_size": 128, "drop_last": drop_last}, MLP, seed=0, inference_batch_size=128
            ),
            data,
            data.train_y,
            np.arange(300),
            torch.device("cpu"),
            callbacks=[recorder],
        )
        steps[drop_last] = len(recorder._tensors)
        seen = recorder.columns(data.train_y)
        per_epoch = np.bincount(seen["epoch"])[1:]
        assert per_epoch.tolist() == ([256, 256] if drop_last else [300, 300])
    assert steps == {False: 6, True: 4}
    from noisyprune.errors import ConfigError

    with pytest.raises(ConfigError, match=r"drop_last': batch_size 128 is larger than the 100 samples trained on"):
        train_on_samples(
            TrainingJob({**SPEC, "batch_size": 128, "drop_last": True}, MLP, seed=0, inference_batch_size=128),
            data,
            data.train_y,
            np.arange(100),
            torch.device("cpu"),
        )


def test_schedule_epochs_runs_the_cosine_of_a_longer_training():
    """Prune4ReL's warm-up: 10 epochs under the retrain's CosineAnnealingLR(T_max=300), i.e. the
    first 10 learning rates of a 300-epoch cosine; by default the cosine spans the entry's epochs."""

    def rates(spec):
        optimizer = spec.build_optimizer([torch.nn.Parameter(torch.zeros(1))])
        scheduler = spec.build_scheduler(optimizer)
        values = []
        for _ in range(spec.epochs):
            values.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        return values

    warmup = rates(TrainingSpec(epochs=10, lr=0.02, min_lr=1e-4, schedule_epochs=300))
    retrain = rates(TrainingSpec(epochs=300, lr=0.02, min_lr=1e-4))
    assert warmup == pytest.approx(retrain[:10], rel=1e-12)
    assert warmup[-1] == pytest.approx(1e-4 + (0.02 - 1e-4) * (1 + np.cos(np.pi * 9 / 300)) / 2, rel=1e-9)
    assert warmup[-1] > 0.0199  # barely decayed
    own = rates(TrainingSpec(epochs=10, lr=0.02, min_lr=1e-4))
    assert own[-1] < 0.001
    with pytest.raises(ValueError, match="below epochs"):
        TrainingSpec(epochs=10, schedule_epochs=5)
    with pytest.raises(ValueError, match="cosine schedule's length"):
        TrainingSpec(epochs=10, schedule="step", schedule_epochs=20)
