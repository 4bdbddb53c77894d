"""One training as the config defines it: the entries, the seed and the evaluation batch, typed once."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from noisyprune.errors import ConfigError
from noisyprune.training.spec import TrainingSpec


@dataclass(frozen=True)
class TrainingJob:
    """What :func:`noisyprune.training.run.train_on_samples` trains, read from the config once.

    ``training_entry``: a warm-up or learner entry (``learner``, optimisation settings, learner
    hyperparameters); ``model_entry``: the architecture; ``augment_entry``: the dataset's
    ``augment`` mapping (``None``: defaults by image shape; the training entry's ``augment: false``
    turns augmentation off). ``seed`` fixes the weight initialisation, the batch order and the
    augmentation draws. ``inference_batch_size``: samples per forward pass when evaluating.
    ``entry_key``: the training entry's dotted config key (``learners.ce``), for messages.
    ``spec`` (derived) holds the entry's optimisation settings, parsed and checked on construction.
    """

    training_entry: Mapping[str, Any]
    model_entry: Mapping[str, Any]
    seed: int
    inference_batch_size: int
    augment_entry: Mapping[str, Any] | None = None
    entry_key: str = "training entry"
    spec: TrainingSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "spec", TrainingSpec.from_entry(self.training_entry))

    @property
    def learner(self) -> str:
        """The learner's registry name (the entry's ``learner``)."""
        return self.training_entry["learner"]

    @property
    def learner_params(self) -> dict[str, Any]:
        """The entry's learner hyperparameters: every key that is not an optimisation setting."""
        return TrainingSpec.learner_params(self.training_entry)

    def check_batch_size(self, trained: int, training_set: int) -> None:
        """Refuse a batch larger than the whole training set (``training_set`` samples, a typo, not a
        choice) and, with ``drop_last``, one larger than the ``trained`` samples (no batch would be
        left); log when it is larger only than the ``trained`` samples of a pruned subset (one batch
        per epoch)."""
        batch_size = self.spec.batch_size
        if batch_size > training_set:
            raise ConfigError(
                f"config key '{self.entry_key}.batch_size': {batch_size} is larger than the whole training set "
                f"({training_set} samples): every epoch would be one full-batch step"
            )
        if batch_size > trained:
            if self.spec.drop_last:
                raise ConfigError(
                    f"config key '{self.entry_key}.drop_last': batch_size {batch_size} is larger than the "
                    f"{trained} samples trained on, so dropping the last partial batch leaves no batch at all"
                )
            logging.getLogger(__name__).warning(
                "%s.batch_size %d is larger than the %d samples trained on: each epoch is one full batch",
                self.entry_key,
                batch_size,
                trained,
            )
