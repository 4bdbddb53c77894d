"""The workflow as a newcomer meets it: the embedded default layered wherever Snakemake starts,
`snakemake --lint` clean, ruff and snakefmt clean, and a repo that cites nothing outside itself."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, SNAKEMAKE, scheduled_jobs

BIN = Path(sys.executable).parent

# A user config that names only what it changes: every entry it runs (dataset, noise, warm-up,
# methods, learner) comes from the embedded default config/config.yaml.
PARTIAL_CONFIG = {
    "sweep": {"seeds": [7], "methods": ["margin", "moderate"], "fractions": [0.5], "learners": ["ce"]},
}


def _dry_run(command: list[str], cwd: Path) -> list[tuple[str, dict[str, str]]]:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return scheduled_jobs(result.stdout)


def _assert_default_layered_under(jobs: list[tuple[str, dict[str, str]]]) -> None:
    retrains = [wildcards for rule, wildcards in jobs if rule == "retrain"]
    # the user's sweep, over the default's named entries (digits, sym40, the ce warm-up)
    assert {(w["method"], w["fraction"], w["learner"], w["seed"]) for w in retrains} == {
        ("margin", "0.5", "ce", "7"),
        ("moderate", "0.5", "ce", "7"),
    }
    assert {(w["dataset"], w["noise"], w["warmup"]) for w in retrains} == {("digits", "sym40", "ce")}


@pytest.mark.workflow
def test_the_default_config_is_layered_under_the_users_with_directory(tmp_path):
    """`--directory DIR` (started from the repo): the default still comes from the workflow's folder."""
    workdir = tmp_path / "study"
    workdir.mkdir()
    (workdir / "mine.yaml").write_text(yaml.safe_dump(PARTIAL_CONFIG))
    command = [str(SNAKEMAKE), "--directory", str(workdir), "--configfile", str(workdir / "mine.yaml"), "--dry-run"]
    _assert_default_layered_under(_dry_run(command, cwd=REPO))


@pytest.mark.workflow
def test_the_default_config_is_layered_under_the_users_from_another_folder(tmp_path):
    """Started in a folder outside the repo with `-s path/to/Snakefile`."""
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(PARTIAL_CONFIG))
    command = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--configfile", "mine.yaml", "--cores", "1", "-n"]
    _assert_default_layered_under(_dry_run(command, cwd=tmp_path))
    assert not (tmp_path / "config").exists()  # nothing was looked up relative to the working folder


@pytest.mark.workflow
def test_replace_workflow_config_uses_the_users_config_alone(tmp_path):
    """The documented opt-out: with --replace-workflow-config the partial config is not enough."""
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(PARTIAL_CONFIG))
    command = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--configfile", "mine.yaml", "-n"]
    result = subprocess.run(
        [*command, "--replace-workflow-config"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "config key" in result.stdout + result.stderr


def test_snakemake_lint_passes():
    result = subprocess.run(
        [str(SNAKEMAKE), "--lint", "--directory", str(REPO)], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


@pytest.mark.parametrize(
    "command",
    [["ruff", "check", "."], ["ruff", "format", "--check", "."], ["snakefmt", "--check", "."]],
    ids=["ruff-check", "ruff-format", "snakefmt"],
)
def test_the_tree_is_lint_and_format_clean(command):
    tool = BIN / command[0]
    if not tool.is_file():  # installed with the test extras: `pip install -e ".[test]"`
        found = shutil.which(command[0])
        assert found, f"{command[0]} is not installed (it is in the test extras of pyproject.toml)"
        tool = Path(found)
    result = subprocess.run([str(tool), *command[1:]], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


def test_every_rule_declares_the_workflows_conda_environment():
    rules = (REPO / "workflow" / "rules").glob("*.smk")
    for path in rules:
        text = path.read_text()
        for block in re.split(r"\n(?=rule \w+:)", text)[1:]:
            name = re.match(r"rule (\w+):", block).group(1)
            if "\n    script:" in block:
                assert '\n    conda:\n        "../envs/noisyprune.yaml"' in block, f"{path.name}: rule {name}"


def test_code_and_docs_cite_nothing_outside_the_repo():
    """Design notes and method notes live in docs/; data paths into ../shared/data are allowed."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    offenders = []
    for name in tracked.splitlines():
        path = REPO / name
        if path.suffix not in {".py", ".smk", ".md", ".yaml", ".yml", ".rst", ".toml", ".sh", ""} or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if re.search(r"shared/docs|\bDESIGN\.md\b", line) and name != "tests/test_front_door.py":
                offenders.append(f"{name}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
