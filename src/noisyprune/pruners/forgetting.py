"""Forgetting (Toneva et al., ICLR 2019): how often the warm-up model forgot a sample's label."""

from __future__ import annotations

import numpy as np

from noisyprune.artifacts import Artifact
from noisyprune.method_inputs import MethodInputs
from noisyprune.params import declare, param
from noisyprune.pruners.base import DetectionScore, PrunerInputs, ScorePruner, offers

NEVER_LEARNED = ("zero", "most")


def forgetting_counts(dynamics: Artifact, sample_id: np.ndarray, never_learned: str = "zero") -> np.ndarray:
    """Forgetting events per candidate ``(n,)`` (aligned with ``sample_id``) from ``dynamics.parquet``.

    An event is a sample classified correctly (w.r.t. its noisy label) in one warm-up epoch and
    incorrectly in the next it is seen in, judged on the training batch as the original does; the
    state before the first epoch counts as "incorrect", so first sight is never an event.
    Samples never classified correctly get 0 events with ``never_learned: zero`` (DeepCore and
    the Prune4ReL fork) or one more than the largest count with ``most`` (Toneva et al. treat them
    as forgotten infinitely often).
    """
    if never_learned not in NEVER_LEARNED:
        raise ValueError(f"never_learned must be one of {NEVER_LEARNED}, got {never_learned!r}")
    ids = dynamics.numpy("sample_id")
    epochs = dynamics.numpy("epoch")
    correct = dynamics.numpy("correct").astype(bool)
    order = np.lexsort((epochs, ids))
    ids, correct = ids[order], correct[order]
    same_sample = np.r_[False, ids[1:] == ids[:-1]]
    previous = np.r_[False, correct[:-1]] & same_sample
    events = previous & ~correct
    positions = np.searchsorted(sample_id, ids)
    if not np.array_equal(sample_id[np.clip(positions, 0, len(sample_id) - 1)], ids):
        raise ValueError(f"{dynamics.path}: holds sample ids that are not candidates")
    counts = np.bincount(positions, weights=events, minlength=len(sample_id))
    if never_learned == "most":
        learned = np.bincount(positions, weights=correct, minlength=len(sample_id)) > 0
        counts[~learned] = counts.max() + 1
    return counts


@declare(
    param(
        "never_learned",
        (
            "Forgetting count of samples never classified correctly: `zero` (DeepCore and the fork count 0 events) or"
            " `most` (Toneva et al.: never-learned samples rank as most forgotten)."
        ),
        choices=NEVER_LEARNED,
    ),
)
class Forgetting(ScorePruner):
    """Scores the number of forgetting events during the warm-up (from ``dynamics.parquet``) and
    keeps the **most forgotten** samples: unforgettable ones are redundant (Toneva et al.). Under
    label noise mislabelled samples are forgotten often, so this direction keeps noise.

    Default ``balance: proportional``: the original (DeepCore/Prune4ReL) always selects per class
    in proportion to its size, ignoring ``--balance``. Ties go to the lowest sample id (the
    original's reversed argsort sends them to the highest).
    """

    inputs = MethodInputs(("labels", "dynamics"))

    keep = "high"
    requires = ("dynamics",)
    # Both never-learned conventions: which one flags mislabelled samples better is measured.
    detection_scores = offers(
        forgetting=DetectionScore(
            lambda inputs: forgetting_counts(inputs.dynamics, inputs.sample_id, "zero"), reads=("dynamics",)
        ),
        forgetting_never_learned_most=DetectionScore(
            lambda inputs: forgetting_counts(inputs.dynamics, inputs.sample_id, "most"), reads=("dynamics",)
        ),
    )
    keeps = "the most often forgotten samples, and mislabelled samples are forgotten often"

    def __init__(self, balance: str = "proportional", never_learned: str = "zero"):
        super().__init__(balance=balance)
        self.never_learned = never_learned

    def score(self, inputs: PrunerInputs, rng: np.random.Generator) -> np.ndarray:
        return forgetting_counts(inputs.dynamics, inputs.sample_id, self.never_learned)
