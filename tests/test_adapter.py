"""The stage interface (Run, Compute) and the one adapter from Snakemake's script object to a stage call."""

import pickle
import pickletools
import re
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest
from snakemake.iocontainers import InputFiles, OutputFiles, Params, Wildcards

from noisyprune import jobserver
from noisyprune.config import sweep_runs
from noisyprune.stages import adapter
from noisyprune.stages.interface import Compute, Run

ROOT = Path(__file__).resolve().parents[1]
CONFIG = {
    "device": "cpu",
    "inference_batch_size": 256,
    "precision": "fp32",
    "channels_last": False,
    "compile": False,
    "resume_every": 3,
    "unrelated": "ignored",
}


def select_job(log):
    """What Snakemake hands the select rule's script for one job (its own containers)."""
    outputs = OutputFiles(["s/subset.parquet", "s/timing.json"])
    outputs._set_name("subset", 0)
    outputs._set_name("timing", 1)
    return SimpleNamespace(
        rule="select",
        wildcards=Wildcards(
            fromdict={
                "dataset": "digits",
                "noise": "sym40",
                "seed": "3",
                "warmup": "ce",
                "method": "small_loss",
                "fraction": "0.5",
            }
        ),
        input=InputFiles(fromdict={"labels": "l.parquet", "features": "f.parquet"}),
        output=outputs,
        params=Params(fromdict={"method_entry": {"pruner": "small_loss"}, "code_hash": "abc"}),
        threads=2,
        log=[str(log)],
        config=CONFIG,
    )


def test_the_adapter_reads_the_snakemake_object_into_the_exact_stage_call(tmp_path):
    call = adapter.stage_call(select_job(tmp_path / "select.log"))
    assert call == {
        "stage": "noisyprune.stages.select:run_select_stage",
        "run": {
            "dataset": "digits",
            "noise": "sym40",
            "seed": 3,  # an integer, not the wildcard's text
            "warmup": "ce",
            "method": "small_loss",
            "fraction": "0.5",
        },
        "inputs": {"labels": "l.parquet", "features": "f.parquet"},
        "outputs": {"subset": "s/subset.parquet", "timing": "s/timing.json"},
        "params": {"method_entry": {"pruner": "small_loss"}, "code_hash": "abc"},
        "compute": {
            "device": "cpu",
            "threads": 2,
            "inference_batch_size": 256,
            "execution": {"precision": "fp32", "channels_last": False, "compile": False},
            "resume_every": 3,
        },
        "plugins": [],  # the config's plugin modules, imported where the stage runs
    }
    # what the job server receives: plain data only, so it never imports a package class to unpickle it
    payload = pickle.dumps(jobserver.plain(call))
    assert pickle.loads(payload) == call
    assert not [op.name for op, _, _ in pickletools.genops(payload) if "GLOBAL" in op.name]  # no class to import


def recording_stage(monkeypatch, signature):
    """A stage module ``fake_stages`` whose ``stage`` has ``signature`` and records its keywords."""
    calls = []
    module = types.ModuleType("fake_stages")
    exec(f"def stage({signature}):\n    calls.append(dict(locals()))", {"calls": calls}, module.__dict__)
    monkeypatch.setitem(sys.modules, "fake_stages", module)
    return calls


def test_a_rule_job_runs_its_stage_with_the_arguments_it_names(tmp_path, monkeypatch):
    monkeypatch.delenv(jobserver.ENV, raising=False)  # in this process, as without a job server
    monkeypatch.setitem(adapter.STAGES, "select", "fake_stages:stage")
    calls = recording_stage(monkeypatch, "*, run, inputs, outputs, method_entry")
    adapter.run_rule(select_job(tmp_path / "select.log"))
    assert calls == [
        {
            "run": Run("digits", "sym40", 3, warmup="ce", method="small_loss", fraction="0.5"),
            "inputs": {"labels": "l.parquet", "features": "f.parquet"},
            "outputs": {"subset": "s/subset.parquet", "timing": "s/timing.json"},
            "method_entry": {"pruner": "small_loss"},
        }
    ]  # no compute (not named), no code hash (a rerun trigger the stage does not record)
    calls = recording_stage(monkeypatch, "*, compute, code_hash, method_entry")
    adapter.run_rule(select_job(tmp_path / "select.log"))
    assert calls[0]["compute"] == Compute(
        "cpu", 2, 256, {"precision": "fp32", "channels_last": False, "compile": False}, 3
    )
    assert calls[0]["code_hash"] == "abc"


def test_a_param_the_stage_does_not_take_is_refused_naming_it(tmp_path, monkeypatch):
    monkeypatch.setitem(adapter.STAGES, "select", "fake_stages:stage")
    recording_stage(monkeypatch, "*, run, inputs, outputs")
    call = adapter.stage_call(select_job(tmp_path / "select.log"))
    with pytest.raises(TypeError, match=r"takes no keyword \['method_entry'\]"):
        adapter.call_stage(**call)


def test_a_rule_without_a_stage_or_with_a_reserved_param_name_is_refused(tmp_path):
    job = select_job(tmp_path / "log")
    with pytest.raises(KeyError, match="rule 'nothing' has no stage"):
        adapter.stage_call(SimpleNamespace(**{**vars(job), "rule": "nothing"}))
    with pytest.raises(TypeError, match=r"params may not be named \['run'\]"):
        adapter.stage_call(SimpleNamespace(**{**vars(job), "params": Params(fromdict={"run": 1})}))


def test_a_rule_without_wildcards_gets_no_run_and_lists_stay_lists(tmp_path):
    outputs = OutputFiles(["t/runs.parquet", "t/a.csv", "t/b.csv"])
    outputs._set_name("runs", 0)
    outputs._set_name("summaries", 1, 3)
    job = SimpleNamespace(
        rule="aggregate",
        wildcards=Wildcards(),
        input=InputFiles(),
        output=outputs,
        params=Params(fromdict={"methods": ["uniform"]}),
        threads=1,
        log=["t/aggregate.log"],
        config=CONFIG,
    )
    call = adapter.stage_call(job)
    assert call["run"] is None
    assert jobserver.plain(call["outputs"]) == {"runs": "t/runs.parquet", "summaries": ["t/a.csv", "t/b.csv"]}


def test_run_from_wildcards_types_seed_and_round_and_refuses_strangers():
    run = Run.from_wildcards({"dataset": "d", "noise": "n", "seed": "2", "experiment": "margin", "round": "4"})
    assert run == Run("d", "n", 2, experiment="margin", round=4)
    assert run.wildcards() == {"dataset": "d", "noise": "n", "seed": 2, "experiment": "margin", "round": 4}
    with pytest.raises(TypeError, match=r"wildcards \['colour'\] are not fields of a run"):
        Run.from_wildcards({"dataset": "d", "noise": "n", "seed": "0", "colour": "red"})


def test_the_sweep_runs_are_the_stage_runs(tiny_config):
    runs = sweep_runs(tiny_config)
    assert runs and all(type(run) is Run for run in runs)
    first = runs[0]
    assert Run.from_wildcards({key: str(value) for key, value in first.wildcards().items()}) == first
    assert list(first.wildcards()) == ["dataset", "noise", "seed", "warmup", "method", "fraction", "learner"]


def test_every_rule_with_the_stage_script_has_a_stage_that_exists():
    rules = {}
    for path in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=rule )", path.read_text()):
            name = re.match(r"rule (\w+):", block)
            if name and "script:" in block:
                rules[name.group(1)] = re.search(r'script:\s*"([^"]+)"', block).group(1)
        # `use rule A as B with:` runs A's script
        for parent, child in re.findall(r"^use rule (\w+) as (\w+)", path.read_text(), flags=re.MULTILINE):
            if parent in rules:
                rules[child] = rules[parent]
    assert set(rules.values()) == {"../scripts/stage.py"}
    assert set(rules) == set(adapter.STAGES)
    for target in adapter.STAGES.values():
        module, name = target.split(":")
        assert callable(getattr(__import__(module, fromlist=[name]), name)), target


def test_a_training_param_reaches_the_stage_as_the_entries_of_the_config(tmp_path, monkeypatch, tiny_config):
    """The rules' ``training`` param (plain data, what Snakemake compares) becomes one typed
    TrainingEntries where the stage runs: the learner entry under its key, its model, the dataset."""
    from noisyprune.config import training_entries
    from noisyprune.stages.interface import TrainingEntries

    learner = tiny_config["sweep"]["learners"][0]
    dataset = tiny_config["sweep"]["datasets"][0]
    plain = training_entries(tiny_config, dataset, "learners", learner)
    pickle.dumps(plain)  # what travels to the job server
    monkeypatch.delenv(jobserver.ENV, raising=False)
    monkeypatch.setitem(adapter.STAGES, "select", "fake_stages:stage")
    calls = recording_stage(monkeypatch, "*, training")
    job = select_job(tmp_path / "select.log")
    adapter.run_rule(SimpleNamespace(**{**vars(job), "params": Params(fromdict={"training": plain})}))
    (received,) = [call["training"] for call in calls]
    model = tiny_config["learners"][learner].get("model") or tiny_config["datasets"][dataset]["model"]
    assert received == TrainingEntries(
        key=f"learners.{learner}",
        trainer=tiny_config["learners"][learner],
        model={"name": model, **tiny_config["models"][model]},
        dataset=tiny_config["datasets"][dataset],
    )
