"""The commands of the README and the getting-started page run as written, and every documented
Snakemake command puts its targets before ``--configfile``.

The pages' fenced blocks are run in document order in a fresh folder that holds the checkout's
workflow (symbolic links to Snakefile, workflow/, config/, src/, tests/, profiles/), as a user would
run them from a checkout: a ```bash block with bash (``.venv/bin/`` is this interpreter's folder), a
```python block with this interpreter, and a ```yaml block whose first line is ``# <file>`` is
written to that file first. The commands run elsewhere are listed in RUN_ELSEWHERE, with where; any
other command a page gains is run here, so none goes untested.
"""

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, SNAKEMAKE

BIN = Path(sys.executable).parent
CHECKOUT = ("Snakefile", "workflow", "config", "src", "tests", "profiles")
# The README's run and test commands: .ci/run runs them exactly as written (tests/test_packaging.py
# holds it to that), each in a fresh virtual environment. The manual's build: tests/test_docs_site.py.
RUN_ELSEWHERE = {
    "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/snakemake --cores 2 && "
    ".venv/bin/snakemake --report results/report.html": ".ci/run",
    'bash tests/system-packages.sh && python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && '
    ".venv/bin/python -m pytest": ".ci/run",
    ".venv/bin/mkdocs build": "tests/test_docs_site.py",
}
# Pages whose every Snakemake command is held to "targets before --configfile".
DOCUMENTED = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "config" / "README.md"]
HEADERS = [*sorted((REPO / "config").rglob("*.yaml")), *sorted((REPO / "benchmarks" / "configs").glob("*.yaml"))]
CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


def fenced_blocks(page: Path) -> list[tuple[str, str]]:
    """``(language, body)`` of every fenced code block of ``page``, in order."""
    return re.findall(r"^```(\w*)\n(.*?)^```", page.read_text(encoding="utf-8"), flags=re.DOTALL | re.MULTILINE)


def runnable_steps(page: Path) -> list[tuple[str, str]]:
    """The page's steps a user runs, in order: ``("file", "<name>\\n<text>")``, ``("bash", script)``
    or ``("python", source)``; the commands of RUN_ELSEWHERE are left out."""
    steps = []
    for language, body in fenced_blocks(page):
        if language == "yaml" and (name := re.match(r"# (\S+\.ya?ml)\n", body)):
            steps.append(("file", f"{name.group(1)}\n{body}"))
        elif language == "bash":
            lines = [line for line in body.splitlines() if line.strip() and line.strip() not in RUN_ELSEWHERE]
            if lines:
                steps.append(("bash", "\n".join(lines)))
        elif language == "python":
            steps.append(("python", body))
    return steps


def run_steps(steps: list[tuple[str, str]], folder: Path) -> dict[str, str]:
    """Runs ``steps`` in ``folder`` (a checkout's workflow linked in); returns each step's stdout."""
    for name in CHECKOUT:
        if not (folder / name).exists():
            (folder / name).symlink_to(REPO / name)
    outputs = {}
    for kind, text in steps:
        if kind == "file":
            name, content = text.split("\n", 1)
            (folder / name).write_text(content)
            continue
        if kind == "bash":
            command = ["bash", "-euo", "pipefail", "-c", text.replace(".venv/bin/", f"{BIN}/")]
        else:
            command = [sys.executable, "-c", text]
        result = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{text}\n--- failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        outputs[text] = result.stdout
    return outputs


def test_the_commands_run_elsewhere_are_run_there():
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    for command, where in RUN_ELSEWHERE.items():
        if where == ".ci/run":
            assert command in ci, command
        else:
            assert command.removeprefix(".venv/bin/").split()[0] in (REPO / where).read_text()
    readme = {line.strip() for _, body in fenced_blocks(REPO / "README.md") for line in body.splitlines()}
    assert set(RUN_ELSEWHERE) <= readme  # none of them is stale


@pytest.mark.workflow
def test_the_readme_commands_run_as_written(tmp_path):
    """The own-data examples: the workflow on an .npz without a test split (its kept lists), the
    command line's kept list and the API's, in one fresh folder."""
    steps = runnable_steps(REPO / "README.md")
    assert [kind for kind, _ in steps] == ["bash", "file", "bash", "bash", "python"]
    outputs = run_steps(steps, tmp_path)
    kept = sorted(tmp_path.glob("results/mine/collected/seed0/select/ce/*/f0.5/kept.txt"))
    assert [path.parts[-3] for path in kept] == ["prune4rel", "uniform"]
    rows = [line for line in kept[0].read_text().splitlines() if not line.startswith("#")]
    assert len(rows) == 240  # half of the 480 training rows (the loader held out 20% of 600)
    runs = pd.read_csv(tmp_path / "results" / "tables" / "runs.csv")
    assert {"ce", "elr"} <= set(runs["learner"])
    assert len(pd.read_csv(tmp_path / "kept.csv")) == 60
    api_output = outputs[steps[-1][1]]
    assert "rank" in api_output and "sample_id" in api_output


@pytest.mark.workflow
def test_the_getting_started_commands_run_as_written(tmp_path):
    """A first study of one's own, then the same study on a tiny slice (smoke layer)."""
    steps = runnable_steps(REPO / "docs" / "getting-started.md")
    assert [kind for kind, _ in steps] == ["file", "bash", "bash"]
    run_steps(steps[:2], tmp_path)
    runs = pd.read_csv(tmp_path / "results" / "tables" / "runs.csv")
    assert set(runs["method"]) == {"uniform", "prune4rel"} and set(runs["seed"]) == {0}
    run_steps(steps[2:], tmp_path)
    assert (tmp_path / "smoke.yaml").is_file() and not (tmp_path / "results").exists()


def snakemake_commands(text: str) -> list[str]:
    """Every Snakemake command line in ``text`` (continuation lines joined), one per ``&&`` part."""
    text = re.sub(r"\s*\\\n#?\s*", " ", text)
    commands = []
    for line in text.splitlines():
        for part in line.split("&&"):
            if match := re.search(r"(?:^|[\s`(])((?:\.venv/bin/)?snakemake\s.*)", part):
                commands.append(match.group(1).split("`")[0].strip())
    return commands


def config_file_arguments_misplaced(command: str) -> list[str]:
    """The words ``--configfile`` swallows in ``command`` that do not name a config file."""
    words = command.split()
    misplaced = []
    for i, word in enumerate(words):
        if word == "--configfile":
            for argument in words[i + 1 :]:
                if argument.startswith("-") or argument.startswith("#") or argument in ("(one", "(without"):
                    break
                if not argument.endswith(CONFIG_SUFFIXES) and argument not in ("FILE", "…", "...", "[more.yaml", "…]"):
                    misplaced.append(argument)
    return misplaced


def test_the_misplaced_target_check_finds_a_target_after_configfile():
    assert config_file_arguments_misplaced(".venv/bin/snakemake --cores 2 --configfile my.yaml export") == ["export"]
    assert config_file_arguments_misplaced(".venv/bin/snakemake --cores 2 export --configfile a.yaml b.yaml") == []
    assert snakemake_commands("x `snakemake --configfile a.yaml \\\n#   b.yaml all` y") == [
        "snakemake --configfile a.yaml b.yaml all"
    ]


@pytest.mark.parametrize("path", DOCUMENTED + HEADERS, ids=lambda p: str(p.relative_to(REPO)))
def test_documented_commands_put_targets_before_configfile(path):
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".yaml":  # the header comment only
        text = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    commands = [c for c in snakemake_commands(text) if "# wrong:" not in c]  # troubleshooting's counter-example
    wrong = {c: m for c in commands if (m := config_file_arguments_misplaced(c))}
    assert not wrong, f"targets after --configfile (it takes them as config files): {wrong}"


def test_commands_in_the_manual_use_the_projects_environment():
    """Runnable blocks call the virtual environment's snakemake, never a bare one from the PATH."""
    bare = []
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for language, body in fenced_blocks(page):
            if language == "bash":
                bare += [f"{page.name}: {c}" for c in snakemake_commands(body) if not c.startswith(".venv/bin/")]
    assert not bare


def test_snakemake_reads_a_target_after_configfile_as_a_config_file(tmp_path):
    """The quirk docs/troubleshooting.md explains: Snakemake opens every word after --configfile as
    a config file before it reads the workflow, so no check of ours can intercept it. If a Snakemake
    release changes this, this test fails and the page (and a guard) are due."""
    (tmp_path / "my.yaml").write_text("sweep: {seeds: [0]}\n")
    command = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--cores", "1", "-n", "--configfile", "my.yaml", "export"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "No such file or directory: 'export'" in result.stdout + result.stderr
    assert "load_configfile" in result.stdout + result.stderr  # while parsing its command line
