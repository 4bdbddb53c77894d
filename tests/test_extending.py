"""docs/extending.md is true as written: its code blocks, copied into a temporary package and
registered through ``plugins:``, run through the tiny workflow, and each toy does what it says.

Nothing in the repository is edited: the toy pruner, learner, loader and noise model reach the
config schema, the DAG and the jobs through the public registry hook alone.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, TINY_CONFIG, load_yaml, run_snakemake

from noisyprune.artifacts import FEATURES, LABELS, SUBSET, read_table

WALKTHROUGH = REPO / "docs" / "extending.md"
RUN = "results/blobs/every4/seed0"
NOISYPRUNE = str(Path(sys.executable).with_name("noisyprune"))  # the console script
BLOCK = re.compile(r"<!-- file: (?P<path>[\w./]+) -->\n```(?:python|yaml)\n(?P<code>.*?)```", re.S)


def walkthrough_files() -> dict[str, str]:
    """The page's code blocks by the file each is marked as."""
    files = {match["path"]: match["code"] for match in BLOCK.finditer(WALKTHROUGH.read_text(encoding="utf-8"))}
    assert {"toy_components/agreement.py", "toy_components/smoothing.py", "toy_components/blobs.py"} <= set(files)
    return files


def toy_config(files: dict[str, str]) -> dict:
    """The tiny config on the walkthrough's toy entries, with the toy package as plugin."""
    config = load_yaml(TINY_CONFIG)
    config["plugins"] = ["toy_components"]
    for section in ("datasets", "noise", "methods", "learners"):
        config[section] |= yaml.safe_load(files[f"{section}.yaml"])
    config["sweep"] |= {
        "datasets": ["blobs"],
        "noise": ["every4"],
        "methods": ["agreement", "uniform"],
        "learners": ["smoothed"],
        "fractions": [0.5],
    }
    return config


@pytest.fixture(scope="module")
def toy_package(tmp_path_factory):
    """The walkthrough's package written to a temporary folder, and an environment that imports it."""
    root = tmp_path_factory.mktemp("plugins")
    for relative, code in walkthrough_files().items():
        if relative.endswith(".py"):
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(code, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    return root, env


def git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout


def test_walkthrough_components_run_through_the_tiny_workflow(toy_package, tmp_path):
    _, env = toy_package
    files = walkthrough_files()
    before = git_status()
    run_snakemake(tmp_path, toy_config(files), "--cores", "2", env=env)
    assert git_status() == before  # no file of the repository was touched

    # The loader: 400 training samples in 3 classes.
    labels = read_table(tmp_path / RUN / "labels.parquet", LABELS)
    clean, noisy = labels.numpy("clean_label"), labels.numpy("noisy_label")
    assert len(labels) == 400 and set(clean.tolist()) == {0, 1, 2}
    # The noise model: exactly samples 0, 4, 8, … moved to the next class.
    flipped = np.flatnonzero(clean != noisy)
    np.testing.assert_array_equal(flipped, np.arange(0, 400, 4))
    np.testing.assert_array_equal(noisy[flipped], (clean[flipped] + 1) % 3)

    # The pruner: the 200 samples with the largest warm-up probability of their noisy label.
    features = read_table(tmp_path / RUN / "warmup/ce/features.parquet", FEATURES)
    p_label = features.numpy("probs")[np.arange(400), features.numpy("noisy_label")]
    subset = read_table(tmp_path / RUN / "select/ce/agreement/f0.5/subset.parquet", SUBSET)
    kept = subset.numpy("sample_id")
    assert len(kept) == 200
    assert p_label[kept].min() >= np.sort(p_label)[::-1][199]
    # Every fourth sample is mislabelled: agreeing with the label keeps fewer of them than chance.
    assert np.isin(kept, flipped).mean() < 0.25

    # The pruner's declared detection score: measured beside the built-in ones.
    detection = json.loads((tmp_path / RUN / "warmup/ce/detection.json").read_text())
    scores = [row["score"] for row in detection["scores"]]
    assert "label_doubt" in scores and "loss" in scores

    # The learner: a retrain per method with the smoothed_ce learner and its parameter.
    runs = pd.read_parquet(tmp_path / "results/tables/runs.parquet")
    assert set(runs["method"]) == {"agreement", "uniform"} and set(runs["learner"]) == {"smoothed"}
    assert (runs["test_acc_last"] > 0.5).all()  # three well-separated blobs


def test_a_toy_components_bad_parameter_is_refused_before_any_job(toy_package, tmp_path):
    _, env = toy_package
    config = toy_config(walkthrough_files())
    config["methods"]["agreement"]["prefer"] = "sure"
    result = run_snakemake(tmp_path, config, "--cores", "1", check=False, env=env)
    assert result.returncode != 0
    assert (
        "config key 'methods.agreement.prefer': 'sure' is not one of ['confident', 'doubtful']"
        in result.stdout + result.stderr
    )
    assert not (tmp_path / "results").exists()


def test_an_unimportable_plugin_is_named(tmp_path):
    config = load_yaml(TINY_CONFIG) | {"plugins": ["no_such_plugin_module"]}
    result = run_snakemake(tmp_path, config, "--cores", "1", "--dry-run", check=False)
    assert result.returncode != 0
    assert "config key 'plugins': cannot import 'no_such_plugin_module'" in result.stdout + result.stderr


def test_the_toy_pruner_runs_from_python_and_the_shell(toy_package, tmp_path):
    _, env = toy_package
    labels = np.array([0, 0, 1, 1, 2, 2])
    p_label = np.array([0.8, 0.2, 0.7, 0.3, 0.9, 0.4])
    probabilities = np.repeat(((1 - p_label) / 2)[:, None], 3, axis=1)
    probabilities[np.arange(6), labels] = p_label
    np.savez(tmp_path / "mine.npz", labels=labels, probabilities=probabilities)
    shell = subprocess.run(
        [
            *(NOISYPRUNE, "select", str(tmp_path / "mine.npz"), "--method", "label_agreement", "--budget", "3"),
            *("--param", "prefer=doubtful", "--plugin", "toy_components", "--output", str(tmp_path / "kept.csv")),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert shell.returncode == 0, shell.stderr
    assert pd.read_csv(tmp_path / "kept.csv")["index"].tolist() == [1, 3, 5]  # the lowest p(label) first
    listing = subprocess.run(
        [NOISYPRUNE, "methods", "label_agreement", "--plugin", "toy_components"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert "prefer (one of confident, doubtful; default confident)" in listing
    python = (
        "import numpy as np, noisyprune, toy_components\n"
        f"data = np.load({str(tmp_path / 'mine.npz')!r})\n"
        "kept = noisyprune.select_subset(data['labels'], method='label_agreement', budget=3,"
        " probabilities=data['probabilities'])\n"
        "print(kept.indices.tolist())\n"
    )
    result = subprocess.run([sys.executable, "-c", python], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "[4, 0, 2]"  # the highest p(label) first


def test_an_unimportable_plugin_of_the_command_line_is_named(tmp_path):
    result = subprocess.run(
        [NOISYPRUNE, "methods", "--plugin", "no_such_plugin_module"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "noisyprune methods: --plugin: cannot import 'no_such_plugin_module'" in result.stderr
