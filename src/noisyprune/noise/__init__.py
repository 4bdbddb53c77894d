"""Label-noise models behind a registry; each is deterministic given its random generator."""

from noisyprune.noise.base import NoiseResult, apply_noise
from noisyprune.noise.registry import NOISE_MODELS

__all__ = ["NOISE_MODELS", "NoiseResult", "apply_noise"]
