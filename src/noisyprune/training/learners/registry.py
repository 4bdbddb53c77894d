"""Learner registry: the ``learner`` of a warm-up or learner entry → a Learner class."""

from __future__ import annotations

import functools
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


@functools.cache
def reads_warmup_features(name: str) -> bool:
    """Whether learner ``name`` reads the warm-up's features before training (its class sets
    ``needs_warmup_features``), so that its retrain jobs depend on them."""
    return bool(LEARNERS.get(name).needs_warmup_features)


def build_learner(name: str, params: Mapping[str, Any]):
    """Instantiate learner ``name`` with its hyperparameters ``params`` (a fresh learner per run)."""
    return LEARNERS.get(name)(**params)
