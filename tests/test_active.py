"""Active learning: initial pools, acquisition functions on constructed examples, and the chain of
rounds through Snakemake (pool growth, no re-queries, determinism, extending the round count)."""

import copy
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import run_snakemake, scheduled_jobs

from noisyprune.active import acquisition_order, initial_pool
from noisyprune.artifacts import POOL, QUERY, read_table
from noisyprune.stages.active import run_active_pool_stage, run_active_query_stage
from noisyprune.stages.interface import Run


def test_initial_pool_is_balanced_seeded_and_sized():
    labels = np.repeat(np.arange(4), [50, 30, 20, 3])  # class 3 is too small for an equal share
    pool = initial_pool(labels, 40, 4, balanced=True, rng=np.random.default_rng(0))
    assert len(pool) == len(np.unique(pool)) == 40 and np.all(np.diff(pool) > 0)
    counts = np.bincount(labels[pool], minlength=4)
    assert counts[3] == 3 and sorted(counts[:3].tolist()) == [12, 12, 13]  # class 3's share goes to the others
    assert np.array_equal(pool, initial_pool(labels, 40, 4, balanced=True, rng=np.random.default_rng(0)))
    assert not np.array_equal(pool, initial_pool(labels, 40, 4, balanced=True, rng=np.random.default_rng(1)))
    uniform = initial_pool(labels, 40, 4, balanced=False, rng=np.random.default_rng(0))
    assert len(np.unique(uniform)) == 40
    with pytest.raises(ValueError):
        initial_pool(labels, 0, 4, balanced=True, rng=np.random.default_rng(0))


def test_margin_queries_the_smallest_top1_minus_top2_gap_first():
    probs = np.array(
        [
            [0.90, 0.05, 0.05],  # margin 0.85
            [0.40, 0.35, 0.25],  # 0.05  ← second
            [0.34, 0.33, 0.33],  # 0.01  ← first
            [0.60, 0.30, 0.10],  # 0.30
            [0.45, 0.10, 0.45],  # 0.00 tie of the top two ← ahead of all
        ]
    )
    positions, scores = acquisition_order("margin", probs, 3, np.random.default_rng(0))
    assert positions.tolist() == [4, 2, 1]
    assert np.allclose(scores, [0.0, -0.01, -0.05])
    least, _ = acquisition_order("least_confidence", probs, 2, np.random.default_rng(0))
    assert least.tolist() == [2, 1]  # top probabilities 0.34, 0.40
    entropy, _ = acquisition_order("entropy", probs, 1, np.random.default_rng(0))
    assert entropy.tolist() == [2]


def test_random_and_prune4rel_acquisitions_return_distinct_candidates():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=60)
    embedding = rng.normal(size=(60, 8))
    first, _ = acquisition_order("random", probs, 10, np.random.default_rng(5))
    again, _ = acquisition_order("random", probs, 10, np.random.default_rng(5))
    assert np.array_equal(first, again) and len(np.unique(first)) == 10
    chosen, _ = acquisition_order(
        "prune4rel",
        probs,
        12,
        np.random.default_rng(0),
        embedding=embedding,
        params={"tau": 0.5, "eta": 1.0, "balance": "equal"},
    )
    assert len(np.unique(chosen)) == 12
    # balanced by the predicted label
    assert np.bincount(probs[chosen].argmax(axis=1), minlength=3).tolist() == [4, 4, 4]
    with pytest.raises(ValueError, match="unknown acquisition"):
        acquisition_order("bald", probs, 3, np.random.default_rng(0))


# --- the chain of rounds through Snakemake -----------------------------------------------------------

ACTIVE = {
    "margin": {"acquisition": "margin", "learner": "ce", "initial": 60, "query": 40, "rounds": 2},
    "random": {"acquisition": "random", "learner": "ce", "initial": 60, "query": 40, "rounds": 2},
}
RUN = "results/digits/sym40/seed0/active"


def _active_config(tiny_config, rounds=2):
    config = copy.deepcopy(tiny_config)
    config["active"] = copy.deepcopy(ACTIVE)
    for entry in config["active"].values():
        entry["rounds"] = rounds
    config["sweep"]["active"] = ["margin", "random"]
    return config


@pytest.fixture(scope="module")
def active_run(tmp_path_factory):
    from conftest import TINY_CONFIG, load_yaml

    workdir = tmp_path_factory.mktemp("active")
    config = _active_config(load_yaml(TINY_CONFIG))
    run_snakemake(workdir, config, "--cores", "2", "active_all")
    return workdir, config


@pytest.mark.workflow
def test_pools_grow_by_the_query_size_without_requerying(active_run):
    workdir, _ = active_run
    for experiment in ("margin", "random"):
        previous = None
        for round_index in range(3):
            pool = read_table(workdir / RUN / experiment / f"round{round_index}/pool.parquet", POOL)
            ids = pool.numpy("sample_id")
            assert len(ids) == 60 + 40 * round_index == pool.metadata["size"]
            assert (pool.numpy("joined_round") <= round_index).all()
            assert (pool.numpy("joined_round") == round_index).sum() == (60 if round_index == 0 else 40)
            if previous is not None:
                query = read_table(workdir / RUN / experiment / f"round{round_index - 1}/query.parquet", QUERY)
                assert not np.isin(query.numpy("sample_id"), previous).any()  # never re-queried
                assert np.array_equal(np.sort(np.concatenate([previous, query.numpy("sample_id")])), ids)
            previous = ids
    first = [
        read_table(workdir / RUN / e / "round0/pool.parquet", POOL).numpy("sample_id") for e in ("margin", "random")
    ]
    assert np.array_equal(*first)  # one initial pool for experiments that differ only in acquisition
    table = pd.read_parquet(workdir / "results/tables/active.parquet")
    assert sorted(table["labelled"].unique()) == [60, 100, 140]
    assert len(table) == 6 and table["test_acc_last"].between(0, 1).all()
    assert table["pool_noise_rate"].between(0, 1).all() and (table["code_hash"] != "").all()


@pytest.mark.workflow
def test_margin_queries_are_the_smallest_margins_of_the_rounds_model(active_run):
    workdir, _ = active_run
    from noisyprune.artifacts import FEATURES

    round_dir = workdir / RUN / "margin" / "round0"
    predictions = read_table(round_dir / "predictions.parquet", FEATURES)
    pooled = read_table(round_dir / "pool.parquet", POOL).numpy("sample_id")
    query = read_table(round_dir / "query.parquet", QUERY).numpy("sample_id")
    margin = predictions.numpy("margin")  # top-1 minus top-2 probability
    ids = predictions.numpy("sample_id")
    candidates = ~np.isin(ids, pooled)
    assert margin[np.isin(ids, query)].max() <= margin[candidates & ~np.isin(ids, query)].min() + 1e-6


@pytest.mark.workflow
def test_pool_and_query_stages_are_deterministic(active_run, tmp_path):
    workdir, _config = active_run
    # What the rules pass (each job its own keys of the validated entry).
    pool_entry = {"initial": 60, "initial_balance": True, "labels": "noisy"}
    query_entry = {"acquisition": "margin", "query": 40, "tau": 0.95, "eta": 1.0, "balance": "equal"}
    run = Run("digits", "sym40", 0, experiment="margin", round=0)
    labels = str(workdir / "results/digits/sym40/seed0/labels.parquet")
    round_dir = workdir / RUN / "margin" / "round0"
    run_active_pool_stage(
        run=run, inputs={"labels": labels}, outputs={"pool": str(tmp_path / "pool.parquet")}, entry=pool_entry
    )
    assert (tmp_path / "pool.parquet").read_bytes() == (round_dir / "pool.parquet").read_bytes()
    run_active_query_stage(
        run=run,
        inputs={
            "labels": labels,
            "pool": str(round_dir / "pool.parquet"),
            "predictions": str(round_dir / "predictions.parquet"),
        },
        outputs={"query": str(tmp_path / "query.parquet")},
        entry=query_entry,
    )
    assert (tmp_path / "query.parquet").read_bytes() == (round_dir / "query.parquet").read_bytes()


@pytest.mark.workflow
def test_more_rounds_schedule_only_the_new_rounds(active_run, tmp_path):
    source, _ = active_run
    workdir = tmp_path / "copy"
    shutil.copytree(source, workdir, symlinks=True)
    from conftest import TINY_CONFIG, load_yaml

    config = _active_config(load_yaml(TINY_CONFIG), rounds=3)
    dry = run_snakemake(workdir, config, "--dry-run", "--cores", "1", "active_all")
    jobs = sorted(
        (rule, wildcards.get("experiment", ""), wildcards.get("round", ""))
        for rule, wildcards in scheduled_jobs(dry.stdout)
    )
    assert jobs == sorted(
        [
            *[
                (rule, e, r)
                for e in ("margin", "random")
                for rule, r in (("active_query", "2"), ("active_pool", "3"), ("active_train", "3"))
            ],
            ("active_aggregate", "", ""),
            ("active_all", "", ""),
        ]
    ), dry.stdout[-3000:]
    # and changing the query size leaves round 0's pool and training alone
    config["active"]["margin"]["query"] = 30
    dry = run_snakemake(workdir, config, "--dry-run", "--cores", "1", "active_all")
    margin_jobs = {(rule, w.get("round")) for rule, w in scheduled_jobs(dry.stdout) if w.get("experiment") == "margin"}
    assert ("active_pool", "0") not in margin_jobs and ("active_train", "0") not in margin_jobs
    assert ("active_query", "0") in margin_jobs


@pytest.mark.workflow
def test_active_tables_and_plot_show_one_row_and_line_per_experiment(active_run):
    workdir, _ = active_run
    curves = pd.read_csv(workdir / "results/tables/active/digits__sym40.csv")
    assert sorted(curves["experiment"].unique()) == ["margin", "random"]
    assert list(curves.columns[1:4]) == ["60", "100", "140"]
    markdown = (workdir / "results/tables/active/digits__sym40.md").read_text()
    assert re.search(r"^\| margin +\|", markdown, flags=re.MULTILINE)  # cells are padded to the column
    assert (workdir / "results/plots/digits__sym40__active.png").read_bytes()[:4] == b"\x89PNG"
    metrics = json.loads((workdir / RUN / "margin/round2/metrics.json").read_text())
    assert metrics["metrics"]["labelled"] == 140
