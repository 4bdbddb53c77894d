"""L2R: example weights from one look-ahead step on the clean probe set, and the probe-set plumbing."""

import numpy as np
import pytest
import torch
from torch import nn

from noisyprune.errors import TrainingError
from noisyprune.training.context import LabelsToCorrect
from noisyprune.training.learners.l2r import l2r_weights


def _toy(seed=0, n=64, flip_every=4):
    """Two Gaussian blobs in 2-d; every ``flip_every``-th training label flipped; a clean probe."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 2, generator=g) + (2.0 * y[:, None] - 1.0) * 2.0
    flipped = torch.arange(n) % flip_every == 0
    noisy = torch.where(flipped, 1 - y, y)
    probe_y = torch.arange(20) % 2
    probe_x = torch.randn(20, 2, generator=g) + (2.0 * probe_y[:, None] - 1.0) * 2.0
    return x, noisy, flipped, probe_x, probe_y


def _trained_model(x, y):
    """A small network fitted on the clean labels for a few steps: its gradients are informative."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(20):
        optimiser.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimiser.step()
    return model


def test_weights_are_non_negative_sum_to_one_and_skip_flipped_samples():
    x, noisy, flipped, probe_x, probe_y = _toy()
    clean = torch.where(flipped, 1 - noisy, noisy)
    model = _trained_model(x, clean)
    running = model[1].running_mean.clone()
    weights, losses = l2r_weights(model, x, noisy, probe_x, probe_y, meta_lr=0.1)
    assert weights.shape == (64,) and (weights >= 0).all()
    assert float(weights.sum()) == pytest.approx(1.0, abs=1e-5)
    assert losses.shape == (64,)
    # planted flipped samples get (near) zero weight; clean ones carry almost all of it
    assert float(weights[flipped].sum()) < 0.02
    assert float(weights[flipped].max()) < 1e-3 < float(weights[~flipped].mean())
    assert torch.equal(model[1].running_mean, running)  # the look-ahead left BatchNorm alone


def test_all_harmful_batch_gets_zero_weights_not_nan():
    x, noisy, _flipped, probe_x, probe_y = _toy(flip_every=1)  # every label wrong
    model = _trained_model(x, 1 - noisy)
    weights, _ = l2r_weights(model, x, noisy, probe_x, probe_y, meta_lr=0.1)
    assert torch.isfinite(weights).all() and float(weights.sum()) in (0.0, pytest.approx(1.0))


def test_l2r_without_a_probe_set_is_refused_with_the_key_to_set():
    from noisyprune.data.base import ArrayDataset
    from noisyprune.training.job import TrainingJob
    from noisyprune.training.run import train_on_samples

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 1, 2, 2)).astype(np.float32)
    y = np.arange(40) % 2
    data = ArrayDataset("d", x, y, x[:10], y[:10], ("a", "b"))
    with pytest.raises(TrainingError, match="needs a clean probe set: set probe_per_class"):
        train_on_samples(
            TrainingJob(
                {"learner": "l2r", "epochs": 1, "batch_size": 8, "lr": 0.1},
                {"arch": "mlp", "hidden": [4]},
                seed=0,
                inference_batch_size=16,
            ),
            data,
            y,
            np.arange(40),
            torch.device("cpu"),
        )


def test_noise_stage_holds_out_a_clean_class_balanced_probe_set(tmp_path):
    from noisyprune.stages.common import load_labels
    from noisyprune.stages.interface import Run
    from noisyprune.stages.noise import run_noise_stage

    output = tmp_path / "labels.parquet"
    entry = {"kind": "symmetric", "rate": 0.4, "probe_per_class": 5}
    run_noise_stage(
        run=Run("digits", "sym40", 0),
        outputs={"labels": str(output)},
        dataset_entry={"loader": "digits", "model": "mlp"},
        noise_entry=entry,
    )
    labels = load_labels(str(output))
    assert len(labels.probe_ids) == 50
    assert np.bincount(labels.clean[labels.is_probe], minlength=10).tolist() == [5] * 10
    assert np.array_equal(labels.noisy[labels.is_probe], labels.clean[labels.is_probe])  # clean
    assert not labels.is_noisy[labels.is_probe].any()
    # the recorded rate is that of the training samples proper
    assert labels.metadata["noise_rate"] == pytest.approx(labels.is_noisy[~labels.is_probe].mean())
    assert labels.metadata["num_probe"] == 50
    again = tmp_path / "again.parquet"
    run_noise_stage(
        run=Run("digits", "sym40", 0),
        outputs={"labels": str(again)},
        dataset_entry={"loader": "digits", "model": "mlp"},
        noise_entry=entry,
    )
    assert again.read_bytes() == output.read_bytes()


@pytest.mark.workflow
def test_probe_set_is_held_out_of_warmup_selection_and_budgets_and_feeds_l2r_and_rdia(tiny_config, tmp_path):
    import pandas as pd
    from conftest import run_snakemake

    from noisyprune.artifacts import DYNAMICS, SUBSET, read_table
    from noisyprune.stages.common import load_labels

    config = tiny_config
    config["noise"]["sym40"]["probe_per_class"] = 3
    config["sweep"].update(methods=["uniform", "small_loss"], learners=["ce", "l2r", "rdia"])
    config["learners"]["l2r"] = {"learner": "l2r", "epochs": 2, "batch_size": 64, "lr": 0.05, "probe_batch_size": 30}
    config["learners"]["rdia"] = {"learner": "rdia", "epochs": 2, "batch_size": 64, "lr": 0.05, "alpha": 0.1}
    run_snakemake(tmp_path, config, "--cores", "2")
    run = tmp_path / "results/digits/sym40/seed0"
    labels = load_labels(str(run / "labels.parquet"))
    probe = labels.probe_ids
    assert len(probe) == 30
    dynamics = read_table(run / "warmup/ce/dynamics.parquet", DYNAMICS)
    assert not np.isin(dynamics.numpy("sample_id"), probe).any()  # the warm-up never trained on them
    for method in ("uniform", "small_loss"):
        subset = read_table(run / f"select/ce/{method}/f0.5/subset.parquet", SUBSET)
        assert not np.isin(subset.numpy("sample_id"), probe).any()
        assert subset.metadata["budget"] == round(0.5 * (1257 - 30)) and subset.metadata["num_candidates"] == 1227
    runs = pd.read_parquet(tmp_path / "results/tables/runs.parquet")
    assert set(runs["learner"]) == {"ce", "l2r", "rdia"}
    assert (runs.loc[runs["learner"] == "rdia", "rdia_relabelled"] >= 0).all()  # RDIA reported its relabels
    assert (runs.loc[runs["method"] == "full", "subset_size"] == 1227).all()
    assert runs["test_acc_last"].between(0, 1).all()


def test_only_rdia_makes_its_retrain_jobs_read_the_warmup_features():
    from noisyprune.training.learners.registry import LEARNERS, reads_warmup_features

    assert {name for name in LEARNERS.names() if reads_warmup_features(name)} == {"rdia"}


def test_rdia_relabels_planted_flips_from_embeddings_and_reads_them_out():
    from noisyprune.training.learners.rdia import RDIA

    rng = np.random.default_rng(0)
    n = 300
    clean = np.arange(n) % 3
    embeddings = rng.normal(scale=0.6, size=(n, 4)) + np.eye(3, 4)[clean] * 3.0
    noisy = clean.copy()
    flipped = np.arange(n) % 5 == 0
    flipped[:30] = False  # the probe (ids 0..29) stays clean
    noisy[flipped] = (clean[flipped] + 1) % 3
    learner = RDIA(alpha=0.1)
    corrected = learner.prepare_labels(LabelsToCorrect(noisy, np.arange(30, n), np.arange(30), embeddings, 3))
    changed = corrected != noisy
    assert changed.sum() > 0.5 * flipped.sum()
    assert (corrected[changed] == clean[changed]).mean() > 0.9  # relabelled to the true class
    assert learner.report["rdia_relabelled"] == int(changed.sum())
    with pytest.raises(ValueError, match="probe_per_class"):
        RDIA().prepare_labels(LabelsToCorrect(noisy, np.arange(n), np.array([], dtype=np.int64), embeddings, 3))


def _finite_difference_meta_gradient(model, x, y, probe_x, probe_y, meta_lr, weight_decay, h=1e-5):
    """∂/∂ε_i [CE_probe(θ'(ε)) + λ/2 ‖θ'(ε)‖²] at ε = 0 with θ'(ε) = θ − meta_lr (∇Σ ε ℓ + λθ),
    by central differences in float64 (IEG's l2rmodel.py: lookahead_loss and meta_loss both carry
    the regularisation loss)."""
    from torch.func import functional_call

    params = {name: p.detach().double() for name, p in model.named_parameters()}
    model = model.double().eval()  # eval: BatchNorm uses fixed statistics, as a pure function of θ

    def objective(eps):
        live = {name: p.clone().requires_grad_(True) for name, p in params.items()}
        losses = nn.functional.cross_entropy(functional_call(model, live, (x.double(),)), y, reduction="none")
        grads = torch.autograd.grad((eps * losses).sum(), list(live.values()))
        stepped = {n: p - meta_lr * (g + weight_decay * p) for (n, p), g in zip(params.items(), grads, strict=True)}
        probe = nn.functional.cross_entropy(functional_call(model, stepped, (probe_x.double(),)), probe_y)
        return float(probe + weight_decay / 2 * sum(p.pow(2).sum() for p in stepped.values()))

    gradient = torch.zeros(len(y), dtype=torch.float64)
    for i in range(len(y)):
        step = torch.zeros(len(y), dtype=torch.float64)
        step[i] = h
        gradient[i] = (objective(step) - objective(-step)) / (2 * h)
    return gradient


def test_weights_carry_the_weight_decay_in_the_look_ahead_and_the_probe_loss():
    x, noisy, _, probe_x, probe_y = _toy(n=16)
    model = _trained_model(x, noisy).double().eval()
    for weight_decay in (0.0, 0.05):
        gradient = _finite_difference_meta_gradient(model, x, noisy, probe_x, probe_y, 0.5, weight_decay)
        expected = gradient.neg().clamp(min=0)
        expected = expected / expected.sum()
        weights, _ = l2r_weights(model, x.double(), noisy, probe_x.double(), probe_y, 0.5, weight_decay)
        assert torch.allclose(weights.double(), expected, atol=1e-6), weight_decay
    without, _ = l2r_weights(model, x.double(), noisy, probe_x.double(), probe_y, 0.5, 0.0)
    assert not torch.allclose(weights, without, atol=1e-4)  # the decay matters at this size
