"""Moderate-DS (Xia et al., ICLR 2023): keep samples at a moderate distance from their class centre."""

from __future__ import annotations

import numpy as np

from noisyprune.method_inputs import MethodInputs
from noisyprune.pruners.base import DetectionScore, Pruner, PrunerInputs, Selection, offers
from noisyprune.pruners.budget import class_members, select_per_class


def median_distances(embedding: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Distance ``(n,)`` of each embedding to the element-wise median embedding of its (noisy) class."""
    embedding = np.asarray(embedding, dtype=np.float64)
    distance = np.empty(len(labels))
    for members in class_members(labels, num_classes):
        if len(members):
            centre = np.median(embedding[members], axis=0)
            distance[members] = np.linalg.norm(embedding[members] - centre, axis=1)
    return distance


def middle_band(distance: np.ndarray, positions: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` of ``positions`` whose distances rank in the middle: ranks ``[s, s + k)`` with
    ``s = round((m − k) / 2)``, as the Prune4ReL fork's ``sorted_idx[round(n(0.5−f/2)):…]``; returned
    in rank order (ties in distance by position)."""
    order = positions[np.lexsort((positions, distance[positions]))]
    start = round((len(positions) - k) / 2)
    return order[start : start + k]


class Moderate(Pruner):
    """Keeps the samples whose distance to their class's median embedding is closest to the median
    distance: neither the easy core (near the centre) nor the hard, often mislabelled, fringe.
    Distances use the warm-up model's penultimate embedding in eval mode (the fork forgets
    ``.eval()``). ``balance: none`` takes the middle band of the global ranking, like the fork;
    with ``proportional``/``equal`` each class keeps the middle band of its own ranking.
    The score column is the distance to the class median.
    """

    inputs = MethodInputs(("labels", "features"))

    requires = ("features",)
    detection_scores = offers(
        moderate_distance=DetectionScore(
            lambda inputs: median_distances(inputs.features.numpy("embedding"), inputs.noisy_label, inputs.num_classes)
        )
    )
    keeps = "samples at a moderate distance from their class centre, chosen for coverage, not for correct labels"

    def select(self, inputs: PrunerInputs, budget: int, rng: np.random.Generator) -> Selection:
        distance = median_distances(inputs.features.numpy("embedding"), inputs.noisy_label, inputs.num_classes)
        positions = select_per_class(
            lambda candidates, k: middle_band(distance, candidates, k),
            inputs.noisy_label,
            inputs.num_classes,
            budget,
            self.balance,
        )
        return Selection(positions=positions, scores=distance[positions])
