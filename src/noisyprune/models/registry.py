"""Model registry: the ``arch`` of a model entry → a :class:`~noisyprune.models.base.Classifier` class."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from noisyprune.models.base import Classifier
from noisyprune.registry import Registry

MODELS = Registry(
    "model architecture",
    {
        "linear": "noisyprune.models.linear:Linear",
        "mlp": "noisyprune.models.mlp:MLP",
        "small_cnn": "noisyprune.models.small_cnn:SmallCNN",
        "resnet18": "noisyprune.models.resnet:resnet18",
        "resnet34": "noisyprune.models.resnet:resnet34",
        "resnet50": "noisyprune.models.resnet:resnet50",
        "preact_resnet18": "noisyprune.models.preact_resnet:preact_resnet18",
    },
)


def architecture(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The architecture a model entry describes: ``arch`` and its parameters, without the entry's
    config ``name`` (two entries with different names can build the same network)."""
    return {key: value for key, value in entry.items() if key != "name"}


def build_model(entry: Mapping[str, Any], input_shape: Sequence[int], num_classes: int) -> Classifier:
    """Build a freshly initialised model from a model entry (``arch`` plus its parameters; a
    ``name`` key is ignored).

    Weight initialisation draws from torch's global generator: seed it first for reproducibility.
    """
    params = {key: value for key, value in architecture(entry).items() if key != "arch"}
    factory = MODELS.get(entry["arch"])
    return factory(input_shape=tuple(input_shape), num_classes=num_classes, **params)
