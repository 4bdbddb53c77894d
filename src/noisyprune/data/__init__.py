"""Datasets: loaders behind a registry, all returning :class:`ArrayDataset`."""

from noisyprune.data.base import ArrayDataset
from noisyprune.data.registry import DATASETS, load_dataset

__all__ = ["DATASETS", "ArrayDataset", "load_dataset"]
