"""The public API and the `noisyprune select` command on tiny arrays where the right answer is known."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import noisyprune
from noisyprune.cli import main


def clusters(n_per_class=20, classes=3, seed=0):
    """Tight clusters, one per class, with the first 4 samples of each class labelled as the next
    class (flipped) and a model that is confident about the true class of every sample."""
    rng = np.random.default_rng(seed)
    true = np.repeat(np.arange(classes), n_per_class)
    centres = np.eye(classes, 8) * 10
    features = (centres[true] + rng.normal(scale=0.1, size=(len(true), 8))).astype(np.float32)
    labels = true.copy()
    flipped = np.concatenate([np.arange(c * n_per_class, c * n_per_class + 4) for c in range(classes)])
    labels[flipped] = (true[flipped] + 1) % classes
    probabilities = np.full((len(true), classes), 0.05)
    probabilities[np.arange(len(true)), true] = 1 - 0.05 * (classes - 1)
    return labels, features, probabilities, flipped


def test_small_loss_keeps_exactly_the_samples_whose_label_the_model_agrees_with():
    labels, _, probabilities, flipped = clusters()
    kept = noisyprune.select_subset(labels, method="small_loss", budget=48, probabilities=probabilities)
    assert sorted(kept.indices) == sorted(set(range(60)) - set(flipped))
    assert kept.budget == 48 and kept.num_candidates == 60 and kept.params["pruner"] == "small_loss"


def test_logits_give_the_workflows_scores_and_probabilities_the_same_ranking():
    labels, _, probabilities, _ = clusters()
    logits = np.log(probabilities) + 3.0  # the same softmax
    by_logits = noisyprune.select_subset(labels, method="uncertainty", fraction=0.5, logits=logits, score="margin")
    by_probs = noisyprune.select_subset(labels, method="uncertainty", fraction=0.5, probabilities=probabilities)
    assert np.array_equal(by_logits.indices, by_probs.indices)  # margin is the default score


def test_prune4rel_on_given_embeddings_covers_every_cluster_with_confident_correct_picks():
    labels, features, probabilities, flipped = clusters()
    kept = noisyprune.select_subset(
        labels, method="prune4rel", budget=3, features=features, probabilities=probabilities, tau=0.9
    )
    assert len(set(kept.indices) & set(flipped)) == 0
    assert sorted(labels[kept.indices]) == [0, 1, 2]  # one pick per cluster covers it
    assert kept.diagnostics["tau"] == 0.9 and kept.params["balance"] == "equal"  # the config's default


def test_sample_ids_are_carried_and_the_frame_lists_rank_index_id_score():
    labels, _, _, _ = clusters()
    ids = np.arange(60) + 1000
    kept = noisyprune.select_subset(labels, method="uniform", fraction=0.1, sample_ids=ids, seed=3)
    frame = kept.to_frame()
    assert list(frame.columns) == ["rank", "index", "sample_id", "score"]
    assert np.array_equal(frame["sample_id"], ids[kept.indices]) and len(frame) == 6
    again = noisyprune.select_subset(labels, method="uniform", fraction=0.1, sample_ids=ids, seed=3)
    assert np.array_equal(again.indices, kept.indices)  # seeded


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"method": "small_loss", "fraction": 0.5}, "method 'small_loss' needs probabilities= or logits="),
        ({"method": "moderate", "fraction": 0.5}, "method 'moderate' needs features="),
        ({"method": "forgetting", "fraction": 0.5}, "per-epoch training record"),
        (
            {"method": "prune4rel", "fraction": 0.5, "tau": 1.5},
            "parameter 'tau': 1.5 is greater than or equal to the maximum of 1",
        ),
        ({"method": "prune4rel", "fraction": 0.5, "tau": float("nan")}, "parameter 'tau': nan is not a finite number"),
        ({"method": "uniform", "fraction": 0.5, "colour": 1}, "method 'uniform' has no parameter 'colour'"),
        ({"method": "magic", "fraction": 0.5}, "'magic' is not one of"),
        ({"method": "uniform", "fraction": 1.5}, "fraction: 1.5 is not in (0, 1]"),
        ({"method": "uniform", "budget": 0}, "budget: 0 is not a whole number in [1, 60]"),
        ({"method": "uniform"}, "give exactly one of fraction"),
        ({"method": "moderate", "fraction": 0.5, "features": np.ones((59, 8))}, "features: expected shape (60, …)"),
        ({"method": "small_loss", "fraction": 0.5, "probabilities": np.ones((60, 3))}, "probabilities: row 0 is not"),
        ({"method": "small_loss", "fraction": 0.5, "logits": np.full((60, 3), np.inf)}, "logits: the array has 60 row"),
        ({"method": "small_loss", "fraction": 0.5, "logits": np.ones((60, 2))}, "label 2 has no column"),
    ],
)
def test_bad_arguments_are_named(arguments, message):
    labels, _, _, _ = clusters()
    with pytest.raises(ValueError) as raised:
        noisyprune.select_subset(labels, **arguments)
    assert message in str(raised.value)


def test_max_logit_from_probabilities_alone_asks_for_the_logits():
    labels, _, probabilities, _ = clusters()
    with pytest.raises(ValueError, match="method 'uncertainty' needs logits= for score max_logit"):
        noisyprune.select_subset(
            labels, method="uncertainty", fraction=0.5, probabilities=probabilities, score="max_logit"
        )
    logits = np.log(probabilities)
    kept = noisyprune.select_subset(labels, method="uncertainty", fraction=0.5, logits=logits, score="max_logit")
    assert kept.budget == 30


def test_labels_must_be_class_indices():
    with pytest.raises(ValueError, match="fractional label"):
        noisyprune.select_subset(np.array([0, 1, 1.5]), method="uniform", fraction=0.5)
    with pytest.raises(ValueError, match="negative label"):
        noisyprune.select_subset(np.array([0, -1, 1]), method="uniform", fraction=0.5)


def test_the_command_line_writes_the_kept_samples_with_paths_and_labels(tmp_path, capsys):
    labels, features, probabilities, flipped = clusters()
    paths = np.array([f"img/{i}.png" for i in range(60)])
    np.savez(tmp_path / "data.npz", labels=labels, features=features, probabilities=probabilities, paths=paths)
    status = main(
        [
            "select",
            str(tmp_path / "data.npz"),
            "--method",
            "small_loss",
            "--fraction",
            "0.8",
            "--param",
            "balance=proportional",
            "--output",
            str(tmp_path / "kept.csv"),
        ]
    )
    assert status == 0 and "kept 48 of 60 samples with small_loss" in capsys.readouterr().out
    kept = pd.read_csv(tmp_path / "kept.csv")
    assert list(kept.columns) == ["rank", "index", "sample_id", "score", "path", "label"]
    assert set(kept["index"]) == set(range(60)) - set(flipped)
    assert (kept["path"] == [f"img/{i}.png" for i in kept["index"]]).all()
    assert (
        main(
            [
                "select",
                str(tmp_path / "data.npz"),
                "--method",
                "moderate",
                "--budget",
                "5",
                "--output",
                str(tmp_path / "m.parquet"),
            ]
        )
        == 0
    )
    assert len(pd.read_parquet(tmp_path / "m.parquet")) == 5


def test_the_command_line_names_what_is_wrong(tmp_path, capsys):
    labels, _, _, _ = clusters()
    np.savez(tmp_path / "data.npz", labels=labels)
    assert (
        main(
            [
                "select",
                str(tmp_path / "data.npz"),
                "--method",
                "small_loss",
                "--fraction",
                "0.5",
                "--output",
                str(tmp_path / "k.csv"),
            ]
        )
        == 2
    )
    assert "needs probabilities= or logits=" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="expected NAME=VALUE"):
        main(
            [
                "select",
                str(tmp_path / "data.npz"),
                "--method",
                "uniform",
                "--fraction",
                "0.5",
                "--param",
                "tau",
                "--output",
                str(tmp_path / "k.csv"),
            ]
        )


def test_the_installed_console_script_prints_help_a_newcomer_can_follow():
    script = subprocess.run(
        [sys.executable, "-m", "noisyprune.cli", "select", "--help"], capture_output=True, text=True, check=True
    )
    assert "INPUT is an .npz with the arrays" in script.stdout and "--param NAME=VALUE" in script.stdout


def test_the_readme_example_runs_as_written(tmp_path):
    """The README's command-line example, from an .npz of embeddings to a kept list, in a fresh folder
    (tests/test_docs_commands.py runs it with the README's other examples)."""
    from conftest import REPO

    text = (REPO / "README.md").read_text()
    section = text[text.index("**The command line**") :]
    block = section[section.index("```bash\n.venv/bin/python -c") + 8 : section.index("head -3 kept.csv")]
    commands = [line.replace(".venv/bin/", f"{Path(sys.executable).parent}/") for line in block.splitlines() if line]
    assert len(commands) == 2
    for command in commands:
        subprocess.run(command, shell=True, cwd=tmp_path, check=True, capture_output=True)
    kept = pd.read_csv(tmp_path / "kept.csv")
    assert len(kept) == 60 and kept["path"].str.startswith("img/").all()
    assert (np.bincount(kept["label"], minlength=3) == 20).all()  # prune4rel balances classes equally


@pytest.mark.parametrize("method", ["prune4rel", "kcenter_greedy"])
def test_long_selections_report_their_progress_to_whoever_listens(method, caplog):
    import logging

    from noisyprune.pruners.progress import listening, log_reporter

    labels, features, probabilities, _ = clusters(n_per_class=100)
    heard = []
    with listening(lambda phase, done, total, unit: heard.append((phase, done, total, unit))):
        kept = noisyprune.select_subset(
            labels, method=method, budget=150, features=features, probabilities=probabilities
        )
    phases = {phase for phase, _, _, _ in heard}
    assert len(phases) == 1 and "greedy picks" in phases.pop()  # 300 samples: no τ-graph to build
    done = [d for _, d, _, _ in heard]
    assert done[0] == 0 and done[-1] == kept.budget == 150 and done == sorted(done) and len(done) > 10
    assert all(total == 150 and unit == "pick" for _, _, total, unit in heard)
    noisyprune.select_subset(labels, method=method, budget=150, features=features, probabilities=probabilities)
    assert len(heard) == len(done)  # outside the block nobody listens

    logger = logging.getLogger("progress-test")
    with caplog.at_level(logging.INFO, logger="progress-test"):
        reporter = log_reporter(logger)
        for step in range(0, 151):
            reporter("picks", step, 150, "pick")
    assert [record.getMessage().split("(")[1] for record in caplog.records] == [f"{p}%)" for p in range(10, 101, 10)]
    assert caplog.records[0].getMessage() == "picks: 15 of 150 picks (10%)"


def test_the_command_line_bars_count_each_phase_in_its_own_unit():
    import io

    from noisyprune.cli import ProgressBars

    bars = ProgressBars(file=io.StringIO(), disable=False)
    bars("Prune4ReL τ-graph", 0, 4_000_000, "pair")
    bars("Prune4ReL τ-graph", 2_000_000, 4_000_000, "pair")
    bars("Prune4ReL greedy picks", 30, 60, "pick")
    graph, picks = bars.bars["Prune4ReL τ-graph"], bars.bars["Prune4ReL greedy picks"]
    assert (graph.unit, graph.n, picks.unit, picks.n) == ("pair", 2_000_000, "pick", 30)
    assert "50%" in str(graph) and "2.00M/4.00M" in str(graph) and "pair" in str(graph)  # what the bar shows
    bars.close()


def test_the_command_line_prints_a_summary_writes_it_beside_the_output_and_warns_of_a_noisier_subset(tmp_path, capsys):
    import json

    from test_noise_estimate import confident_flipped

    labels, features, probabilities, flipped = confident_flipped()
    np.savez(tmp_path / "data.npz", labels=labels, features=features, probabilities=probabilities)
    select = ["select", str(tmp_path / "data.npz"), "--output"]
    assert (
        main([*select, str(tmp_path / "kept.csv"), "--method", "prune4rel", "--budget", "3", "--param", "tau=0.9"]) == 0
    )
    printed = capsys.readouterr()
    assert "kept per class (given label), of the input: 0: 1/20, 1: 1/20, 2: 1/20" in printed.out
    assert "estimated wrong labels (predicted_neq_given): 100.0% of the kept, 20.0% of all: MORE" in printed.out
    assert "τ = 0.9: " in printed.out and "confidence of the picks 0.980 against 0.676" in printed.out
    assert f"summary → {tmp_path / 'kept.summary.json'}" in printed.out
    assert "noisyprune select: warning: prune4rel kept a subset with more wrong labels" in printed.err
    assert "a re-labeling learner can correct" in printed.err and "confident_learning or small_loss" in printed.err
    summary = json.loads((tmp_path / "kept.summary.json").read_text())
    assert summary["wrong_labels"]["kept"] == 1.0 and summary["wrong_labels"]["all"] == 0.2
    assert summary["warning"] in printed.err and summary["output"] == str(tmp_path / "kept.csv")
    assert set(pd.read_csv(tmp_path / "kept.csv")["index"]) <= set(flipped)

    clean = [*select, str(tmp_path / "clean.parquet"), "--method", "small_loss", "--fraction", "0.5"]
    assert main([*clean, "--param", "balance=proportional"]) == 0
    printed = capsys.readouterr()
    assert "0.0% of the kept, 20.0% of all: not more than the input" in printed.out and printed.err == ""
    summary = json.loads((tmp_path / "clean.summary.json").read_text())
    assert summary["warning"] is None and summary["classes"][0] == {"class": 0, "kept": 10, "input": 20}


def test_a_method_parameter_named_like_an_argument_goes_in_method_params(tmp_path, capsys):
    """confident_learning's ``probabilities`` parameter shares its name with the array argument."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    probabilities = np.full((60, 3), 0.1)
    probabilities[np.arange(60), labels] = 0.8
    features = rng.normal(size=(60, 4))
    kept = noisyprune.select_subset(
        labels,
        method="confident_learning",
        fraction=0.5,
        probabilities=probabilities,
        features=features,
        method_params={"probabilities": "warmup"},
    )
    assert kept.params["probabilities"] == "warmup" and kept.budget == 30
    with pytest.raises(ValueError, match=r"\['tau'\] given both"):
        noisyprune.select_subset(
            labels, method="prune4rel", fraction=0.5, features=features, tau=0.9, method_params={"tau": 0.8}
        )
    np.savez(tmp_path / "data.npz", labels=labels, features=features, probabilities=probabilities)
    command = ["select", str(tmp_path / "data.npz"), "--method", "confident_learning", "--fraction", "0.5"]
    assert main([*command, "--param", "probabilities=warmup", "--output", str(tmp_path / "kept.csv")]) == 0
    assert "probabilities=warmup" in capsys.readouterr().out
