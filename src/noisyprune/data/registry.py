"""Dataset registry: ``loader`` names of the config → loader functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from noisyprune.data.base import ArrayDataset, limited_positions
from noisyprune.data.capabilities import capabilities_of
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
        "arrays": "noisyprune.data.arrays:load_arrays",
        "tabular": "noisyprune.data.arrays:load_tabular",
        "image_folder": "noisyprune.data.images:load_image_folder",
        "file_list": "noisyprune.data.images:load_file_list",
    },
)


def load_dataset(name: str, entry: Mapping[str, Any]) -> ArrayDataset:
    """Load the dataset described by the config entry ``entry`` (its ``loader`` picks the code).

    ``name`` is the entry's name in the config, used in messages and as the dataset's name.
    """
    generic = ("loader", "model", "augment", "max_train", "max_test")
    options = {key: value for key, value in entry.items() if key not in generic}
    loader = DATASETS.get(entry["loader"])
    if capabilities_of(loader).limits_itself:
        # File-backed images: draw the subset from the file list (the same stratified subset as
        # limit_samples), so the rest is never decoded.
        return loader(name=name, max_train=entry.get("max_train"), max_test=entry.get("max_test"), **options)
    data = loader(name=name, **options)
    return limit_samples(data, entry.get("max_train"), entry.get("max_test"))


def limit_samples(data: ArrayDataset, max_train: int | None, max_test: int | None) -> ArrayDataset:
    """Keep at most ``max_train`` training and ``max_test`` test samples: a class-stratified random
    subset drawn with a fixed seed (the same for every run), in the original order. Sample ids are
    positions in the kept training set; label sets (CIFAR-N) are cut the same way. Normalisation
    statistics stay those of the full training split."""
    if max_train is None and max_test is None:
        return data
    train, test = limited_positions(data.train_y, max_train), limited_positions(data.test_y, max_test)
    label_sets = {key: values[train] for key, values in data.label_sets.items()} if data.label_sets else None
    return replace(
        data,
        train_x=data.train_x[train],
        train_y=data.train_y[train],
        test_x=data.test_x[test],
        test_y=data.test_y[test],
        label_sets=label_sets,
        train_names=data.sample_names()[train],
    )
