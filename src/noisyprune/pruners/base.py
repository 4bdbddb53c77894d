"""What every pruner receives and returns, and the shared score-based selection."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Literal

import numpy as np

from noisyprune.artifacts import Artifact
from noisyprune.method_inputs import MethodInputs
from noisyprune.params import declare, param
from noisyprune.pruners.budget import BALANCE_MODES, select_by_score


@dataclass(frozen=True)
class PrunerInputs:
    """The candidates and what is known about them, aligned row by row (sorted by ``sample_id``).

    ``noisy_label`` is all a pruner may know about labels: clean labels are never passed in.
    ``features`` / ``dynamics`` / ``snapshots`` are present when the pruner's ``requires`` names
    them; dynamics and snapshots are in long format (one row per sample and epoch), not aligned.
    """

    sample_id: np.ndarray
    noisy_label: np.ndarray
    num_classes: int
    features: Artifact | None = None
    dynamics: Artifact | None = None
    snapshots: Artifact | None = None

    def __len__(self) -> int:
        return len(self.sample_id)


@dataclass(frozen=True)
class Selection:
    """The kept samples as ``positions`` into the candidates, best first (rank 0 = first kept),
    with the method's ``scores`` of those samples in the same order (NaN where a method has none).

    ``diagnostics`` are deterministic facts about the run (engine used, graph size, neighbour
    recall) stored with the subset; ``runtime`` facts that vary between runs (seconds per phase,
    work done by randomised indexes) go to the timing sidecar.
    """

    positions: np.ndarray
    scores: np.ndarray
    diagnostics: dict[str, Any] = field(default_factory=dict)
    runtime: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DetectionScore:
    """A per-sample score a pruner offers to the noise-detection measurement (the ``detect`` stage),
    oriented so that **larger = more likely mislabelled**. ``compute(inputs)`` returns ``(n,)``
    floats for the candidates of ``inputs`` (:class:`PrunerInputs`, all training samples);
    ``reads`` names the artifacts it needs (``features``, ``dynamics``): without one (a
    precomputed warm-up has no dynamics) the score is left out."""

    compute: Callable[[PrunerInputs], np.ndarray]
    reads: tuple[str, ...] = ("features",)


def offers(**scores: DetectionScore) -> Mapping[str, DetectionScore]:
    """A pruner's ``detection_scores``, read-only: ``detection_scores = offers(el2n=DetectionScore(…))``."""
    return MappingProxyType(scores)


@declare(
    param(
        "balance",
        (
            "Class balance over noisy labels: `none` (global top-k), `proportional` (each class keeps its share of "
            "the budget; with `uniform` this is stratified sampling) or `equal` (the same count per class where the "
            "class is large enough, the remainder from the global order). For `prune4rel`, `equal` is the original's "
            "round-robin over classes, with its switch to global picks once classes run out (after the first "
            "exhausted class of size m, as soon as the class next in turn already gave more than 1.5·m samples)."
        ),
        choices=BALANCE_MODES,
    )
)
class Pruner(ABC):
    """Chooses ``budget`` of the candidates. ``requires`` names the artifacts it reads besides the
    labels (``features``, ``dynamics``); the workflow feeds it exactly those."""

    requires: ClassVar[tuple[str, ...]] = ()
    # The arrays a user of `noisyprune select` or select_subset brings, shown by `noisyprune methods`
    # (None: the labels plus what ``requires`` names; noisyprune.method_inputs).
    inputs: ClassVar[MethodInputs | None] = None
    # What the method keeps, completing "<method> keeps …": the warning about a subset with more
    # wrong labels than its input quotes it (noisyprune.noisier_subset), so each pruner says it itself.
    keeps: ClassVar[str] = "what its own criterion ranks first, not samples chosen for having correct labels"
    # Designed to keep correctly labelled samples (no re-labeling learner needed): the warning
    # names these methods as the alternatives.
    keeps_clean: ClassVar[bool] = False
    # The per-sample scores it offers to the noise-detection table, by the name the table shows.
    detection_scores: ClassVar[Mapping[str, DetectionScore]] = offers()
    # Whether sweep.tau_sweep runs it at each τ of the list (it takes a neighbourhood threshold tau).
    sweeps_tau: ClassVar[bool] = False
    # Whether its selection computes on a GPU (the workflow then asks the job for one); a pruner
    # whose parameters decide it sets it in __init__.
    needs_gpu: bool = False

    def __init__(self, balance: str = "none"):
        self.balance = balance

    @abstractmethod
    def select(self, inputs: PrunerInputs, budget: int, rng: np.random.Generator) -> Selection:
        """Return the ``budget`` kept samples, best first."""


class ScorePruner(Pruner):
    """A pruner that scores every candidate and keeps the ``budget`` best under ``keep``
    (``low``: smallest scores first; ``high``: largest first), class-balanced as configured."""

    keep: ClassVar[Literal["low", "high"]]

    @abstractmethod
    def score(self, inputs: PrunerInputs, rng: np.random.Generator) -> np.ndarray:
        """Return one float score per candidate, ``(n,)``."""

    def select(self, inputs: PrunerInputs, budget: int, rng: np.random.Generator) -> Selection:
        scores = np.asarray(self.score(inputs, rng), dtype=np.float64)
        if scores.shape != (len(inputs),):
            raise ValueError(f"{type(self).__name__}: expected {len(inputs)} scores, got {scores.shape}")
        if not np.isfinite(scores).all():
            raise ValueError(f"{type(self).__name__}: scores contain NaN or infinite values")
        positions = select_by_score(scores, self.keep, budget, inputs.noisy_label, inputs.num_classes, self.balance)
        return Selection(positions=positions, scores=scores[positions])
