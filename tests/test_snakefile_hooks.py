"""The Snakefile reads as declarations; its imperative parts are noisyprune.snakefile_hooks (run by
every workflow test; here what a run does not show)."""

import os
import re
from types import SimpleNamespace

import pytest
from conftest import REPO

from noisyprune import snakefile_hooks
from noisyprune.errors import ConfigError
from noisyprune.written import ENV as WRITTEN

# Each statement the Snakefile may hold before `rule all` (comments and blank lines aside).
DECLARATIONS = [
    r"import (os|sys)",
    r"from snakemake\.utils import min_version",
    r"min_version\(\"[\d.]+\"\)",
    r"sys\.path\.insert\(0, os\.path\.join\(workflow\.basedir, \"src\"\)\)",
    r"from noisyprune import snakefile_hooks",
    r"configfile: snakefile_hooks\.prepare\(workflow\)",
    r"include: \"workflow/rules/\w+\.smk\"",
    r"report: \w+",
    r"(onstart|onsuccess|onerror):",
    r"    snakefile_hooks\.\w+\([\w, ]*\)",  # a hook's body: one call
]


def test_the_snakefile_holds_declarations_and_one_line_hooks_only():
    lines = [line for line in (REPO / "Snakefile").read_text().splitlines() if line.strip()]
    statements = [line for line in lines if not line.lstrip().startswith("#")]
    before_all = statements[: statements.index("rule all:")]
    stray = [line for line in before_all if not any(re.fullmatch(p, line) for p in DECLARATIONS)]
    assert not stray, f"imperative code in the Snakefile (move it to noisyprune.snakefile_hooks): {stray}"
    hooks = [i for i, line in enumerate(before_all) if re.fullmatch(r"(onstart|onsuccess|onerror):", line)]
    assert len(hooks) == 3
    for i in hooks:  # exactly one call under each hook
        assert before_all[i + 1].startswith("    ") and (i + 2 == len(before_all) or not before_all[i + 2][0].isspace())


def test_the_jobs_environment_puts_the_workflows_src_first_and_records_written_files_here(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    monkeypatch.chdir(tmp_path)
    environment = snakefile_hooks.job_environment(SimpleNamespace(basedir="/the/workflow"))
    assert environment["PYTHONPATH"].split(os.pathsep) == ["/the/workflow/src", "/elsewhere"]
    assert environment[WRITTEN] == str(tmp_path / ".snakemake" / "noisyprune" / "written")
    monkeypatch.delenv("PYTHONPATH")
    assert snakefile_hooks.job_environment(SimpleNamespace(basedir="/w"))["PYTHONPATH"] == "/w/src"


def test_jobs_start_with_idle_openmp_threads_sleeping_unless_the_user_chose(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert snakefile_hooks.job_environment(SimpleNamespace(basedir="/w"))["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert snakefile_hooks.job_environment(SimpleNamespace(basedir="/w"))["OMP_WAIT_POLICY"] == "ACTIVE"


def test_preparing_checks_every_config_file_and_returns_the_default(tmp_path, monkeypatch):
    """A key written twice in a --configfile is refused at parse time, naming file and line."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", "")  # prepare() sets the jobs' environment: restored afterwards
    monkeypatch.setenv(WRITTEN, "")
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    good = tmp_path / "good.yaml"
    good.write_text("threads: 2\n")
    workflow = SimpleNamespace(basedir=str(REPO), overwrite_configfiles=[str(good)])
    assert snakefile_hooks.prepare(workflow) == str(REPO / "config" / "config.yaml")
    assert os.environ["PYTHONPATH"].split(os.pathsep)[0] == str(REPO / "src")
    twice = tmp_path / "twice.yaml"
    twice.write_text("threads: 2\nthreads: 3\n")
    with pytest.raises(ConfigError, match=r"twice\.yaml.*(line )?2"):
        snakefile_hooks.prepare(SimpleNamespace(basedir=str(REPO), overwrite_configfiles=[str(twice)]))
