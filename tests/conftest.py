"""Shared fixtures: repository paths, config loading and a helper that runs Snakemake."""

from __future__ import annotations

import copy
import logging
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
TINY_CONFIG = REPO / "tests" / "configs" / "tiny.yaml"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
SHARED_DATA = REPO.parent / "shared" / "data"
# CI has ../shared beside the checkout: there the real-files tests must run, not skip.
REQUIRE_SHARED = os.environ.get("CI") == "true"


def load_yaml(path: Path) -> dict:
    """Read a YAML file into a dict."""
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The tiny workflow run once to completion: ``(workdir, config, console)``, the console being
    the run's stdout and stderr as a user sees them (``NOISYPRUNE_VERBOSE`` unset)."""
    workdir = tmp_path_factory.mktemp("tiny_run")
    config = load_yaml(TINY_CONFIG)
    env = {key: value for key, value in os.environ.items() if key != "NOISYPRUNE_VERBOSE"}
    result = run_snakemake(workdir, config, "--cores", "2", env=env)
    return workdir, config, result.stdout + result.stderr


@pytest.fixture(scope="session")
def finished_run(tiny_run):
    """The tiny workflow run once to completion (shared by the workflow and report tests); tests
    must not modify its files — copy the directory first."""
    workdir, config, _ = tiny_run
    return workdir, config


def shared_cifar10_available() -> bool:
    """Whether ``../shared/data`` holds the CIFAR-10 images' script and the CIFAR-10N label file."""
    return (SHARED_DATA / "cifar-10" / "make_cifar10.py").is_file() and (
        SHARED_DATA / "cifar-10-100n" / "CIFAR-10_human.pt"
    ).is_file()


@pytest.fixture(scope="session")
def real_cifar10_root(tmp_path_factory) -> Path:
    """The shared CIFAR-10 images written in the official python layout by the script beside them
    (about 25 s), as a user prepares them (docs/components.md, "CIFAR-10N offline"); written once per session
    for tests/test_cifar.py and the smoke run of config/cifar10n.yaml (tests/test_paper_smoke.py).
    Skips without ../shared/data, and fails instead under CI."""
    script = SHARED_DATA / "cifar-10" / "make_cifar10.py"
    if not shared_cifar10_available():
        if REQUIRE_SHARED:
            pytest.fail(f"{script} or the CIFAR-10N label file missing beside the checkout")
        pytest.skip("needs ../shared/data/cifar-10 and cifar-10-100n")
    root = tmp_path_factory.mktemp("cifar")
    subprocess.run([sys.executable, str(script), str(root)], check=True, capture_output=True)
    return root


def file_list_entry(root: Path, **extra) -> dict:
    """A ``file_list`` dataset entry for the lists ``train.txt`` and ``test.txt`` under ``root``
    (8-pixel images, the MLP), with ``extra`` keys added or replaced."""
    entry = {"loader": "file_list", "root": str(root), "train_list": "train.txt", "test_list": "test.txt"}
    return {**entry, "image_size": 8, "model": "mlp", **extra}


@pytest.fixture
def tiny_config() -> dict:
    """A fresh (mutable) copy of the tiny test config, not yet validated."""
    return copy.deepcopy(load_yaml(TINY_CONFIG))


def snakemake_command(
    workdir: Path, config_path: Path | Sequence[Path], *args: str, snakefile: Path = REPO / "Snakefile"
) -> list[str]:
    """The command line that runs the workflow of ``snakefile`` in ``workdir`` with ``config_path``
    (one config file, or several: a later one overrides an earlier one), then ``args``."""
    config_files = [config_path] if isinstance(config_path, str | Path) else list(config_path)
    return [
        str(SNAKEMAKE),
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
        "--configfile",
        *map(str, config_files),
        *args,
    ]


def run_snakemake(
    workdir: Path,
    config: dict,
    *args: str,
    check: bool = True,
    config_name: str = "config.yaml",
    env: dict | None = None,
    snakefile: Path = REPO / "Snakefile",
) -> subprocess.CompletedProcess:
    """Run the workflow of ``snakefile`` in ``workdir`` with ``config`` (written to
    ``workdir/<config_name>``); ``env`` replaces the environment of the Snakemake process."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / config_name
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    command = snakemake_command(workdir, config_path, *args, snakefile=snakefile)
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
        )
    return result


def scheduled_jobs(dry_run_output: str) -> list[tuple[str, dict[str, str]]]:
    """Parse a dry-run's job blocks into ``(rule, wildcards)`` pairs."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", "\n" + dry_run_output):
        header = re.match(r"\s*(?:local)?rule (\w+):", block)
        if not header:
            continue
        wildcards = {}
        found = re.search(r"^\s+wildcards: (.+)$", block, flags=re.MULTILINE)
        if found:
            wildcards = dict(item.split("=", 1) for item in found.group(1).split(", "))
        jobs.append((header.group(1), wildcards))
    return jobs


@pytest.fixture(autouse=True)
def _restore_root_logging():
    """Undo what a test's call of ``noisyprune.logs.setup_logging`` (``basicConfig(force=True)``, the
    root at INFO, a stderr handler) did to the root logger, so that later tests capture as alone."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
