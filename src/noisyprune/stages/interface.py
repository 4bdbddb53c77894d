"""The stage interface: what every stage function is called with, as small typed values.

A stage function ``run_*_stage`` takes keyword arguments only, by these names:

- ``run``: the job's identity, a :class:`Run` (its wildcards; stages of the whole sweep have none);
- ``inputs`` / ``outputs``: the rule's named files, a mapping ``name → path`` (a list of paths for a
  name that holds several) under the names the rule gives them;
- ``compute``: how a training job runs on this machine, a :class:`Compute` (from the config);
- ``training``: for the stages that train, the config entries they train with, a
  :class:`TrainingEntries` (the rule's ``training`` param, typed by the adapter);
- every other keyword: one of the rule's ``params`` under its own name (config entries, code hash).

:mod:`noisyprune.stages.adapter` builds that call from Snakemake's ``snakemake`` object; tests call
the functions directly. This module imports nothing heavy: job scripts import it before handing the
job to the job server, and every value here pickles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

# The named files of a rule: a path each, or a list of paths for a name that holds several.
Files = Mapping[str, Any]
# The config's execution settings of a training job: autocast precision, memory layout, compilation.
EXECUTION_KEYS = ("precision", "channels_last", "compile")
# The config keys that change a training job's numbers without changing what it computes: the
# execution settings and the batch size of its inference passes (both change the order of float
# operations: bf16 autocast every number, the others the last bits). The rules that train or infer
# (warmup, extract, retrain, active_train) hold them in their ``execution`` param, so changing one
# reruns those jobs. ``device`` and ``threads`` stay out: where and how wide a job runs is the
# machine's, not the study's (config/README.md).
RESULT_SETTINGS = (*EXECUTION_KEYS, "inference_batch_size")


@dataclass(frozen=True, order=True)
class Run:
    """Who a job is: the values of its wildcards, the optional ones ``None`` where the job has none.

    ``dataset``/``noise``/``seed`` name the labels of every run; a warm-up adds ``warmup``, a
    selection ``method`` and ``fraction`` (its path text, e.g. ``"0.5"``), a retrain ``learner``;
    an active-learning round ``experiment`` and ``round``. ``seed`` and ``round`` are integers.
    """

    dataset: str
    noise: str
    seed: int
    warmup: str | None = None
    method: str | None = None
    fraction: str | None = None
    learner: str | None = None
    experiment: str | None = None
    round: int | None = None

    @classmethod
    def from_wildcards(cls, wildcards: Mapping[str, Any]) -> Run:
        """The run of a job with these wildcards (strings, as Snakemake gives them); ``seed`` and
        ``round`` become integers. A wildcard that is not a field of :class:`Run` is an error."""
        names = {field.name for field in fields(cls)}
        unknown = sorted(set(wildcards) - names)
        if unknown:
            raise TypeError(f"wildcards {unknown} are not fields of a run ({sorted(names)})")
        values = {key: str(value) for key, value in wildcards.items()}
        for key in ("seed", "round"):
            if key in values:
                values[key] = int(values[key])
        return cls(**values)

    def wildcards(self) -> dict[str, Any]:
        """The fields that are set, in the order of the fields (``dataset``, ``noise``, ``seed``, …):
        the run as a wildcard dict, for path formatting, logs and the ``run`` block of results."""
        values = {field.name: getattr(self, field.name) for field in fields(self)}
        return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class TrainingEntries:
    """What a training stage (warm-up, retrain, active-learning round) trains with, from the config:
    the ``trainer`` entry (a ``warmups`` or ``learners`` entry) under its dotted config ``key``
    (``learners.sop``, for messages), the ``model`` entry it uses on the run's dataset (its name under
    ``name``) and the ``dataset`` entry (its loader, its ``augment``). The rules hand it over as one
    ``training`` param (:func:`noisyprune.config.training_entries`)."""

    key: str
    trainer: Mapping[str, Any]
    model: Mapping[str, Any]
    dataset: Mapping[str, Any]


@dataclass(frozen=True)
class Compute:
    """How a training job runs here: the config's ``device`` (``auto``, ``cpu``, ``cuda``), the
    ``threads`` Snakemake gave the job, the config's execution settings (``precision``,
    ``channels_last``, ``compile``), its ``inference_batch_size`` (samples) and ``resume_every``
    (epochs between resume files, 0 = none)."""

    device: str
    threads: int
    inference_batch_size: int
    execution: Mapping[str, Any] | None = None
    resume_every: int = 0

    @classmethod
    def from_config(cls, config: Mapping[str, Any], threads: int) -> Compute:
        """The settings of a job given ``threads`` cores under the (validated) workflow ``config``."""
        return cls(
            device=config["device"],
            threads=int(threads),
            inference_batch_size=config["inference_batch_size"],
            execution={key: config[key] for key in EXECUTION_KEYS},
            resume_every=config["resume_every"],
        )


def result_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`RESULT_SETTINGS` of the (validated) workflow ``config``: the ``execution`` param of
    the rules that train or infer."""
    return {key: config[key] for key in RESULT_SETTINGS}
