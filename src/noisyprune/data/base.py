"""The in-memory dataset container shared by every loader."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ArrayDataset:
    """A labelled image (or vector) dataset held in memory, already normalised.

    ``train_x``: ``(n, *input_shape)`` float32; ``train_y``: ``(n,)`` int64 clean labels; the row
    index is the global ``sample_id``. ``test_x``/``test_y`` likewise for the clean test split.
    """

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    class_names: tuple[str, ...]
    # The normalisation the loader applied (per channel, or one value for all): pixel = x·std + mean,
    # with pixels in [0, 1]. Augmentations that work on pixels need it.
    pixel_mean: tuple[float, ...] = (0.0,)
    pixel_std: tuple[float, ...] = (1.0,)
    # Groups of classes that belong together (CIFAR-100's superclasses), for within-group noise.
    class_groups: tuple[tuple[int, ...], ...] | None = None
    # Named alternative label sets for the training split, e.g. CIFAR-N's human labels by noise name.
    label_sets: dict[str, np.ndarray] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if len(self.train_x) != len(self.train_y):
            raise ValueError(
                f"dataset {self.name!r}: {len(self.train_x)} training inputs but {len(self.train_y)} labels"
            )
        if len(self.test_x) != len(self.test_y):
            raise ValueError(
                f"dataset {self.name!r}: {len(self.test_x)} test inputs but {len(self.test_y)} labels"
            )
        if self.train_x.shape[1:] != self.test_x.shape[1:]:
            raise ValueError(f"dataset {self.name!r}: train and test inputs differ in shape")

    @property
    def num_classes(self) -> int:
        """Number of classes ``C``; labels are in ``[0, C)``."""
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input, e.g. ``(1, 8, 8)`` for channels × height × width."""
        return tuple(self.train_x.shape[1:])

    @property
    def num_train(self) -> int:
        """Number of training samples ``n``."""
        return len(self.train_y)
