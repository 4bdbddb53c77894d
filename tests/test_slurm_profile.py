"""profiles/slurm without a cluster: a dry run shows what each job would ask Slurm for.

The real submissions are tested in test_slurm.py (root and Slurm needed); this one runs anywhere.
"""

import re

import pytest
from conftest import REPO, run_snakemake

pytestmark = pytest.mark.workflow

SLURM_ENV = {
    "NOISYPRUNE_SLURM_PARTITION": "cpu-part",
    "NOISYPRUNE_SLURM_GPU_PARTITION": "gpu-part",
    "NOISYPRUNE_SLURM_ACCOUNT": "proj-1",
}


def job_resources(dry_run_output: str) -> dict[str, list[dict[str, str]]]:
    """``rule → [resources of each job]`` from a dry run's job blocks."""
    found: dict[str, list[dict[str, str]]] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", "\n" + dry_run_output):
        header = re.match(r"\s*(?:local)?rule (\w+):", block)
        resources = re.search(r"^\s+resources: (.+)$", block, flags=re.MULTILINE)
        if header and resources:
            pairs = (item.split("=", 1) for item in resources.group(1).split(", "))
            found.setdefault(header.group(1), []).append(dict(pairs))
    return found


def slurm_dry_run(config: dict, workdir, monkeypatch) -> dict[str, list[dict[str, str]]]:
    """What each job of ``config`` would ask Slurm for through profiles/slurm (``rule → [resources]``)."""
    for name, value in SLURM_ENV.items():
        monkeypatch.setenv(name, value)
    result = run_snakemake(
        workdir, config, "--dry-run", "--profile", str(REPO / "profiles" / "slurm"), "--workflow-profile", "none"
    )
    return job_resources(result.stdout)


def with_a_torch_selection(config: dict, device: str) -> dict:
    """``config`` on ``device``, sweeping uniform and a prune4rel that selects with torch."""
    config["device"] = device
    config["methods"]["prune4rel_torch"] = {"pruner": "prune4rel", "tau": 0.9, "engine": "torch"}
    config["sweep"]["methods"] = ["uniform", "prune4rel_torch"]
    return config


def test_slurm_profile_maps_rules_to_partitions_gpus_and_the_configs_requests(tiny_config, tmp_path, monkeypatch):
    tiny_config["device"] = "auto"  # GPU rules ask for a GPU (a dry run needs none)
    tiny_config["resources"] = {"retrain": {"runtime": 1440}}
    jobs = slurm_dry_run(tiny_config, tmp_path, monkeypatch)
    assert {"noise", "warmup", "extract", "detect", "select", "retrain"} <= set(jobs)
    for rule in ("warmup", "extract", "retrain"):
        for resources in jobs[rule]:
            assert resources["slurm_partition"] == "gpu-part" and resources["gpu"] == "1", (rule, resources)
    for rule in ("noise", "detect", "select"):
        for resources in jobs[rule]:
            assert resources["slurm_partition"] == "cpu-part" and resources.get("gpu", "0") == "0", (rule, resources)
    assert all(r["slurm_account"] == "proj-1" for rule_jobs in jobs.values() for r in rule_jobs)
    # mem_mb/runtime come from the config's `resources`: defaults, and the override for retrain.
    assert {(r["mem_mb"], r["runtime"]) for r in jobs["retrain"]} == {("16000", "1440")}
    assert {(r["mem_mb"], r["runtime"]) for r in jobs["warmup"]} == {("16000", "240")}
    assert {(r["mem_mb"], r["runtime"]) for r in jobs["noise"]} == {("4000", "15")}


def test_with_device_cpu_no_job_is_sent_to_the_gpu_partition(tiny_config, tmp_path, monkeypatch):
    jobs = slurm_dry_run(with_a_torch_selection(tiny_config, "cpu"), tmp_path, monkeypatch)
    assert {"warmup", "extract", "select", "retrain"} <= set(jobs)
    for rule, rule_jobs in jobs.items():
        for resources in rule_jobs:
            assert resources["slurm_partition"] == "cpu-part" and resources.get("gpu", "0") == "0", (rule, resources)


def test_a_torch_engine_selection_asks_for_a_gpu_and_its_partition(tiny_config, tmp_path, monkeypatch):
    jobs = slurm_dry_run(with_a_torch_selection(tiny_config, "auto"), tmp_path, monkeypatch)
    assert {r["slurm_partition"]: r.get("gpu", "0") for r in jobs["select"]} == {"gpu-part": "1", "cpu-part": "0"}


def test_the_tiny_test_config_asks_slurm_for_tiny_resources(tiny_config, tmp_path, monkeypatch):
    jobs = slurm_dry_run(tiny_config, tmp_path, monkeypatch)
    for rule in ("noise", "warmup", "extract", "detect", "select", "retrain"):
        for resources in jobs[rule]:
            assert int(resources["mem_mb"]) <= 2000 and int(resources["runtime"]) <= 15, (rule, resources)
