"""Stage functions without Snakemake: noise, extract scores, select, metrics and aggregation."""

import logging

import numpy as np
import pandas as pd
import pytest
import torch

from noisyprune.artifacts import FEATURES, LABELS, SUBSET, read_json, read_table, write_table
from noisyprune.data import load_dataset
from noisyprune.derived_scores import confidence_scores
from noisyprune.errors import ArtifactError
from noisyprune.metrics import relabeling_metrics
from noisyprune.reporting.render import pivot_csv_frame
from noisyprune.reporting.tables import setting_blocks
from noisyprune.stages.common import load_labels
from noisyprune.stages.interface import Run
from noisyprune.stages.noise import run_noise_stage
from noisyprune.stages.select import noisier_warning, run_select_stage

DIGITS = {"loader": "digits", "model": "mlp", "test_fraction": 0.3, "split_seed": 0}
SYM40 = {"kind": "symmetric", "rate": 0.4, "convention": "other_class"}


def write_labels(path, seed=0):
    run_noise_stage(
        run=Run("digits", "sym40", seed), outputs={"labels": str(path)}, dataset_entry=DIGITS, noise_entry=SYM40
    )


def test_digits_split_is_stratified_and_fixed():
    data = load_dataset("digits", DIGITS)
    assert data.input_shape == (1, 8, 8) and data.num_classes == 10
    assert data.num_train + len(data.test_y) == 1797
    assert np.array_equal(data.train_y, load_dataset("digits", DIGITS).train_y)
    assert abs(float(data.train_x.mean())) < 1e-5  # standardised


def test_noise_stage_writes_labels_with_realised_rate_and_identical_bytes(tmp_path):
    write_labels(tmp_path / "a.parquet")
    write_labels(tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    labels = read_table(tmp_path / "a.parquet", LABELS)
    meta = labels.metadata
    assert meta["noise_rate"] == pytest.approx(0.4, abs=1e-3)
    assert np.asarray(meta["transition_matrix"]).shape == (10, 10)
    assert np.allclose(np.diag(meta["transition_matrix"]).mean(), 0.6, atol=0.03)
    assert meta["noise_entry"] == SYM40
    write_labels(tmp_path / "c.parquet", seed=1)
    assert not np.array_equal(
        read_table(tmp_path / "c.parquet", LABELS).numpy("noisy_label"), labels.numpy("noisy_label")
    )


def test_labels_of_another_dataset_are_refused(tmp_path):
    write_labels(tmp_path / "labels.parquet")
    other = load_dataset("digits", {**DIGITS, "split_seed": 1})
    with pytest.raises(ArtifactError, match="does not match dataset 'digits'"):
        load_labels(str(tmp_path / "labels.parquet"), other)


def test_confidence_scores_on_known_logits():
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]]))
    scores = confidence_scores(logits, torch.tensor([0, 0]))
    assert torch.allclose(scores["probs"], torch.tensor([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]]))
    assert torch.allclose(scores["confidence"], torch.tensor([0.7, 0.5]))
    assert torch.allclose(scores["margin"], torch.tensor([0.5, 0.25]))
    assert torch.allclose(scores["loss"], -torch.log(torch.tensor([0.7, 0.25])))
    entropy = -(0.7 * np.log(0.7) + 0.2 * np.log(0.2) + 0.1 * np.log(0.1))
    assert scores["entropy"][0].item() == pytest.approx(entropy, rel=1e-5)
    assert scores["prediction"].tolist() == [0, 2]


def write_features(path, labels_path, sample_ids=None, knows_clean_classes=False):
    """Random probabilities, or with ``knows_clean_classes`` 0.9 on each sample's clean class (the
    labels the model disagrees with are then exactly the flipped ones)."""
    labels = read_table(labels_path, LABELS)
    ids = labels.numpy("sample_id") if sample_ids is None else sample_ids
    noisy = labels.numpy("noisy_label")[ids]
    is_noisy = labels.numpy("is_noisy")[ids]
    n, rng = len(ids), np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(10), size=n)
    if knows_clean_classes:
        probs = np.full((n, 10), 0.1 / 9)
        probs[np.arange(n), labels.numpy("clean_label")[ids]] = 0.9
    write_table(
        {
            "sample_id": ids,
            "noisy_label": noisy,
            "probs": probs,
            "embedding": rng.normal(size=(n, 3)),
            # planted: the warm-up model fits clean samples better
            "loss": np.where(is_noisy, 2.0, 0.1) + rng.random(n) * 0.01,
            "confidence": probs.max(1),
            "margin": rng.random(n),
            "max_logit": rng.random(n),
            "entropy": rng.random(n),
            "prediction": probs.argmax(1),
        },
        path,
        FEATURES,
        {"num_classes": 10, "embedding_dim": 3, "model": {}},
    )


def select(tmp_path, method, entry, name, features=None, fraction="0.5"):
    inputs = {"labels": str(tmp_path / "labels.parquet")} | ({"features": str(features)} if features else {})
    run_select_stage(
        run=Run("digits", "sym40", 0, warmup="ce", method=method, fraction=fraction),
        inputs=inputs,
        outputs={"subset": str(tmp_path / f"{name}.parquet"), "timing": str(tmp_path / f"{name}.json")},
        method_entry=entry,
        code_hash="test",
    )
    return read_table(tmp_path / f"{name}.parquet", SUBSET)


def test_select_stage_records_budget_noise_rate_and_class_counts(tmp_path):
    write_labels(tmp_path / "labels.parquet")
    write_features(tmp_path / "features.parquet", tmp_path / "labels.parquet")
    labels = load_labels(str(tmp_path / "labels.parquet"))
    subset = select(
        tmp_path, "small_loss", {"pruner": "small_loss", "balance": "none"}, "s", features=tmp_path / "features.parquet"
    )
    kept = subset.numpy("sample_id")
    meta = subset.metadata
    assert meta["budget"] == len(kept) == 629  # round-half-up of 0.5 × 1257
    assert meta["noise_rate"] == pytest.approx(labels.is_noisy[kept].mean())
    assert meta["noise_rate"] < 0.05  # the planted losses make small-loss keep clean samples
    assert meta["class_counts"] == np.bincount(labels.noisy[kept], minlength=10).tolist()
    assert subset.numpy("rank").tolist() == list(range(len(kept)))
    assert read_json(tmp_path / "s.json")["select_seconds"] >= 0


def test_select_stage_records_true_and_estimated_noise_rates_and_warns_of_a_noisier_subset(
    tmp_path, caplog, monkeypatch
):
    monkeypatch.setattr("noisyprune.stages.select.PROBS_BLOCK_ROWS", 100)  # 13 blocks, the last one partial
    write_labels(tmp_path / "labels.parquet")
    write_features(tmp_path / "features.parquet", tmp_path / "labels.parquet", knows_clean_classes=True)
    labels = load_labels(str(tmp_path / "labels.parquet"))
    features = tmp_path / "features.parquet"
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="noisyprune.stages.select"):
        noisier = select(
            tmp_path,
            "el2n",
            {"pruner": "el2n", "keep": "hard", "balance": "proportional"},
            "e",
            features=features,
            fraction="0.2",
        )
    meta = noisier.metadata  # the largest errors on the given label: the flipped samples only
    assert meta["noise_rate"] == meta["estimated_noise_rate"] == 1.0
    assert meta["noise_rate_all"] == meta["estimated_noise_rate_all"] == pytest.approx(labels.noise_rate())
    assert [(r.name, r.levelname) for r in caplog.records if r.levelno >= logging.WARNING] == [
        ("noisyprune.stages.select", "WARNING")
    ]
    assert "el2n kept a subset with more wrong labels than its input: 100.0% of the 251 kept" in caplog.text
    assert "(true shares; tolerance" in caplog.text and "use confident_learning or small_loss" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="noisyprune.stages.select"):
        cleaner = select(tmp_path, "small_loss", {"pruner": "small_loss"}, "s", features=features, fraction="0.2")
        uniform = select(tmp_path, "uniform", {"pruner": "uniform"}, "u", fraction="0.2")
    assert cleaner.metadata["noise_rate"] == cleaner.metadata["estimated_noise_rate"] == 0.0
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    # uniform reads no warm-up file: nothing to estimate from, the true rates as always
    assert uniform.metadata["estimated_noise_rate"] is None and uniform.metadata["estimated_noise_rate_all"] is None
    assert uniform.metadata["noise_rate_all"] == pytest.approx(labels.noise_rate())


def test_without_clean_labels_the_warning_judges_by_the_estimated_shares():
    from noisyprune.pruners.registry import PRUNERS

    shares = {"noise_rate": float("nan"), "noise_rate_all": float("nan"), "estimated_noise_rate_all": 0.3}
    message = noisier_warning("prune4rel", PRUNERS.get("prune4rel"), shares | {"estimated_noise_rate": 0.5}, 200, 1000)
    assert "50.0% of the 200 kept against 30.0% of all 1000 (estimated shares" in message
    assert (
        noisier_warning("prune4rel", PRUNERS.get("prune4rel"), shares | {"estimated_noise_rate": 0.31}, 200, 1000)
        is None
    )
    known = {"noise_rate": 0.3, "noise_rate_all": 0.3, "estimated_noise_rate": 0.9, "estimated_noise_rate_all": 0.3}
    assert noisier_warning("uniform", PRUNERS.get("uniform"), known, 200, 1000) is None  # the truth decides


def test_select_stage_output_is_byte_identical_across_runs(tmp_path):
    write_labels(tmp_path / "labels.parquet")
    select(tmp_path, "uniform", {"pruner": "uniform", "balance": "none"}, "a")
    select(tmp_path, "uniform", {"pruner": "uniform", "balance": "none"}, "b")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_select_stage_refuses_features_of_other_samples(tmp_path):
    write_labels(tmp_path / "labels.parquet")
    write_features(tmp_path / "features.parquet", tmp_path / "labels.parquet", sample_ids=np.arange(100))
    with pytest.raises(ArtifactError, match=r"features.parquet: has 100 samples that do not match"):
        select(tmp_path, "small_loss", {"pruner": "small_loss"}, "s", features=tmp_path / "features.parquet")


def test_relabeling_metrics_on_known_labels():
    clean = np.array([0, 1, 2, 0, 1, 2])
    noisy = np.array([True, True, False, False, False, False])
    relabel = np.array([0, 0, 2, 0, 2, 2])  # fixed sample 0, missed 1, wrong on 4
    in_subset = np.array([True, True, True, False, False, False])
    metrics = relabeling_metrics(relabel, clean, noisy, in_subset)
    assert metrics["relabel_acc_all"] == pytest.approx(4 / 6)
    assert metrics["relabel_acc_subset"] == pytest.approx(2 / 3)
    assert metrics["relabel_acc_subset_noisy"] == pytest.approx(1 / 2)
    assert metrics["relabel_acc_pruned"] == pytest.approx(2 / 3)
    none_noisy = relabeling_metrics(relabel, clean, np.zeros(6, bool), in_subset)
    assert np.isnan(none_noisy["relabel_acc_subset_noisy"])  # missing, not zero


def test_test_accuracy_means_of_the_last_ten_and_of_all_epochs_on_a_known_history():
    from noisyprune.metrics import test_accuracy_means, test_accuracy_summary

    history = np.array([0.1 * e for e in range(1, 13)])  # 12 epochs: 0.1 … 1.2
    means = test_accuracy_means(history)
    assert means["test_acc_mean_last10"] == pytest.approx(np.mean([0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2]))
    assert means["test_acc_mean_all"] == pytest.approx(0.65)
    summary = test_accuracy_summary(np.arange(1, 13), history)
    assert summary["test_acc_last"] == pytest.approx(1.2) and summary["test_acc_best"] == pytest.approx(1.2)
    short = test_accuracy_means(np.array([0.5, 0.7, 0.9]))  # fewer than 10 epochs: all of them
    assert short["test_acc_mean_last10"] == short["test_acc_mean_all"] == pytest.approx(0.7)
    assert test_accuracy_means(np.array([0.2, np.nan, 0.4]))["test_acc_mean_all"] == pytest.approx(0.3)
    assert np.isnan(test_accuracy_means(np.array([np.nan, np.nan]))["test_acc_mean_last10"])
    # a curve that peaks early: each statistic tells another story (RDIA-LS MNIST's situation)
    curve = np.concatenate([np.linspace(0.6, 0.9, 20), np.full(179, 0.86)])
    both = test_accuracy_means(curve)
    assert both["test_acc_mean_last10"] == pytest.approx(0.86)
    assert both["test_acc_mean_all"] == pytest.approx((np.linspace(0.6, 0.9, 20).sum() + 179 * 0.86) / 199)


def test_pivot_cells_are_mean_and_sample_std_over_seeds_in_percent():
    runs = pd.DataFrame(
        {
            "method": ["uniform", "uniform", "uniform", "full", "full"],
            "fraction": [0.5, 0.5, 0.2, 1.0, 1.0],
            "seed": [0, 1, 0, 0, 1],
            "test_acc_best": [0.80, 0.90, 0.7, 0.95, 0.97],
            "test_acc_last": [0.8, 0.8, 0.6, 0.9, 0.9],
            "relabel_acc_all": [0.5] * 5,
            "relabel_acc_subset_noisy": [np.nan, np.nan, 0.1, 0.2, 0.3],
            "subset_noise_rate": [0.4] * 5,
        }
    )
    blocks = setting_blocks(runs, ["uniform", "small_loss"], [0.2, 0.5, 1.0])
    pivot = pivot_csv_frame(blocks).set_index(["metric", "method"])
    best = pivot.loc["test_acc_best"]
    assert best.loc["uniform", "0.5"] == f"85.00 ± {np.std([80, 90], ddof=1):.2f}"
    # one seed of the table's two: no spread to show, and the cell says so (no rival: no mark)
    assert best.loc["uniform", "0.2"] == "70.00 (n=1)"
    assert best.loc["uniform", "1.0"] == ""  # the reference row holds fraction 1.0
    assert best.loc["full", "1.0"] == "96.00 ± 1.41"
    assert list(best.loc["small_loss", ["0.2", "0.5", "1.0"]]) == ["", "", ""]  # no runs: missing, not 0
    assert pivot.loc[("relabel_acc_subset_noisy", "uniform"), "0.5"] == ""  # missing stays missing


def test_the_select_stage_passes_the_configs_device_to_the_pruners(tmp_path, monkeypatch):
    """``device: cpu`` reaches the selection (no GPU for Prune4ReL's torch engine even where torch sees one)."""
    import torch

    from noisyprune.pruners import uniform
    from noisyprune.pruners.placement import cuda_allowed
    from noisyprune.stages.interface import Compute

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    seen = []
    original = uniform.Uniform.select

    def recording(self, inputs, budget, rng):
        seen.append(cuda_allowed())
        return original(self, inputs, budget, rng)

    monkeypatch.setattr(uniform.Uniform, "select", recording)
    write_labels(tmp_path / "labels.parquet")
    for device in ("cpu", "auto"):
        run_select_stage(
            run=Run("digits", "sym40", 0, warmup="ce", method="uniform", fraction="0.5"),
            inputs={"labels": str(tmp_path / "labels.parquet")},
            outputs={"subset": str(tmp_path / f"{device}.parquet"), "timing": str(tmp_path / f"{device}.json")},
            method_entry={"pruner": "uniform"},
            code_hash="test",
            compute=Compute(device=device, threads=1, inference_batch_size=256),
        )
    assert seen == [False, True]
