"""kCenterGreedy (Sener & Savarese, ICLR 2018): farthest-first traversal of the embedding space."""

from __future__ import annotations

import numpy as np

from noisyprune.method_inputs import MethodInputs
from noisyprune.pruners.base import Pruner, PrunerInputs, Selection
from noisyprune.pruners.budget import class_quotas
from noisyprune.pruners.progress import every, report


def farthest_first(
    embedding: np.ndarray, budget: int, first: int, allowed_by_class: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy k-center: start at ``first``, then repeatedly add the sample farthest (Euclidean) from
    its nearest chosen centre. Returns ``(positions, distance at pick)``; the first distance is inf.

    Memory is O(n): one running minimum distance per sample, updated by one mat-vec per pick
    (the original materialises a budget × n distance matrix). ``allowed_by_class`` =
    ``(labels, quotas)`` closes a class once it holds its quota.
    """
    z = np.ascontiguousarray(embedding, dtype=np.float32)
    norms = np.einsum("ij,ij->i", z, z).astype(np.float64)
    nearest = np.full(len(z), np.inf)
    labels, quotas = allowed_by_class if allowed_by_class else (None, None)
    candidate = quotas[labels] > 0 if quotas is not None else np.ones(len(z), dtype=bool)
    taken = np.zeros(len(quotas), dtype=np.int64) if quotas is not None else None
    positions = np.empty(budget, dtype=np.int64)
    distances = np.empty(budget)
    interval = every(budget)
    for i in range(budget):
        if i % interval == 0:
            report("k-center greedy picks", i, budget, "pick")
        if i == 0:
            p = first
        else:
            masked = np.where(candidate, nearest, -np.inf)
            p = int(np.argmax(masked))
        positions[i], distances[i] = p, np.sqrt(max(nearest[p], 0.0))
        candidate[p] = False
        if taken is not None:
            taken[labels[p]] += 1
            if taken[labels[p]] >= quotas[labels[p]]:
                candidate[labels == labels[p]] = False
                if not candidate.any() and i < budget - 1:  # equal quotas left a shortfall
                    candidate[:] = True
                    candidate[positions[: i + 1]] = False
                    taken = None
        squared = norms + norms[p] - 2.0 * (z @ z[p]).astype(np.float64)
        np.minimum(nearest, squared, out=nearest)
    distances[0] = np.inf
    report("k-center greedy picks", budget, budget, "pick")
    return positions, distances


class KCenterGreedy(Pruner):
    """Keeps a set of samples that covers the warm-up embedding space: each pick is the sample
    farthest from everything chosen so far (max-min distance), so outliers and sparse regions are
    kept first. Under label noise outliers are often mislabelled; the method ignores labels.
    The first centre is drawn from the selection seed, as the original's random start. Class
    balance closes a class once it holds its quota (``proportional``/``equal``).
    """

    inputs = MethodInputs(("labels", "features"))

    requires = ("features",)
    keeps = "samples that cover the embedding space, outliers first, whatever their labels"

    def select(self, inputs: PrunerInputs, budget: int, rng: np.random.Generator) -> Selection:
        labels = inputs.noisy_label
        quotas = class_quotas(labels, inputs.num_classes, budget, self.balance)
        allowed = np.flatnonzero(quotas[labels] > 0) if quotas is not None else np.arange(len(labels))
        first = int(allowed[rng.integers(len(allowed))])
        positions, distances = farthest_first(
            inputs.features.numpy("embedding"), budget, first, (labels, quotas) if quotas is not None else None
        )
        return Selection(positions=positions, scores=distances)
