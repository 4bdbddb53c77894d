"""Learner registry: the ``learner`` of a warm-up or learner entry → a Learner class."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from noisyprune.registry import Registry

LEARNERS = Registry(
    "learner",
    {
        "ce": "noisyprune.training.learners.ce:CrossEntropy",
        "sop": "noisyprune.training.learners.sop:SOP",
        "sop_plus": "noisyprune.training.learners.sop:SOPPlus",
        "elr": "noisyprune.training.learners.elr:ELR",
        "elr_plus": "noisyprune.training.learners.elr_plus:ELRPlus",
        "dividemix": "noisyprune.training.learners.dividemix:DivideMix",
        "rdia_ls": "noisyprune.training.learners.rdia_ls:RDIALS",
        "l2r": "noisyprune.training.learners.l2r:L2R",
        "rdia": "noisyprune.training.learners.rdia:RDIA",
        "ieg": "noisyprune.training.learners.ieg:IEG",
    },
)

# Learners that read the warm-up's features before training (their retrain jobs depend on them);
# a name list, so the workflow can tell without importing torch. A test checks it against the classes.
WARMUP_FEATURE_LEARNERS = frozenset({"rdia"})


def build_learner(name: str, params: Mapping[str, Any]):
    """Instantiate learner ``name`` with its hyperparameters ``params`` (a fresh learner per run)."""
    return LEARNERS.get(name)(**params)
