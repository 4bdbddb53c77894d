"""The one adapter between Snakemake and the stages: a rule's ``snakemake`` object → its stage call.

Every rule's ``script:`` is ``workflow/scripts/stage.py``, which calls :func:`run_rule`. That reads
the ``snakemake`` object once: the rule's name picks the stage function (:data:`STAGES`), its
wildcards become the :class:`~noisyprune.stages.interface.Run`, its named input and output files
the ``inputs``/``outputs`` mappings, its ``params`` the keywords of the same names, and the config
the :class:`~noisyprune.stages.interface.Compute` settings; a ``training`` param becomes a
:class:`~noisyprune.stages.interface.TrainingEntries` (:data:`TYPED_PARAMS`). The call then runs through
:func:`noisyprune.jobserver.run_stage` (in a child of the warm job server, or in this process).

What travels to the job server is plain data; :func:`call_stage`, where the stage runs, makes the
typed values of it. The stage function receives the arguments it names and no others; a param it
does not name is an error unless it only makes Snakemake rerun the job when it changes
(:data:`RERUN_ONLY`). Like the job server, this module imports nothing heavy: the stage's module is
imported where the stage runs.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from noisyprune.jobserver import run_stage
from noisyprune.registry import load_plugins
from noisyprune.stages.interface import Compute, Files, Run, TrainingEntries

# Rule → the stage function its jobs run ("module:function").
STAGES = {
    "noise": "noisyprune.stages.noise:run_noise_stage",
    "warmup": "noisyprune.stages.warmup:run_warmup_stage",
    "precomputed_warmup": "noisyprune.stages.precomputed:run_precomputed_stage",
    "extract": "noisyprune.stages.extract:run_extract_stage",
    "select": "noisyprune.stages.select:run_select_stage",
    "detect": "noisyprune.stages.detect:run_detect_stage",
    "retrain": "noisyprune.stages.retrain:run_retrain_stage",
    "export_subset": "noisyprune.stages.export:run_export_stage",
    "export_relabelled": "noisyprune.stages.export:run_export_stage",
    "aggregate": "noisyprune.stages.aggregate:run_aggregate_stage",
    "plots": "noisyprune.stages.plot:run_plot_stage",
    "active_pool": "noisyprune.stages.active:run_active_pool_stage",
    "active_train": "noisyprune.stages.active:run_active_train_stage",
    "active_query": "noisyprune.stages.active:run_active_query_stage",
    "active_aggregate": "noisyprune.stages.active:run_active_aggregate_stage",
}
# Params that are there for Snakemake's rerun triggers: a stage that does not record them does not
# take them (the code hash of its modules; the settings that change its numbers, which it reads from
# ``compute``: noisyprune.stages.interface.RESULT_SETTINGS).
RERUN_ONLY = frozenset({"code_hash", "execution"})
# Params that arrive as plain data and reach the stage typed (built where the stage runs).
TYPED_PARAMS = {"training": TrainingEntries}
# The keywords the adapter fills itself; no param may take these names.
RESERVED = ("run", "inputs", "outputs", "compute")


def run_rule(snakemake: Any) -> None:
    """Run the stage of the rule whose job ``snakemake`` describes (Snakemake's script object),
    logging to its first ``log:`` file and using its ``threads``."""
    run_stage(f"{__name__}:call_stage", stage_call(snakemake), snakemake.log[0], threads=snakemake.threads)


def stage_call(snakemake: Any) -> dict[str, Any]:
    """The keywords of :func:`call_stage` for the job ``snakemake`` describes: the stage's
    ``"module:function"``, the run's wildcards (``None`` for a rule without any), the named inputs
    and outputs, the params and the compute settings. All plain dicts, lists and strings: the job
    server unpickles them before it forks, where a class it could not import would stop it."""
    if snakemake.rule not in STAGES:
        raise KeyError(f"rule {snakemake.rule!r} has no stage in noisyprune.stages.adapter.STAGES")
    params = dict(snakemake.params.items())
    clashing = sorted(set(params) & set(RESERVED))
    if clashing:
        raise TypeError(f"rule {snakemake.rule!r}: params may not be named {clashing}; the adapter fills those")
    wildcards = dict(snakemake.wildcards.items())
    return {
        "stage": STAGES[snakemake.rule],
        "run": Run.from_wildcards(wildcards).wildcards() if wildcards else None,  # checked and typed here
        "inputs": dict(snakemake.input.items()),
        "outputs": dict(snakemake.output.items()),
        "params": params,
        "compute": asdict(Compute.from_config(snakemake.config, snakemake.threads)),
        "plugins": list(snakemake.config.get("plugins", [])),
    }


def call_stage(
    *,
    stage: str,
    run: Mapping[str, Any] | None,
    inputs: Files,
    outputs: Files,
    params: Mapping[str, Any],
    compute: Mapping[str, Any],
    plugins: list[str] = (),
) -> None:
    """Call the stage function ``stage`` (``"module:function"``) with those of ``run`` (as a
    :class:`Run`), ``inputs``, ``outputs``, ``compute`` (as a :class:`Compute`) and the ``params``
    that it names as keywords. A param it does not name, other than :data:`RERUN_ONLY` ones, raises
    ``TypeError`` (a rule and its stage disagree). The config's ``plugins`` are imported first, so
    the components they register are known to the stage."""
    load_plugins(plugins)
    module, name = stage.split(":")
    function = getattr(importlib.import_module(module), name)
    accepted = inspect.signature(function).parameters
    unknown = sorted(set(params) - set(accepted) - RERUN_ONLY)
    if unknown:
        raise TypeError(f"{stage} takes no keyword {unknown}; name the rule's params as the stage's keywords")
    offered = {
        "run": Run(**run) if run is not None else None,
        "inputs": inputs,
        "outputs": outputs,
        "compute": Compute(**compute),
        **{key: TYPED_PARAMS[key](**value) if key in TYPED_PARAMS else value for key, value in params.items()},
    }
    function(**{key: value for key, value in offered.items() if key in accepted})
