"""Noise-model registry: the ``kind`` of a noise entry → a function ``(clean, C, rng, **params) → noisy``."""

from noisyprune.registry import Registry

NOISE_MODELS = Registry(
    "noise model",
    {
        "symmetric": "noisyprune.noise.symmetric:symmetric_noise",
        "asymmetric": "noisyprune.noise.asymmetric:pair_noise",
        "instance_dependent": "noisyprune.noise.instance:instance_dependent_noise",
        "human": "noisyprune.noise.human:human_noise",
        "none": "noisyprune.noise.none:no_noise",
    },
)
