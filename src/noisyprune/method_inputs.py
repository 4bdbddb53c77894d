"""Which of your arrays each method (pruner) reads: labels, features, probabilities, dynamics.

The workflow hands every pruner the warm-up's ``features.parquet`` (embeddings, probabilities and
the scores derived from them) and, where its ``requires`` says so, the per-epoch training record;
a user of ``noisyprune select`` or :func:`noisyprune.select_subset` has to know which of those
arrays to bring. This is the light declaration ``noisyprune methods`` prints it from (no pruner
module imported), one entry per built-in method: the inputs under its default parameters and the
parameter values that change them. ``tests/test_method_inputs.py`` holds every entry to what the
method really reads (each declared set suffices, and leaving out any one of them fails).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# What each input is, as `noisyprune methods` explains it once.
INPUT_MEANINGS = {
    "labels": "(n,) the given (noisy) labels; every method reads them",
    "features": "(n, d) an embedding per sample",
    "probabilities": "(n, C) a model's class probabilities, or its logits",
    "logits": "(n, C) a model's raw class scores (probabilities cannot stand in)",
    "dynamics": "the warm-up's per-epoch training record; only the workflow's warm-up writes it",
}


@dataclass(frozen=True)
class MethodInputs:
    """The arrays a method reads under its default parameters (``default``), and the parameter
    values (``{(name, value): inputs}``) under which it reads others instead."""

    default: tuple[str, ...]
    variants: Mapping[tuple[str, Any], tuple[str, ...]] = field(default_factory=dict)

    def under(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        """The inputs read under the method parameters ``params`` (the defaults for those left out)."""
        for (name, value), inputs in self.variants.items():
            if params.get(name) == value:
                return inputs
        return self.default


SCORES = ("labels", "probabilities")  # the warm-up model's scores on the given labels
BUILT_IN = {
    "full": MethodInputs(("labels",)),
    "uniform": MethodInputs(("labels",)),
    "small_loss": MethodInputs(SCORES),
    "prune4rel": MethodInputs(("labels", "features", "probabilities")),
    "uncertainty": MethodInputs(SCORES, {("score", "max_logit"): ("labels", "logits")}),
    "el2n": MethodInputs(SCORES),
    "grand": MethodInputs(
        ("labels", "features", "probabilities"), {("checkpoints", "average"): ("labels", "dynamics")}
    ),
    "forgetting": MethodInputs(("labels", "dynamics")),
    "moderate": MethodInputs(("labels", "features")),
    "kcenter_greedy": MethodInputs(("labels", "features")),
    "glister": MethodInputs(("labels", "features", "probabilities")),
    "ccs": MethodInputs(SCORES, {("difficulty", "forgetting"): ("labels", "dynamics")}),
    "confident_learning": MethodInputs(
        ("labels", "features"), {("probabilities", "warmup"): ("labels", "probabilities")}
    ),
}


def method_inputs(name: str, requires: tuple[str, ...] = ()) -> MethodInputs:
    """The inputs of method ``name``: its declaration here, or for a plugin's method the labels plus
    what its pruner class's ``requires`` names (``features`` then stands for the warm-up's whole
    ``features.parquet``: embeddings and probabilities, whichever the method reads)."""
    if name in BUILT_IN:
        return BUILT_IN[name]
    extra = ["features or probabilities" if item == "features" else "dynamics" for item in requires]
    return MethodInputs(("labels", *dict.fromkeys(extra)))


def inputs_text(inputs: MethodInputs) -> str:
    """One line: ``labels, features`` and per variant ``; with difficulty=forgetting: labels, dynamics``."""
    text = ", ".join(inputs.default)
    for (name, value), others in inputs.variants.items():
        text += f"; with {name}={value}: {', '.join(others)}"
    return text
