"""The Snakemake internals noisyprune relies on (noisyprune.snakemake_internals) still exist and still
behave so in the installed Snakemake: a Snakemake upgrade that renames or changes one fails here,
naming it, instead of deep in a run."""

from __future__ import annotations

import inspect
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import snakemake
from conftest import REPO, SNAKEMAKE

from noisyprune import snakemake_internals as internals

VERSION = f"Snakemake {snakemake.__version__}"

# A workflow of one job that reads every internal through noisyprune.snakemake_internals: when it is
# parsed, in onstart, and (the log events and messages seen during the run) in onsuccess.
PROBE = """
import json
import logging
import signal

from noisyprune import snakemake_internals as internals

PARSED = {
    "main": internals.is_main_process(workflow),
    "local": internals.runs_locally(workflow),
    "configs": internals.extra_config_files(workflow),
    "folder": internals.workflow_folder(workflow),
}
SEEN = {"events": set(), "messages": set()}


class Recorder(logging.Handler):
    def emit(self, record):
        SEEN["events"].add(str(getattr(record, "event", "")))
        SEEN["messages"].add(str(record.msg))


rule copy:
    input:
        "in.txt",
    output:
        "out.txt",
    shell:
        "cp {input} {output}"


onstart:
    PARSED["pending"] = [list(job) for job in internals.pending_jobs(workflow)]
    PARSED["sigterm"] = internals.scheduler_handles_sigterm(signal.getsignal(signal.SIGTERM))
    internals.snakemake_logger().addHandler(Recorder())


onsuccess:
    PARSED["events"] = sorted(SEEN["events"])
    PARSED["select_jobs"] = internals.SELECT_JOBS in SEEN["messages"]
    with open("facts.json", "w") as handle:
        json.dump(PARSED, handle)
"""


def test_the_workflow_properties_read_are_properties_of_snakemakes_workflow():
    import snakemake.api  # noqa: F401 - snakemake.workflow imports in circle unless loaded as Snakemake does
    from snakemake.workflow import Workflow

    for name in internals.WORKFLOW_PROPERTIES:
        found = inspect.getattr_static(Workflow, name, None)
        assert isinstance(found, property), f"{VERSION}: Workflow.{name} is gone or no longer a property ({found!r})"


def test_the_dag_lists_the_jobs_to_run_and_each_job_its_files():
    from snakemake.dag import DAG
    from snakemake.jobs import Job

    signature = inspect.signature(DAG.needrun_jobs)
    required = [p.name for p in list(signature.parameters.values())[1:] if p.default is inspect.Parameter.empty]
    assert not required, f"{VERSION}: DAG.needrun_jobs now requires {required}"
    for name in ("input", "output"):
        assert isinstance(inspect.getattr_static(Job, name, None), property), f"{VERSION}: Job.{name} changed"


def test_the_logger_and_its_per_job_events_exist():
    assert isinstance(internals.snakemake_logger(), logging.Logger), VERSION
    events = internals.per_job_events()  # LogEvent[name] raises KeyError naming a renamed member
    assert {str(event) for event in events} == {name.lower() for name in internals.PER_JOB_EVENTS}, VERSION


def test_the_benchmark_file_has_the_columns_the_job_server_rewrites():
    expected = {*internals.BENCHMARK_USAGE, *internals.BENCHMARK_UNKNOWN, internals.BENCHMARK_LOAD}
    missing = expected - set(internals.benchmark_columns())
    assert not missing, f"{VERSION}: benchmark files lost the columns {sorted(missing)}"


def test_a_local_run_shows_every_internal_as_noisyprune_reads_it(tmp_path):
    """A real run of a one-job workflow: the workflow's properties when parsed, the DAG's pending
    jobs and Snakemake's own SIGTERM handler in onstart, the per-job log events and the scheduler's
    message during the run."""
    (tmp_path / "Snakefile").write_text(PROBE)
    (tmp_path / "in.txt").write_text("x")
    (tmp_path / "extra.yaml").write_text("key: 1\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    command = [str(SNAKEMAKE), "--cores", "1", "--configfile", "extra.yaml"]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{VERSION}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    facts = json.loads((tmp_path / "facts.json").read_text())
    assert facts["main"] is True and facts["local"] is True, (VERSION, facts)
    assert [Path(path).resolve() for path in facts["configs"]] == [tmp_path / "extra.yaml"], (VERSION, facts)
    assert Path(facts["folder"]).resolve() == tmp_path.resolve(), (VERSION, facts)
    assert facts["pending"] == [[["in.txt"], ["out.txt"]]], (VERSION, facts)
    assert facts["sigterm"] is True, f"{VERSION}: SIGTERM's handler in onstart is not the scheduler's"
    missing = {name.lower() for name in internals.PER_JOB_EVENTS} - set(facts["events"])
    assert not missing, f"{VERSION}: a local run logs no {sorted(missing)} events ({facts['events']})"
    assert facts["select_jobs"], f"{VERSION}: the scheduler no longer logs {internals.SELECT_JOBS!r}"


def test_job_processes_import_the_internals_without_snakemake():
    """Job scripts import the job server (which reads the benchmark columns here) and the console
    before deciding where to run: neither may load Snakemake."""
    code = "import sys, noisyprune.jobserver, noisyprune.console; print('snakemake' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
