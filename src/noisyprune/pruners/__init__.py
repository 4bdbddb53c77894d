"""Pruners: each chooses which training samples to keep, behind a registry."""

from noisyprune.pruners.registry import PRUNERS, build_pruner

__all__ = ["PRUNERS", "build_pruner"]
