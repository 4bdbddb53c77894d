"""scikit-learn's bundled handwritten digits: 1,797 images of 8×8 pixels, 10 classes, no download."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits as sklearn_load_digits
from sklearn.model_selection import train_test_split

from noisyprune.data.base import INPUT_SCALING, SPLIT_SEED, ArrayDataset
from noisyprune.data.capabilities import Check, loader_capabilities
from noisyprune.params import declare, param

PIXEL_MAX = 16.0  # the bundled images hold integer grey levels 0..16


@loader_capabilities(check=Check())  # bundled with scikit-learn: loaded in full, in a second
@declare(
    param(
        "test_fraction",
        "Fraction held out as the clean test set (stratified split).",
        type="number",
        exclusiveMinimum=0,
        exclusiveMaximum=1,
    ),
    SPLIT_SEED,
    INPUT_SCALING,
)
def load_digits(
    name: str = "digits", test_fraction: float = 0.3, split_seed: int = 0, input_scaling: str = "standardise"
) -> ArrayDataset:
    """Return digits split into train/test with a stratified, seeded split.

    Images become ``(n, 1, 8, 8)`` float32, scaled to [0, 1] and then (``input_scaling:
    standardise``) standardised with the training split's mean and standard deviation (a single
    scalar each, like MNIST practice); ``unit`` leaves them in [0, 1].
    """
    bunch = sklearn_load_digits()
    images = (bunch.images / PIXEL_MAX).astype(np.float32)[:, None, :, :]
    labels = bunch.target.astype(np.int64)
    train_x, test_x, train_y, test_y = train_test_split(
        images, labels, test_size=test_fraction, random_state=split_seed, stratify=labels
    )
    mean, std = (float(train_x.mean()), float(train_x.std())) if input_scaling == "standardise" else (0.0, 1.0)
    return ArrayDataset(
        name=name,
        train_x=(train_x - mean) / std,
        train_y=train_y,
        test_x=(test_x - mean) / std,
        test_y=test_y,
        class_names=bunch.target_names,
        pixel_mean=mean,
        pixel_std=std,
    )
