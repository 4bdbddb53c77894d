"""The in-memory dataset container shared by every loader."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from noisyprune.params import param


@dataclass(frozen=True)
class ArrayDataset:
    """A labelled image (or vector) dataset held in memory, already normalised.

    ``train_x``: ``(n, *input_shape)`` float32; ``train_y``: ``(n,)`` int64 clean labels; the row
    index is the global ``sample_id``. ``test_x``/``test_y`` likewise for the clean test split.
    Streamed image sets hold :class:`~noisyprune.data.stored.StoredImages` as ``train_x``/``test_x``,
    which index like the float32 arrays (``noisyprune.training.data.device_data`` picks the path).
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
    # False for intrinsically noisy data (WebVision, Clothing-1M): ``train_y`` then holds the labels as
    # given, and nothing knows which of them are wrong.
    clean_labels_known: bool = True
    # How the user names each training sample, so a kept subset can be handed back in their terms:
    # ``(n,)`` paths relative to ``train_names_kind``'s folder (file-backed images) or row numbers of
    # the user's file. ``None``: the position in the loader's training split (= sample_id).
    train_names: np.ndarray | None = field(default=None, repr=False)
    train_names_kind: str = "index in the training split"

    def __post_init__(self) -> None:
        # Loaders hand over what they computed (numpy arrays, lists, label values): stored as the
        # declared tuples of str and float, whatever the loader computed them as.
        object.__setattr__(self, "class_names", tuple(map(str, self.class_names)))
        object.__setattr__(self, "pixel_mean", tuple(map(float, np.ravel(self.pixel_mean))))
        object.__setattr__(self, "pixel_std", tuple(map(float, np.ravel(self.pixel_std))))
        if len(self.train_x) != len(self.train_y):
            raise ValueError(
                f"dataset {self.name!r}: {len(self.train_x)} training inputs but {len(self.train_y)} labels"
            )
        if len(self.test_x) != len(self.test_y):
            raise ValueError(f"dataset {self.name!r}: {len(self.test_x)} test inputs but {len(self.test_y)} labels")
        if self.train_x.shape[1:] != self.test_x.shape[1:]:
            raise ValueError(f"dataset {self.name!r}: train and test inputs differ in shape")
        if self.train_names is not None and len(self.train_names) != len(self.train_y):
            raise ValueError(
                f"dataset {self.name!r}: {len(self.train_names)} sample names for {len(self.train_y)} training samples"
            )

    def sample_names(self) -> np.ndarray:
        """The user's name of every training sample ``(n,)``: a relative path, a row of their file or
        the index in the training split (``train_names_kind`` says which)."""
        return self.train_names if self.train_names is not None else np.arange(self.num_train)

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


def limited_positions(labels: np.ndarray, limit: int | None) -> np.ndarray:
    """Sorted positions of at most ``limit`` samples of ``labels`` ``(n,)``: all of them, or a
    class-stratified subset drawn with the fixed seed 0 (``max_train``/``max_test``: the same
    subset in every run)."""
    if limit is None or limit >= len(labels):
        return np.arange(len(labels))
    return stratified_split(labels, 0, train_size=limit)[0]


def stratified_split(
    labels: np.ndarray, seed: int, *, train_size: int | None = None, test_size: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Split the positions of ``labels`` ``(n,)`` into sorted ``(train, test)`` index arrays with
    scikit-learn, stratified by class where that is possible (every present class has ≥ 2 samples
    and a given ``train_size`` holds at least one per class), seeded by ``seed``."""
    from sklearn.model_selection import train_test_split

    counts = np.bincount(labels)
    present = counts[counts > 0]
    can_stratify = (present >= 2).all() and (train_size is None or train_size >= len(present))
    train, test = train_test_split(
        np.arange(len(labels)),
        train_size=train_size,
        test_size=test_size,
        random_state=seed,
        stratify=labels if can_stratify else None,
    )
    return np.sort(train), np.sort(test)


# The seed of a loader's own train/test split (digits, arrays, tabular).
SPLIT_SEED = param(
    "split_seed",
    "Seed of the train/test split; fixed across the sweep's seeds so every seed sees the same data.",
    type="integer",
    minimum=0,
    maximum=2**32 - 1,  # scikit-learn's random_state: a larger seed would fail inside the noise job
)


# How a loader scales pixel inputs: every image loader declares it (default: today's standardising).
INPUT_SCALINGS = ("standardise", "unit")
INPUT_SCALING = param(
    "input_scaling",
    (
        "`standardise`: pixels in [0, 1] minus the training split's mean, divided by its standard deviation (per "
        "channel for colour images). `unit`: pixels in [0, 1], left there — the originals that feed `ToTensor()` "
        "without `Normalize` (RDIA-LS's and Co-teaching's MNIST). Weight initialisation and optimiser steps see "
        "inputs of another scale, so results differ between the two."
    ),
    choices=list(INPUT_SCALINGS),
)


def unit_pixels(images: np.ndarray) -> np.ndarray:
    """``images`` (uint8, any shape) as float32 in [0, 1], in one new array (no float64 temporary)."""
    pixels = images.astype(np.float32)
    pixels /= 255.0
    return pixels
