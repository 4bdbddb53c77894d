"""Which of your arrays each method (pruner) reads: labels, features, probabilities, dynamics.

The workflow hands every pruner the warm-up's ``features.parquet`` (embeddings, probabilities and
the scores derived from them) and, where its ``requires`` says so, the per-epoch training record;
a user of ``noisyprune select`` or :func:`noisyprune.select_subset` has to know which of those
arrays to bring. Each pruner class declares them beside its code (``inputs``, a
:class:`MethodInputs`: the inputs under its default parameters and the parameter values that change
them); ``noisyprune methods`` prints them. ``tests/test_method_inputs.py`` holds every built-in
declaration to what the method really reads (each declared set suffices, and leaving out any one of
them fails).
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


CLASS_SCORES = ("labels", "probabilities")  # the warm-up model's scores on the given labels


def method_inputs(pruner: Any) -> MethodInputs:
    """The inputs of a pruner class: what it declares (``inputs``), or for a plugin's pruner that
    declares none the labels plus what its ``requires`` names (``features`` then stands for the
    warm-up's whole ``features.parquet``: embeddings and probabilities, whichever it reads)."""
    declared = getattr(pruner, "inputs", None)
    if declared is not None:
        return declared
    extra = [
        "features or probabilities" if item == "features" else "dynamics" for item in getattr(pruner, "requires", ())
    ]
    return MethodInputs(("labels", *dict.fromkeys(extra)))


def inputs_text(inputs: MethodInputs) -> str:
    """One line: ``labels, features`` and per variant ``; with difficulty=forgetting: labels, dynamics``."""
    text = ", ".join(inputs.default)
    for (name, value), others in inputs.variants.items():
        text += f"; with {name}={value}: {', '.join(others)}"
    return text
