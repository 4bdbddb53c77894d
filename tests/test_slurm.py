"""The tiny workflow on a real Slurm cluster (one node on localhost, fake GPUs) through
snakemake-executor-plugin-slurm and a profile derived from profiles/slurm.

Needs root and Debian's slurm-wlm and munge (see tests/slurm/cluster.py); skipped otherwise, unless
NOISYPRUNE_REQUIRE_SLURM=1 (set by .ci/run), which turns a missing cluster into a failure. Every
check reads slurmctld's own job records, so jobs that ran anywhere but on Slurm cannot pass.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import re
import subprocess
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, TINY_CONFIG, load_yaml, snakemake_command
from slurm.cluster import LocalSlurm, unavailable_reason

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

SLURM_RULES = {"noise", "warmup", "extract", "detect", "select", "retrain"}
GPU_RULES = {"warmup", "extract", "retrain"}  # with `device: auto`, the rules ask for gpu: 1
# Far below what a Python process holds: Slurm kills the job (OverMemoryKill), as a cluster's
# cgroup would. The fix is the config edit a user would make.
STARVED_MB = 20


def _test_config() -> dict:
    """The tiny config trimmed to 2 methods and 1 learner (10 Slurm jobs), asking for GPUs."""
    config = load_yaml(TINY_CONFIG)
    config["device"] = "auto"  # GPU rules request gpu: 1; torch finds no CUDA and uses the CPU
    config["sweep"]["methods"] = ["uniform", "small_loss"]  # needs no warm-up / the warm-up's features
    config["sweep"]["learners"] = ["ce"]
    # Small requests that fit any CI machine; everything but the memory limit is the default.
    config["resources"] = {rule: {"mem_mb": 2500, "runtime": 10} for rule in SLURM_RULES}
    return config


def _test_profile(directory: Path) -> Path:
    """profiles/slurm with what a cluster without accounting and a test in a hurry need."""
    profile = load_yaml(REPO / "profiles" / "slurm" / "config.yaml")
    profile.update(
        {
            "slurm-status-command": "squeue",  # no slurmdbd: sacct has nothing to report
            "slurm-init-seconds-before-status-checks": 2,
            "seconds-between-status-checks": 2,  # the default 10 s makes every job of the chain wait
            "slurm-keep-successful-logs": True,  # for the failure message if something goes wrong
            "latency-wait": 5,
            "jobs": 4,
        }
    )
    directory.mkdir()
    (directory / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return directory


def _snakemake(workdir: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    """Run Snakemake from ``workdir`` (the plugin puts its logs under the current directory)."""
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    command = snakemake_command(workdir, config_path, *args)
    return subprocess.run(command, capture_output=True, text=True, cwd=workdir, check=False)


def _rules_in_log(result: subprocess.CompletedProcess) -> tuple[set[str], set[str]]:
    """Rules of the jobs a (non-dry) run started: (submitted to the cluster, run locally)."""
    remote, local = set(), set()
    for is_local, rule in re.findall(r"^(local)?rule (\w+):", result.stdout + result.stderr, flags=re.MULTILINE):
        (local if is_local else remote).add(rule)
    return remote, local


def _rule(job: dict[str, str]) -> str:
    """The rule of a Slurm job, from the comment the plugin gives it (rule_<rule>_wildcards_…)."""
    found = re.match(r"rule_([A-Za-z0-9]+)", job.get("Comment", ""))
    return found.group(1) if found else ""


def _outcome(result: subprocess.CompletedProcess, cluster: LocalSlurm) -> str:
    return (
        f"rc={result.returncode}\n--- stdout\n{result.stdout[-3000:]}\n--- stderr\n"
        f"{result.stderr[-8000:]}\n--- daemons\n{cluster.logs(20)}"
    )


@pytest.fixture(scope="module")
def cluster():
    """A running one-node cluster; stopped (by PID) when the module's tests are done."""
    reason = unavailable_reason()
    if reason is None and importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        reason = "snakemake-executor-plugin-slurm is not installed"
    if reason:
        if os.environ.get("NOISYPRUNE_REQUIRE_SLURM") == "1":
            pytest.fail(f"NOISYPRUNE_REQUIRE_SLURM=1 but no Slurm test cluster can start: {reason}")
        pytest.skip(f"no Slurm test cluster: {reason}")
    with LocalSlurm(gpus=2) as running:
        yield running


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    """Two Slurm runs in one directory: with `detect` starved of memory, then with it fixed."""
    workdir = tmp_path_factory.mktemp("slurm_run")
    profile = _test_profile(tmp_path_factory.mktemp("slurm") / "profile")
    config = _test_config()
    starved = copy.deepcopy(config)
    starved["resources"]["detect"]["mem_mb"] = STARVED_MB
    args = ("--profile", str(profile), "--workflow-profile", "none")
    with pytest.MonkeyPatch.context() as patch:
        # The profile's placeholders; jobs inherit SLURM_CONF too (the plugin submits --export=ALL).
        patch.setenv("SLURM_CONF", cluster.env["SLURM_CONF"])
        patch.setenv("NOISYPRUNE_SLURM_PARTITION", cluster.partition)
        patch.setenv("NOISYPRUNE_SLURM_GPU_PARTITION", cluster.partition)
        patch.setenv("NOISYPRUNE_SLURM_ACCOUNT", "")  # no accounting: submit without -A
        # A dry run runs every job "locally"; it counts the jobs, the real runs say which are local.
        dry_run = _snakemake(workdir, config, *args, "--dry-run")
        assert dry_run.returncode == 0, _outcome(dry_run, cluster)
        planned = Counter(re.findall(r"^(?:local)?rule (\w+):", dry_run.stdout, flags=re.MULTILINE))
        first = _snakemake(workdir, starved, *args)
        first_jobs = cluster.jobs()
        aggregated_after_first = (workdir / "results/tables/runs.parquet").exists()
        second = _snakemake(workdir, config, *args)
        second_jobs = [job for job in cluster.jobs() if job["JobId"] not in {j["JobId"] for j in first_jobs}]
    for name, result in (("first", first), ("second", second)):  # kept by pytest for a post-mortem
        (workdir / f"{name}.log").write_text(result.stdout + result.stderr)
    local = _rules_in_log(first)[1] | _rules_in_log(second)[1]
    return {
        "cluster": cluster,
        "workdir": workdir,
        "planned": planned,
        "local": local,
        "first": first,
        "first_jobs": first_jobs,
        "aggregated_after_first": aggregated_after_first,
        "second": second,
        "second_jobs": second_jobs,
    }


def test_every_planned_job_ran_as_a_slurm_job_and_local_rules_did_not(runs):
    first = runs["first"]
    assert first.returncode != 0, _outcome(first, runs["cluster"])  # detect failed
    jobs = runs["first_jobs"]
    # Every job Snakemake planned is a finished job in slurmctld's records (detect apart: it failed,
    # below), except the light local rules, which ran on the submit host and never reached Slurm.
    assert {"aggregate", "all"} <= runs["local"], runs["local"]
    remote = Counter({rule: n for rule, n in runs["planned"].items() if rule not in runs["local"]})
    assert set(remote) == SLURM_RULES, runs["planned"]
    completed = Counter(_rule(job) for job in jobs if job["JobState"] == "COMPLETED")
    assert completed == remote - Counter(detect=1), _outcome(first, runs["cluster"])
    assert not any(_rule(job) in runs["local"] for job in jobs + runs["second_jobs"])
    assert {job["Partition"] for job in jobs} == {runs["cluster"].partition}
    # The config's requests reached sbatch (--mem, --time) for the jobs that were not starved.
    for job in jobs:
        if _rule(job) != "detect":
            assert job["MinMemoryNode"] == "2500M" and job["TimeLimit"] == "00:10:00", job


def test_gpu_rules_requested_a_gpu_from_slurm_and_the_others_did_not(runs):
    for job in runs["first_jobs"] + runs["second_jobs"]:
        # `gpu: 1` became `sbatch --gpus=1`, which slurmctld records as a per-job GPU request.
        requested = job.get("TresPerJob", "") + job.get("TresPerNode", "")
        if _rule(job) in GPU_RULES:
            assert requested == "gres:gpu:1", job
        else:
            assert "gpu" not in requested, job


def test_the_starved_job_failed_on_slurm_and_was_retried_once(runs):
    detect = [job for job in runs["first_jobs"] if _rule(job) == "detect"]
    # retries: 1 in profiles/slurm → two attempts, both killed by Slurm for exceeding --mem.
    assert [job["JobState"] for job in detect] == ["FAILED", "FAILED"], detect
    for job in detect:
        assert job["MinMemoryNode"] == f"{STARVED_MB}M", job
        # The job's Slurm log (kept for failed jobs) has slurmstepd's reason for killing it.
        assert "Exceeded job memory limit" in Path(job["StdOut"]).read_text(), job
    assert "Error in rule detect" in runs["first"].stderr
    assert not runs["aggregated_after_first"]  # aggregate waited for detect


def test_after_the_fix_only_the_failed_job_is_resubmitted(runs):
    second = runs["second"]
    assert second.returncode == 0, _outcome(second, runs["cluster"])
    jobs = runs["second_jobs"]
    assert [(_rule(job), job["JobState"]) for job in jobs] == [("detect", "COMPLETED")], jobs


def test_the_slurm_run_produced_the_tables(runs):
    workdir = runs["workdir"]
    table = pd.read_parquet(workdir / "results/tables/runs.parquet")
    assert sorted(zip(table["method"], table["learner"])) == sorted(
        (method, "ce") for method in ("uniform", "small_loss", "full")
    )
    assert table["test_acc_last"].between(0, 1).all()
    assert (workdir / "results/digits/sym40/seed0/warmup/ce/detection.json").is_file()  # the fixed job
