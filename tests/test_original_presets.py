"""The presets set the originals' choices where noisyprune offers a switch, and their headers say
what they leave apart and which statistic to compare (issue 35)."""

import copy

import numpy as np
import pytest
from conftest import REPO, load_yaml

from noisyprune.config import validate_config

CONFIG = REPO / "config"
PAPER_PRESETS = ("cifar10n", "cifar100n", "webvision", "clothing1m", "imagenet")


def header(path):
    """The leading comment block of a YAML file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines[: next(i for i, line in enumerate(lines) if not line.startswith("#"))])


def test_ieg_preset_uses_the_originals_optimiser_meta_step_and_noise():
    preset = load_yaml(CONFIG / "presets" / "ieg.yaml")
    for name in ("ieg_cifar", "l2r_cifar"):
        entry = preset["learners"][name]
        assert entry["nesterov"] is False and entry["momentum"] == 0.9  # tf.train.MomentumOptimizer
        assert entry["drop_last"] is True  # drop_remainder=True
    assert preset["learners"]["ieg_cifar"]["meta_guess_gradient"] is True
    for name in ("sym40_probe10", "sym80_probe10"):
        noise = preset["noise"][name]
        assert (noise["convention"], noise["realisation"]) == ("any_class", "per_sample")
    asymmetric = preset["noise"]["asym40_cifar10_probe10"]
    assert (asymmetric["pairs"], asymmetric["realisation"]) == ("cifar10", "per_sample")
    assert "Statistic:" in header(CONFIG / "presets" / "ieg.yaml")


def test_rdia_ls_mnist_preset_feeds_unit_pixels_fixed_noise_and_drops_the_last_batch():
    config = load_yaml(CONFIG / "rdia_ls_mnist.yaml")
    assert config["datasets"]["mnist"]["input_scaling"] == "unit"
    noise = config["noise"]["sym80"]
    assert (noise["convention"], noise["realisation"], noise["fixed_seed"]) == ("other_class", "per_sample", 0)
    for learner in ("rdia_ls", "ce"):
        assert config["learners"][learner]["drop_last"] is True
    text = header(CONFIG / "rdia_ls_mnist.yaml")
    assert "87.85" in text and "test_acc_mean_last10" in text and "test_acc_mean_all" in text
    validated = validate_config(copy.deepcopy(config))
    assert validated["learners"]["rdia_ls"]["drop_last"] is True


@pytest.mark.parametrize("name", PAPER_PRESETS)
def test_paper_presets_round_prune4rel_inputs_and_warm_up_under_the_retrains_schedule(name):
    config = load_yaml(CONFIG / f"{name}.yaml")
    assert config["methods"]["prune4rel"]["input_precision"] == "float16"
    (warmup,) = config["warmups"].values()
    retrains = list(config["learners"].values())
    schedules = {entry.get("schedule", "cosine") for entry in retrains}
    if warmup["epochs"] == 1:
        pass  # one epoch runs at the initial rate under any schedule (stepped after the epoch)
    elif schedules == {"cosine"}:
        assert {warmup["schedule_epochs"]} == {entry["epochs"] for entry in retrains}
    else:  # the retrain's MultiStepLR: the warm-up runs the same steps (none reached in its epochs)
        assert warmup["schedule"] == "step"
        assert warmup["milestones"] == next(e["milestones"] for e in retrains)
    text = header(CONFIG / f"{name}.yaml")
    assert "Statistic:" in text and "unaugmented view" in text
    if "glister" in config["methods"]:
        assert "variant: greedy" in text and config["methods"]["glister"]["variant"] == "greedy"
    validate_config(copy.deepcopy(config))


def test_the_warmup_learning_rate_of_the_cifar10n_preset_barely_decays():
    """The original's warm-up: 10 epochs of the retrain's cosine with T_max 300."""
    import torch

    from noisyprune.training.spec import TrainingSpec

    entry = validate_config(load_yaml(CONFIG / "cifar10n.yaml"))["warmups"]["sop_plus"]
    spec = TrainingSpec.from_entry(entry)
    optimizer = spec.build_optimizer([torch.nn.Parameter(torch.zeros(1))])
    scheduler = spec.build_scheduler(optimizer)
    for _ in range(spec.epochs - 1):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-4 + (0.02 - 1e-4) * (1 + np.cos(np.pi * 9 / 300)) / 2)


def _rdia_ls_benchmark():
    """The benchmark script as a module, its sibling imports resolved as when it runs (its folder
    first on ``sys.path``)."""
    import importlib.util
    import sys

    benchmarks = str(REPO / "benchmarks")
    spec = importlib.util.spec_from_file_location("rdia_ls_mnist_benchmark", REPO / "benchmarks" / "rdia_ls_mnist.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, benchmarks)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(benchmarks)
    return module


def test_the_rdia_ls_reproduction_stops_before_running_without_the_mnist_files(tmp_path, monkeypatch):
    benchmark = _rdia_ls_benchmark()
    monkeypatch.setattr(benchmark, "run_workflow", lambda *args: pytest.fail("ran without data"))
    with pytest.raises(SystemExit) as stop:
        benchmark.main(["--mnist", str(tmp_path)])
    message = str(stop.value)
    assert "mnist IDX files missing under" in message and "MNIST/raw/t10k-labels-idx1-ubyte" in message
    assert "Nothing was run" in message


def test_the_rdia_ls_reproduction_runs_the_preset_as_shipped_on_the_given_files(tmp_path):
    benchmark = _rdia_ls_benchmark()
    args = argparse_namespace(mnist=tmp_path, loader="mnist", seeds=[0, 1, 2], learners=["rdia_ls", "ce"], threads=1)
    config = benchmark.benchmark_config(args)
    shipped = load_yaml(CONFIG / "rdia_ls_mnist.yaml")
    assert config["datasets"]["mnist"] == {**shipped["datasets"]["mnist"], "root": str(tmp_path.resolve())}
    assert config["learners"] == shipped["learners"] and config["noise"] == shipped["noise"]
    assert config["sweep"]["seeds"] == [0, 1, 2]


def argparse_namespace(**values):
    import argparse

    return argparse.Namespace(epochs=None, max_train=None, max_test=None, **values)
