"""Robust learners plugged into the one training loop, behind a registry."""

from noisyprune.training.learners.registry import LEARNERS, build_learner

__all__ = ["LEARNERS", "build_learner"]
