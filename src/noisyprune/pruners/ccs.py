"""CCS, coverage-centric coreset selection (Zheng et al., ICLR 2023): stratified sampling over
difficulty after cutting the hardest samples."""

from __future__ import annotations

import numpy as np

from noisyprune.method_inputs import CLASS_SCORES, MethodInputs
from noisyprune.params import declare, param
from noisyprune.pruners.base import Pruner, PrunerInputs, Selection
from noisyprune.pruners.budget import select_per_class
from noisyprune.pruners.el2n import el2n_scores
from noisyprune.pruners.forgetting import forgetting_counts
from noisyprune.pruners.uncertainty import uncertainty_scores

DIFFICULTIES = ("el2n", "loss", "forgetting", "margin")


def stratified_by_difficulty(
    difficulty: np.ndarray,
    positions: np.ndarray,
    k: int,
    hard_cutoff: float,
    bins: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """CCS on the candidates ``positions``: drop the hardest ``hard_cutoff`` fraction, split the rest
    into ``bins`` equal-width difficulty strata and give each stratum, smallest first, an equal share
    of what is left of the budget (all of it if smaller); sample uniformly inside strata.
    If cutting leaves fewer than ``k`` samples, the hardest are added back easiest-first.
    Returned in random order (CCS has no ranking)."""
    order = positions[np.lexsort((positions, difficulty[positions]))]  # easiest first
    kept = order[: len(order) - int(np.floor(hard_cutoff * len(order)))]
    if len(kept) <= k:
        chosen = order[:k]
        return chosen[rng.permutation(len(chosen))]
    values = difficulty[kept]
    edges = np.linspace(values.min(), values.max(), bins + 1)
    stratum = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, bins - 1)
    strata = [kept[stratum == b] for b in range(bins)]
    remaining, chosen = k, []
    for left, b in enumerate(sorted(range(bins), key=lambda b: (len(strata[b]), b))):
        share = min(len(strata[b]), remaining // (bins - left))
        chosen.append(rng.permutation(strata[b])[:share])
        remaining -= share
    chosen = np.concatenate(chosen)
    return chosen[rng.permutation(len(chosen))]


@declare(
    param(
        "difficulty",
        "Difficulty score the strata are built on: `el2n`, `loss`, `forgetting` or `margin`.",
        choices=DIFFICULTIES,
    ),
    param(
        "hard_cutoff",
        "Fraction of the hardest samples cut before stratified sampling.",
        type="number",
        minimum=0,
        exclusiveMaximum=1,
    ),
    param(
        "bins",
        (
            "Equal-width difficulty strata; each gets an equal share of the budget (smallest first), sampled "
            "uniformly inside."
        ),
        type="integer",
        minimum=1,
    ),
)
class CCS(Pruner):
    """Keeps a sample that *covers* the difficulty distribution instead of only its hard or easy
    end: the hardest ``hard_cutoff`` fraction (mislabelled or outlying samples under noise) is cut,
    then every difficulty stratum keeps a share. ``difficulty``: ``el2n`` (default), ``loss``,
    ``forgetting`` (needs the warm-up dynamics) or ``margin`` (negated top-1 − top-2 gap); larger is
    harder. The score column is the difficulty.
    """

    inputs = MethodInputs(CLASS_SCORES, {("difficulty", "forgetting"): ("labels", "dynamics")})

    keeps = "a spread over the difficulty distribution after cutting the hardest samples, not only clean ones"

    def __init__(self, balance: str = "none", difficulty: str = "el2n", hard_cutoff: float = 0.1, bins: int = 50):
        super().__init__(balance=balance)
        self.difficulty, self.hard_cutoff, self.bins = difficulty, hard_cutoff, bins
        self.requires = ("dynamics",) if difficulty == "forgetting" else ("features",)

    def difficulty_scores(self, inputs: PrunerInputs) -> np.ndarray:
        """Per-candidate difficulty ``(n,)``, larger = harder."""
        if self.difficulty == "forgetting":
            return forgetting_counts(inputs.dynamics, inputs.sample_id)
        if self.difficulty == "loss":
            return inputs.features.numpy("loss").astype(np.float64)
        probs = inputs.features.numpy("probs")
        if self.difficulty == "margin":
            return uncertainty_scores(probs, "margin")
        return el2n_scores(probs, inputs.noisy_label)

    def select(self, inputs: PrunerInputs, budget: int, rng: np.random.Generator) -> Selection:
        difficulty = self.difficulty_scores(inputs)
        positions = select_per_class(
            lambda candidates, k: stratified_by_difficulty(difficulty, candidates, k, self.hard_cutoff, self.bins, rng),
            inputs.noisy_label,
            inputs.num_classes,
            budget,
            self.balance,
        )
        return Selection(positions=positions, scores=difficulty[positions])
