"""End-to-end Snakemake runs of the tiny config: outputs, determinism, rerun scope, bad input."""

import copy
import io
import json
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, TINY_CONFIG, load_yaml, run_snakemake, scheduled_jobs

from noisyprune.artifacts import (
    DYNAMICS,
    FEATURES,
    LABELS,
    RELABELS,
    SNAPSHOTS,
    SUBSET,
    read_table,
)
from noisyprune.config import sweep_runs, validate_config
from noisyprune.stages.interface import RESULT_SETTINGS

pytestmark = pytest.mark.workflow

RUN = "results/digits/sym40/seed0"


def test_tiny_run_writes_one_row_per_run_and_a_pivot(finished_run):
    workdir, _ = finished_run
    runs = pd.read_parquet(workdir / "results/tables/runs.parquet")
    settings = [("forgetting", 0.5), ("full", 1.0), ("prune4rel", 0.5), ("small_loss", 0.5), ("uniform", 0.5)]
    assert sorted(zip(runs["method"], runs["fraction"], runs["learner"])) == sorted(
        (*setting, learner) for setting in settings for learner in ("ce", "elr")
    )
    for column in (
        "test_acc_best",
        "test_acc_last",
        "test_acc_mean_last10",
        "test_acc_mean_all",
        "relabel_acc_all",
        "relabel_acc_subset",
        "relabel_acc_subset_noisy",
        "subset_noise_rate",
        "select_seconds",
        "retrain_seconds",
        "warmup_seconds",
        "code_hash_retrain",
        "torch_version",
        "host",
        "seed_retrain",
        "config_method",
        "config_learner",
    ):
        assert runs[column].notna().all(), column
    assert json.loads(runs.loc[runs["method"] == "small_loss", "config_method"].iloc[0])["pruner"] == "small_loss"
    pivot = pd.read_csv(workdir / "results/tables/pivot/digits__sym40__ce__ce.csv")
    assert list(pivot.columns) == ["metric", "method", "seeds", "0.5", "1.0"]
    assert set(pivot["method"]) == {"uniform", "small_loss", "prune4rel", "forgetting", "full"}
    assert (workdir / "results/tables/pivot/digits__sym40__ce__elr.csv").is_file()
    assert (workdir / "results/tables/runs.csv").is_file()
    detection = pd.read_csv(workdir / "results/tables/detection.csv")
    assert {"loss", "el2n", "forgetting"} <= set(detection["score"])
    assert detection["AUROC (%)"].between(0, 100).all()  # a table for people: percent
    loss_auroc = detection.loc[detection["score"] == "loss", "AUROC (%)"].item()
    assert loss_auroc > 60  # a warm-up fits clean labels first: its loss flags mislabelled samples


def test_tiny_run_artifacts_follow_their_contracts(finished_run):
    workdir, config = finished_run
    labels = read_table(workdir / f"{RUN}/labels.parquet", LABELS)
    n = len(labels)
    features = read_table(workdir / f"{RUN}/warmup/ce/features.parquet", FEATURES)
    assert len(features) == n and features.numpy("probs").shape == (n, 10)
    assert features.numpy("embedding").shape == (n, 32)  # the MLP's last hidden width
    dynamics = read_table(workdir / f"{RUN}/warmup/ce/dynamics.parquet", DYNAMICS)
    assert len(dynamics) == n * config["warmups"]["ce"]["epochs"]
    snapshots = read_table(workdir / f"{RUN}/warmup/ce/snapshots.parquet", SNAPSHOTS)
    assert sorted(set(snapshots.numpy("epoch").tolist())) == [2, 3] and len(snapshots) == 2 * n
    subset = read_table(workdir / f"{RUN}/select/ce/small_loss/f0.5/subset.parquet", SUBSET)
    assert len(subset) == subset.metadata["budget"] == 629
    full = read_table(workdir / f"{RUN}/select/ce/full/f1.0/subset.parquet", SUBSET)
    assert len(full) == n
    relabels = read_table(workdir / f"{RUN}/train/ce/small_loss/f0.5/ce/relabels.parquet", RELABELS)
    assert len(relabels) == n and relabels.numpy("in_subset").sum() == 629
    metrics = json.loads((workdir / f"{RUN}/train/ce/small_loss/f0.5/ce/metrics.json").read_text())
    assert metrics["metrics"]["subset_size"] == 629
    assert 0.0 <= metrics["metrics"]["test_acc_best"] <= 1.0


def test_jobs_start_with_idle_openmp_threads_sleeping(finished_run):
    """The Snakefile puts OMP_WAIT_POLICY=PASSIVE into every job's environment (a value the user
    set wins), so training keeps its pace on shared cores; the provenance says which policy ran."""
    workdir, _ = finished_run
    expected = os.environ.get("OMP_WAIT_POLICY", "PASSIVE")
    metrics = json.loads((workdir / RUN / "train/ce/small_loss/f0.5/ce/metrics.json").read_text())
    assert metrics["provenance"]["environment"]["omp_wait_policy"] == expected


def test_same_config_gives_identical_labels_subsets_and_metrics(finished_run, tmp_path):
    first, config = finished_run
    run_snakemake(tmp_path, config, "--cores", "2")
    assert (first / f"{RUN}/labels.parquet").read_bytes() == (tmp_path / f"{RUN}/labels.parquet").read_bytes()
    subsets = sorted((first / RUN / "select").rglob("subset.parquet"))
    assert len(subsets) == 5
    for path in subsets:
        assert path.read_bytes() == (tmp_path / path.relative_to(first)).read_bytes(), path
    for path in sorted((first / RUN / "train").rglob("metrics.json")):
        ours = json.loads(path.read_text())["metrics"]
        theirs = json.loads((tmp_path / path.relative_to(first)).read_text())["metrics"]
        assert ours == theirs, path


def test_a_finished_run_has_nothing_left_to_do(finished_run):
    workdir, config = finished_run
    result = run_snakemake(workdir, config, "--dry-run", "--cores", "1")
    assert "Nothing to be done" in result.stdout + result.stderr


# A training job's line per epoch ("ce epoch 3: lr 0.04945, train loss …").
EPOCH_LINE = re.compile(r"^.* INFO noisyprune\.training\.callbacks: \w+ epoch (\d+): ", flags=re.MULTILINE)


def test_the_console_shows_progress_not_job_details_and_the_logs_keep_every_epoch(tiny_run):
    """The tiny run's console: Snakemake's header and one progress line per job, no job blocks and
    no job log records; every training job's log still has its line per epoch."""
    workdir, config, console = tiny_run
    lines = console.splitlines()
    total = int(re.search(r"^(\d+) of \1 steps \(100%\) done$", console, flags=re.MULTILINE).group(1))
    progress = [line for line in lines if re.fullmatch(r"\d+ of \d+ steps \(\d+%\) done", line)]
    assert [int(line.split()[0]) for line in progress] == list(range(1, total + 1))  # one per job, in order
    assert not EPOCH_LINE.search(console), console[-3000:]
    assert not re.search(r" INFO noisyprune", console)
    assert not re.search(
        r"^(local)?rule \w+:$|^Finished jobid|^Select jobs to execute|^Execute \d+ jobs", console, flags=re.MULTILINE
    )
    # the header (about 45 lines: Snakemake's banner, the job counts) and a line per job
    assert len(lines) < 60 + 2 * total, console
    complete = re.search(r"^Complete log\(s\): (\S+)$", console, flags=re.MULTILINE).group(1)
    assert re.search(r"^(local)?rule retrain:$", Path(complete).read_text(), flags=re.MULTILINE)  # the job blocks
    warmup = workdir / RUN / "warmup/ce/warmup.log"
    retrains = sorted((workdir / RUN).rglob("retrain.log"))
    assert len(retrains) == len(sweep_runs(validate_config(copy.deepcopy(config))))
    for log, entry in [(warmup, config["warmups"]["ce"])] + [(r, config["learners"][r.parent.name]) for r in retrains]:
        epochs = [int(epoch) for epoch in EPOCH_LINE.findall(log.read_text())]
        assert epochs == list(range(1, entry["epochs"] + 1)), log


def test_noisyprune_verbose_puts_job_records_and_job_blocks_back_on_the_console(tmp_path):
    """NOISYPRUNE_VERBOSE=1: Snakemake's job block and the job's INFO records on the console, as
    before; the job's log is the same either way."""
    config = load_yaml(TINY_CONFIG)
    target = f"{RUN}/labels.parquet"  # the noise job alone: a few seconds
    env = {**os.environ, "NOISYPRUNE_VERBOSE": "1"}
    console = run_snakemake(tmp_path, config, "--cores", "1", target, env=env)
    text = console.stdout + console.stderr
    assert re.search(r"^(local)?rule noise:$", text, flags=re.MULTILINE), text[-3000:]
    assert "INFO noisyprune.stages.noise: digits/sym40 seed 0:" in text
    assert "INFO noisyprune.stages.noise: digits/sym40 seed 0:" in (tmp_path / RUN / "noise.log").read_text()


def test_changing_one_selection_parameter_reruns_only_that_methods_select_and_retrain(finished_run):
    workdir, config = finished_run
    changed = copy.deepcopy(config)
    changed["methods"]["small_loss"]["balance"] = "proportional"
    result = run_snakemake(workdir, changed, "--dry-run", "--cores", "1", config_name="changed.yaml")
    jobs = scheduled_jobs(result.stdout)
    rules = sorted(rule for rule, _ in jobs)
    assert rules == ["aggregate", "all", "plots", "retrain", "retrain", "select"], result.stdout  # one per learner
    for rule, wildcards in jobs:
        if rule in ("select", "retrain"):
            assert wildcards["method"] == "small_loss" and wildcards["fraction"] == "0.5"


def test_changing_a_learner_setting_reruns_only_retrains(finished_run):
    workdir, config = finished_run
    changed = copy.deepcopy(config)
    changed["learners"]["ce"]["lr"] = 0.01
    result = run_snakemake(workdir, changed, "--dry-run", "--cores", "1", config_name="changed.yaml")
    jobs = scheduled_jobs(result.stdout)
    rules = sorted(rule for rule, _ in jobs)
    assert rules == ["aggregate", "all", "plots", *["retrain"] * 5], result.stdout
    assert {w["learner"] for rule, w in jobs if rule == "retrain"} == {"ce"}  # elr's retrains stay


def test_a_learner_started_from_the_warmup_reruns_with_the_warmup_even_on_uniform_subsets(finished_run):
    workdir, config = finished_run
    changed = copy.deepcopy(config)
    changed["warmups"]["ce"]["lr"] = 0.01
    result = run_snakemake(workdir, changed, "--dry-run", "--cores", "1", config_name="changed.yaml")
    jobs = scheduled_jobs(result.stdout)
    uniform_retrains = sorted(w["learner"] for rule, w in jobs if rule == "retrain" and w["method"] == "uniform")
    assert uniform_retrains == ["elr"], result.stdout  # CE on the uniform subset needs no warm-up
    assert "select" in {rule for rule, _ in jobs}


# A value other than the tiny config's for each setting that changes a training job's numbers.
CHANGED_RESULT_SETTINGS = {"precision": "bf16", "channels_last": True, "compile": True, "inference_batch_size": 100}


def summary(workdir, config) -> pd.DataFrame:
    """Snakemake's ``--summary`` of ``workdir`` under ``config``: a row per output file with its
    rule, ``status`` (``ok``, ``params changed``, …) and ``plan`` (``update pending``, ``no update``)."""
    result = run_snakemake(workdir, config, "--summary", config_name="changed.yaml")
    return pd.read_csv(io.StringIO(result.stdout), sep="\t")


@pytest.mark.parametrize("key", RESULT_SETTINGS)
def test_a_setting_that_changes_numbers_reruns_the_jobs_that_train_or_infer(finished_run, key):
    """precision (bf16 autocast), channels_last, compile and inference_batch_size are the
    `execution` param of warm-up, extraction and retraining: changing one makes exactly those
    jobs' params differ (every retrain), and the rest run again only downstream of them."""
    workdir, config = finished_run
    changed = copy.deepcopy(config)
    changed[key] = CHANGED_RESULT_SETTINGS[key]
    rows = summary(workdir, changed)
    stale = rows[rows["status"] == "params changed"]
    assert sorted(set(stale["rule"])) == ["extract", "retrain", "warmup"], rows.to_string()
    retrains = stale["output_file"].str.endswith("metrics.json").sum()
    assert retrains == len(sweep_runs(validate_config(copy.deepcopy(config)))), rows.to_string()
    assert set(rows[rows["rule"] == "noise"]["plan"]) == {"no update"}, rows.to_string()
    assert set(summary(workdir, config)["status"]) == {"ok"}  # unchanged: no params differ


@pytest.mark.parametrize(("key", "value"), [("threads", 2), ("device", "auto")])
def test_threads_and_device_rerun_nothing(finished_run, key, value):
    """Where and how wide a job runs is not a rerun trigger (config/README.md)."""
    workdir, config = finished_run
    changed = copy.deepcopy(config)
    changed[key] = value
    result = run_snakemake(workdir, changed, "--dry-run", "--cores", "2", config_name="changed.yaml")
    assert "Nothing to be done" in result.stdout + result.stderr, result.stdout


def test_bad_config_fails_before_any_job_runs(tmp_path):
    config = load_yaml(TINY_CONFIG)
    config["methods"]["uniform"]["pruner"] = "magic"
    result = run_snakemake(tmp_path, config, "--cores", "1", check=False)
    assert result.returncode != 0
    assert "config key 'methods.uniform.pruner': 'magic' is not one of" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


SHIPPED_CONFIGS = sorted((REPO / "config").glob("*.yaml"))


@pytest.fixture(scope="module")
def shipped_dry_runs(tmp_path_factory):
    """A dry run of every shipped config, two at a time (each is one mostly single-threaded Python
    process, so the two cores halve the wall time)."""
    from concurrent.futures import ThreadPoolExecutor

    def dry_run(path):
        workdir = tmp_path_factory.mktemp(path.stem)
        return run_snakemake(workdir, load_yaml(path), "--dry-run", "--cores", "1", check=False)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(SHIPPED_CONFIGS, pool.map(dry_run, SHIPPED_CONFIGS), strict=True))


@pytest.mark.parametrize("config_path", SHIPPED_CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_builds_its_dag(config_path, shipped_dry_runs):
    config = load_yaml(config_path)
    result = shipped_dry_runs[config_path]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rules = [rule for rule, _ in scheduled_jobs(result.stdout)]
    runs = sweep_runs(validate_config(copy.deepcopy(config)))
    # one selection per subset, shared by every learner that retrains on it
    selections = {(r.dataset, r.noise, r.seed, r.warmup, r.method, r.fraction) for r in runs}
    assert rules.count("retrain") == len(runs)
    assert rules.count("select") == len(selections)
    assert {"noise", "warmup", "extract", "aggregate", "plots", "all"} <= set(rules)


def test_rdia_tabular_preset_flips_harmful_labels_and_beats_plain_refitting(tmp_path):
    """config/rdia_tabular.yaml on breast cancer at 50% flips (one seed): RDIA's influence head on
    the logistic regression's inputs finds the flipped labels and the refit recovers, where a plain
    refit on the noisy labels stays near chance."""
    config = load_yaml(REPO / "config" / "rdia_tabular.yaml")
    config["sweep"].update(noise=["flip50"], seeds=[0])
    run_snakemake(tmp_path, config, "--cores", "2")
    runs = pd.read_parquet(tmp_path / "results/tables/runs.parquet").set_index("learner")
    assert (runs["subset_size"] == 318).all()  # 398 training samples less the 80 probe samples
    rdia, ce = runs.loc["rdia"], runs.loc["ce"]
    # measured: 0.89 of the flipped labels corrected, test accuracy 0.89 against 0.56
    assert rdia["relabel_acc_subset_noisy"] > 0.8 and ce["relabel_acc_subset_noisy"] < 0.6
    assert rdia["test_acc_last"] > ce["test_acc_last"] + 0.2
    metrics = json.loads(
        (tmp_path / "results/breast_cancer/flip50/seed0/train/logreg/full/f1.0/rdia/metrics.json").read_text()
    )["metrics"]
    assert metrics["rdia_relabelled"] == metrics["rdia_harmful"]  # every harmful label flipped
    assert metrics["rdia_val_loss_after"] < metrics["rdia_val_loss_before"]


# config/fashion_mnist.yaml on the shared Fashion-MNIST files runs end to end, with all of its
# pruners and learners, in tests/test_paper_smoke.py (as every other shipped study).


def test_editing_one_pruners_code_reruns_only_its_selections_and_their_retrains(finished_run, tmp_path):
    """A copy of the workflow with one line added to its src/.../small_loss.py (the rules import the
    package from the workflow's own src/): the code hash of small_loss's selections changes, and of
    the noise detection, which measures the `loss` score small_loss declares; nothing else's does."""
    workdir, config = finished_run
    clone = tmp_path / "workflow-copy"
    clone.mkdir()
    for part in ("Snakefile", "workflow", "config", "profiles", "src"):
        source = REPO / part
        (shutil.copytree if source.is_dir() else shutil.copy)(source, clone / part)
    pruner = clone / "src/noisyprune/pruners/small_loss.py"
    pruner.write_text(pruner.read_text() + "\n# an edit\n")
    result = run_snakemake(workdir, config, "--dry-run", "--cores", "1", snakefile=clone / "Snakefile")
    jobs = scheduled_jobs(result.stdout)
    rerun = sorted((rule, w.get("method", ""), w.get("learner", "")) for rule, w in jobs)
    assert rerun == [
        ("aggregate", "", ""),
        ("all", "", ""),
        ("detect", "", ""),
        ("plots", "", ""),
        ("retrain", "small_loss", "ce"),
        ("retrain", "small_loss", "elr"),
        ("select", "small_loss", ""),
    ], result.stdout
    assert "Code has changed" in result.stdout or "params have changed" in result.stdout.lower()
