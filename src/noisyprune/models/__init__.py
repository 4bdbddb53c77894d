"""Neural networks behind a registry; every model exposes ``features`` (embedding) and ``head``."""

from noisyprune.models.base import Classifier
from noisyprune.models.registry import MODELS, architecture, build_model

__all__ = ["MODELS", "Classifier", "architecture", "build_model"]
