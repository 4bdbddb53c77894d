"""Dataset registry: ``loader`` names of the config → loader functions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from noisyprune.data.base import ArrayDataset
from noisyprune.registry import Registry

DATASETS = Registry(
    "dataset loader",
    {
        "digits": "noisyprune.data.digits:load_digits",
        "mnist": "noisyprune.data.mnist:load_mnist",
        "fashion_mnist": "noisyprune.data.mnist:load_fashion_mnist",
        "cifar10": "noisyprune.data.cifar:load_cifar10",
        "cifar100": "noisyprune.data.cifar:load_cifar100",
        "cifar10n": "noisyprune.data.cifar:load_cifar10n",
        "cifar100n": "noisyprune.data.cifar:load_cifar100n",
    },
)


def load_dataset(name: str, entry: Mapping[str, Any]) -> ArrayDataset:
    """Load the dataset described by the config entry ``entry`` (its ``loader`` picks the code).

    ``name`` is the entry's name in the config, used in messages and as the dataset's name.
    """
    options = {key: value for key, value in entry.items() if key not in ("loader", "model", "augment")}
    loader = DATASETS.get(entry["loader"])
    return loader(name=name, **options)
