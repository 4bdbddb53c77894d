"""Active learning under label noise: the initial labelled pool and the acquisition functions that
pick each round's query from the unlabelled samples.

A round trains a learner on the pool, scores every sample not yet labelled with the trained model,
and queries the ``query`` best-scoring ones; their labels (noisy or clean, as configured) join the
pool for the next round. The pool only grows, and a sample is never queried twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from noisyprune.artifacts import Artifact
from noisyprune.pruners.base import PrunerInputs
from noisyprune.pruners.uncertainty import uncertainty_scores

ACQUISITIONS = ("margin", "least_confidence", "entropy", "random", "prune4rel")


def initial_pool(
    labels: np.ndarray, size: int, num_classes: int, balanced: bool, rng: np.random.Generator
) -> np.ndarray:
    """Positions of the first labelled pool, sorted: ``size`` samples drawn uniformly at random, or
    with ``balanced`` an equal share per class of ``labels`` ``(n,)`` (the remainder to the classes
    that come first in a random order; a class with too few samples gives its share to the others)."""
    n = len(labels)
    if not 0 < size <= n:
        raise ValueError(f"initial pool of {size} samples from {n}")
    if not balanced:
        return np.sort(rng.choice(n, size=size, replace=False))
    members = [rng.permutation(np.flatnonzero(labels == c)) for c in range(num_classes)]
    quota = np.zeros(num_classes, dtype=np.int64)
    remaining = size
    # Water-filling: classes get equal shares, capped by their size, until the pool is full.
    while remaining:
        open_classes = [c for c in rng.permutation(num_classes) if quota[c] < len(members[c])]
        share, extra = divmod(remaining, len(open_classes))
        for rank, c in enumerate(open_classes):
            add = min(share + (rank < extra), len(members[c]) - quota[c])
            quota[c] += add
            remaining -= add
    return np.sort(np.concatenate([m[:q] for m, q in zip(members, quota, strict=True)]))


def acquisition_order(
    kind: str,
    probs: np.ndarray,
    size: int,
    rng: np.random.Generator,
    embedding: np.ndarray | None = None,
    params: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``size`` candidates to query, best first, as ``(positions, scores)`` into the rows of
    ``probs`` ``(m, C)`` (the unlabelled samples' predicted probabilities).

    ``margin``: smallest top-1 − top-2 probability gap first; ``least_confidence``: smallest top
    probability; ``entropy``: largest predictive entropy; ``random``: a uniform draw;
    ``prune4rel``: Prune4ReL's greedy confidence-and-coverage objective over the embeddings
    ``(m, d)`` (``params``: ``tau``, ``eta``; classes balanced by the *predicted* label, since the
    candidates' labels are not known yet). Ties go to the lower position.
    """
    size = min(size, len(probs))
    if kind == "random":
        positions = rng.permutation(len(probs))[:size]
        return positions, np.full(size, np.nan)
    if kind == "prune4rel":
        return _prune4rel_order(probs, embedding, size, rng, params or {})
    if kind not in ("margin", "least_confidence", "entropy"):
        raise ValueError(f"unknown acquisition {kind!r}; use one of {ACQUISITIONS}")
    uncertainty = uncertainty_scores(probs, kind)  # larger = more uncertain
    order = np.lexsort((np.arange(len(probs)), -uncertainty))[:size]
    return order, uncertainty[order]


def _prune4rel_order(probs, embedding, size, rng, params) -> tuple[np.ndarray, np.ndarray]:
    from noisyprune.pruners.prune4rel import Prune4ReL

    if embedding is None:
        raise ValueError("prune4rel acquisition needs the candidates' embeddings")
    predicted = probs.argmax(axis=1).astype(np.int64)
    # The candidates' rows in the features layout the pruner reads (confidence = top probability).
    table = pa.table(
        {
            "confidence": probs.max(axis=1),
            "embedding": pa.FixedSizeListArray.from_arrays(
                pa.array(embedding.astype(np.float32).ravel()), embedding.shape[1]
            ),
        }
    )
    features = Artifact(table=table, metadata={}, path=None)
    inputs = PrunerInputs(
        sample_id=np.arange(len(probs)), noisy_label=predicted, num_classes=probs.shape[1], features=features
    )
    pruner = Prune4ReL(
        tau=float(params.get("tau", 0.95)),
        eta=float(params.get("eta", 1.0)),
        balance=str(params.get("balance", "equal")),
    )
    selection = pruner.select(inputs, size, rng)
    return selection.positions, selection.scores
