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
        "uncertainty": "noisyprune.pruners.uncertainty:Uncertainty",
        "el2n": "noisyprune.pruners.el2n:EL2N",
        "grand": "noisyprune.pruners.grand:GraNd",
        "forgetting": "noisyprune.pruners.forgetting:Forgetting",
        "moderate": "noisyprune.pruners.moderate:Moderate",
        "kcenter_greedy": "noisyprune.pruners.kcenter_greedy:KCenterGreedy",
        "glister": "noisyprune.pruners.glister:Glister",
        "ccs": "noisyprune.pruners.ccs:CCS",
        "confident_learning": "noisyprune.pruners.confident_learning:ConfidentLearning",
    },
)

# The built-in method that keeps every sample: the fraction-1.0 reference run of every sweep.
REFERENCE_METHOD = "full"


def build_pruner(entry: Mapping[str, Any]):
    """Instantiate the pruner of a method entry with the entry's other keys as parameters."""
    params = {key: value for key, value in entry.items() if key != "pruner"}
    return PRUNERS.get(entry["pruner"])(**params)
