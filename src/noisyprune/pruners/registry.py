"""Pruner registry: the ``pruner`` of a method entry → a Pruner class (one module per pruner)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from noisyprune.registry import Registry

PRUNERS = Registry(
    "pruner",
    {
        "full": "noisyprune.pruners.full:Full",
        "uniform": "noisyprune.pruners.uniform:Uniform",
        "small_loss": "noisyprune.pruners.small_loss:SmallLoss",
        "prune4rel": "noisyprune.pruners.prune4rel:Prune4ReL",
    },
)

# The built-in method that keeps every sample: the fraction-1.0 reference run of every sweep.
REFERENCE_METHOD = "full"


def build_pruner(entry: Mapping[str, Any]):
    """Instantiate the pruner of a method entry with the entry's other keys as parameters."""
    params = {key: value for key, value in entry.items() if key != "pruner"}
    return PRUNERS.get(entry["pruner"])(**params)
