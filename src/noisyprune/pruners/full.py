"""Full: keep every sample — the no-pruning reference that each sweep's fraction 1.0 runs once."""

from __future__ import annotations

import numpy as np

from noisyprune.method_inputs import MethodInputs
from noisyprune.pruners.base import Pruner, PrunerInputs, Selection


class Full(Pruner):
    """Keeps all candidates in sample-id order; it has no score (NaN). The budget must cover them all."""

    inputs = MethodInputs(("labels",))

    keeps = "every sample"

    def select(self, inputs: PrunerInputs, budget: int, rng: np.random.Generator) -> Selection:
        if budget != len(inputs):
            raise ValueError(f"the 'full' method keeps all {len(inputs)} samples; got budget {budget}")
        return Selection(positions=np.arange(len(inputs)), scores=np.full(len(inputs), np.nan))
