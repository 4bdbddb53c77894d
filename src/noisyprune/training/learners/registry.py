"""Learner registry: the ``learner`` of a warm-up or learner entry → a Learner class."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from noisyprune.registry import Registry

LEARNERS = Registry("learner", {"ce": "noisyprune.training.learners.ce:CrossEntropy"})


def build_learner(name: str, params: Mapping[str, Any]):
    """Instantiate learner ``name`` with its hyperparameters ``params`` (a fresh learner per run)."""
    return LEARNERS.get(name)(**params)
