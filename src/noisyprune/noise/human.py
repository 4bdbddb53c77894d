"""Real human label noise: one of the label sets a dataset ships (CIFAR-10N/100N)."""

from __future__ import annotations

import numpy as np

from noisyprune.params import declare, param


@declare(
    param(
        "labels",
        (
            "The human label set: `aggregate`, `worst`, `random1`, `random2`, `random3` (CIFAR-10N; 9.01%, 40.21%, "
            "17.23%, 18.12%, 17.64% wrong), `noisy100` (CIFAR-100N, 40.20%) or `given` (an `arrays` file's "
            "`noisy_y`/`noisy_label`): one of the sets the dataset's loader declares (`label_sets`); any other "
            "pairing is refused at validation."
        ),
        type="string",
    ),
)
def human_noise(clean: np.ndarray, num_classes: int, rng: np.random.Generator, labels: str, data) -> np.ndarray:
    """Return the dataset's human label set ``labels`` (``aggregate``, ``worst``, ``random1..3`` for
    CIFAR-10N, ``noisy100`` for CIFAR-100N, ``given`` for an arrays file). Deterministic; ``rng`` is
    unused. The loader has checked that the set indexes the same samples as ``clean``, and
    :func:`~noisyprune.noise.base.apply_noise` checks the shape and range of what is returned."""
    del rng
    available = data.label_sets or {}
    if labels not in available:
        raise ValueError(
            f"human noise: dataset {data.name!r} has no label set {labels!r} "
            f"(it has {sorted(available) or 'none; use loader cifar10n or cifar100n'})"
        )
    return np.array(available[labels], dtype=np.int64)
