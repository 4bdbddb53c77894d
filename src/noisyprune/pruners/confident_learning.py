"""Confident learning (Northcutt et al., JAIR 2021) with cleanlab: drop likely label errors, then
keep a uniform sample of the rest."""

from __future__ import annotations

import numpy as np

from noisyprune.method_inputs import MethodInputs
from noisyprune.params import declare, param
from noisyprune.pruners.base import DetectionScore, Pruner, PrunerInputs, Selection, offers
from noisyprune.pruners.budget import select_per_class

PROBABILITIES = ("crossval", "warmup")
FILTERS = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given")


def self_confidence(inputs: PrunerInputs) -> np.ndarray:
    """The warm-up model's probability of each noisy label, ``(n,)`` float64: cleanlab's label
    quality by self-confidence (larger = more likely correct)."""
    probs = inputs.features.numpy("probs")
    return probs[np.arange(len(inputs.noisy_label)), inputs.noisy_label].astype(np.float64)


def out_of_sample_probabilities(
    embedding: np.ndarray, labels: np.ndarray, num_classes: int, folds: int, seed: int
) -> np.ndarray:
    """Cross-validated class probabilities ``(n, C)``: a multinomial logistic regression on the
    standardised warm-up embeddings, each sample predicted by the model that did not see it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    smallest = np.bincount(labels, minlength=num_classes)
    folds = int(max(2, min(folds, smallest[smallest > 0].min())))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    probs = cross_val_predict(
        model, np.asarray(embedding, dtype=np.float64), labels, cv=splitter, method="predict_proba"
    )
    present = np.flatnonzero(np.bincount(labels, minlength=num_classes))
    full = np.zeros((len(labels), num_classes))
    full[:, present] = probs
    return full


@declare(
    param(
        "probabilities",
        (
            "`crossval`: `folds`-fold logistic regression on the warm-up embeddings, out of sample; `warmup`: the "
            "warm-up's own (in-sample) probabilities."
        ),
        choices=PROBABILITIES,
    ),
    param("folds", "Folds of the cross-validation.", type="integer", minimum=2),
    param(
        "filter_by",
        (
            "cleanlab's `find_label_issues` filter: `prune_by_noise_rate`, `prune_by_class`, `both`, "
            "`confident_learning` or `predicted_neq_given`."
        ),
        choices=FILTERS,
    ),
)
class ConfidentLearning(Pruner):
    """What a practitioner tries first: cleanlab's ``find_label_issues`` flags likely mislabelled
    samples from **out-of-sample** probabilities, the kept set is a uniform (seeded) sample of the
    unflagged ones, and only if those run out are flagged samples added, most plausible label
    first. Scores are cleanlab's label quality (self-confidence), larger = more likely correct.

    ``probabilities: crossval`` (default) fits a K-fold logistic regression on the frozen warm-up
    embeddings; ``warmup`` uses the warm-up model's own (in-sample, hence over-confident on
    memorised labels) probabilities.
    """

    inputs = MethodInputs(("labels", "features"), {("probabilities", "warmup"): ("labels", "probabilities")})

    requires = ("features",)
    detection_scores = offers(self_confidence=DetectionScore(lambda inputs: 1.0 - self_confidence(inputs)))
    keeps = "the samples cleanlab does not flag as label errors (flagged ones only when the rest run out)"
    keeps_clean = True

    def __init__(
        self,
        balance: str = "none",
        probabilities: str = "crossval",
        folds: int = 5,
        filter_by: str = "prune_by_noise_rate",
    ):
        super().__init__(balance=balance)
        self.probabilities, self.folds, self.filter_by = probabilities, folds, filter_by

    def select(self, inputs: PrunerInputs, budget: int, rng: np.random.Generator) -> Selection:
        from cleanlab.filter import find_label_issues
        from cleanlab.rank import get_label_quality_scores

        labels, num_classes = inputs.noisy_label, inputs.num_classes
        seed = int(rng.integers(2**31 - 1))
        if self.probabilities == "crossval":
            probs = out_of_sample_probabilities(
                inputs.features.numpy("embedding"), labels, num_classes, self.folds, seed
            )
        else:
            probs = inputs.features.numpy("probs").astype(np.float64)
        probs = np.clip(probs, 1e-12, None)
        probs /= probs.sum(axis=1, keepdims=True)
        issues = find_label_issues(labels, probs, filter_by=self.filter_by, n_jobs=1)
        quality = get_label_quality_scores(labels, probs)
        # Unflagged samples in random order first, then flagged ones by decreasing quality.
        key = np.where(issues, 1.0 + (1.0 - quality), rng.random(len(labels)))
        positions = select_per_class(
            lambda candidates, k: candidates[np.lexsort((candidates, key[candidates]))][:k],
            labels,
            num_classes,
            budget,
            self.balance,
        )
        return Selection(positions=positions, scores=quality[positions], diagnostics={"flagged": int(issues.sum())})
