"""GraNd (Paul et al., NeurIPS 2021): the norm of the loss gradient w.r.t. the last layer."""

from __future__ import annotations

import numpy as np

from noisyprune.method_inputs import MethodInputs
from noisyprune.params import declare, param
from noisyprune.pruners.base import DetectionScore, PrunerInputs, ScorePruner, offers
from noisyprune.pruners.el2n import el2n_scores


def grand_scores(probs: np.ndarray, embedding: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Closed-form last-layer gradient norm of cross-entropy on ``labels``, ``(n,)``.

    For logits ``W e + b`` the gradient is ``(p − y) ⊗ e`` for ``W`` and ``p − y`` for ``b``, so its
    norm is ``‖p − y‖ · √(‖e‖² + 1)`` — no per-sample backward pass is needed.
    """
    embedding_norm2 = np.square(np.asarray(embedding, dtype=np.float64)).sum(axis=1)
    return el2n_scores(probs, labels) * np.sqrt(embedding_norm2 + 1.0)


def mean_snapshot_scores(snapshots, sample_id: np.ndarray, column: str) -> np.ndarray:
    """Mean of ``column`` over the scored warm-up epochs of ``snapshots.parquet``, per candidate."""
    ids = snapshots.numpy("sample_id")
    positions = np.searchsorted(sample_id, ids)
    if len(ids) == 0 or not np.array_equal(sample_id[np.clip(positions, 0, len(sample_id) - 1)], ids):
        raise ValueError(
            f"{snapshots.path}: no usable snapshot scores; set 'score_epochs' in the warm-up entry "
            "to score checkpoints during the warm-up"
        )
    totals = np.bincount(positions, weights=snapshots.numpy(column), minlength=len(sample_id))
    counts = np.bincount(positions, minlength=len(sample_id))
    if (counts == 0).any():
        raise ValueError(f"{snapshots.path}: {int((counts == 0).sum())} candidates were never scored")
    return totals / counts


@declare(
    param(
        "keep",
        "`hard` keeps the largest last-layer gradient norm ‖p − y‖·√(‖e‖² + 1) (the original direction; closed form, "
        "no backward pass), `easy` the smallest.",
        choices=["hard", "easy"],
    ),
    param(
        "checkpoints",
        "`final` (the final warm-up model) or `average` (mean over the warm-up's `score_epochs` checkpoints).",
        choices=["final", "average"],
    ),
)
class GraNd(ScorePruner):
    """Scores the last-layer gradient norm of the warm-up model's loss on the noisy label (weights
    and bias, as the Prune4ReL fork's ``[dL/dlogits, e ⊗ dL/dlogits]``) and keeps the **largest**
    (``keep: hard``, the original direction: samples that still move the model); ``keep: easy``
    keeps the smallest, the noise-robust direction.

    ``checkpoints: final`` scores the final warm-up model (``features.parquet``); ``average``
    averages the score over the warm-up checkpoints listed in the warm-up's ``score_epochs``
    (``snapshots.parquet``), smoothing out the noise of a single checkpoint as Paul et al. do
    by averaging over several runs.
    """

    inputs = MethodInputs(("labels", "features", "probabilities"), {("checkpoints", "average"): ("labels", "dynamics")})

    detection_scores = offers(
        grand=DetectionScore(
            lambda inputs: grand_scores(
                inputs.features.numpy("probs"), inputs.features.numpy("embedding"), inputs.noisy_label
            )
        )
    )
    keeps = (
        "samples at its `keep` end of the last-layer gradient norm on the given label; the hard end (the "
        "default) holds most of the wrong labels"
    )

    def __init__(self, balance: str = "none", keep: str = "hard", checkpoints: str = "final"):
        super().__init__(balance=balance)
        self.keep = "high" if keep == "hard" else "low"
        self.checkpoints = checkpoints
        self.requires = ("snapshots",) if checkpoints == "average" else ("features",)

    def score(self, inputs: PrunerInputs, rng: np.random.Generator) -> np.ndarray:
        if self.checkpoints == "average":
            return mean_snapshot_scores(inputs.snapshots, inputs.sample_id, "grand")
        features = inputs.features
        return grand_scores(features.numpy("probs"), features.numpy("embedding"), inputs.noisy_label)
