"""RDIA on a deep model's last layer (Kong, Shen, Huang, ICLR 2022, applied as the reference notes
suggest): relabel the harmful samples of the training subset by their influence on a clean
validation loss, then train with cross-entropy on the corrected labels.

Before training, a multinomial logistic head is fitted on the *frozen warm-up embeddings* of the
subset with their noisy labels; each sample's influence φ_i on the loss of the clean probe set is
computed through Hessian-vector products (:func:`noisyprune.influence.multinomial_influence_relabel`);
samples with φ_i > ``alpha`` are relabelled to the head's prediction. The network is then trained
from scratch with CE on the corrected labels. ``alpha`` is on the scale of the mean objective
(:mod:`noisyprune.influence`): φ_i/n is about the change of the mean probe log-loss (nats) from one
more copy of sample i, so one α carries over between subset sizes (not between embedding scales).

Needs the warm-up's features (the retrain job then depends on them) and the noise stage's clean probe
set as validation data. The re-labeling readout is the corrected label for the subset (RDIA's own
label vector) and the prediction for the pruned samples.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from noisyprune.influence import RELABEL_TARGETS
from noisyprune.params import declare, param
from noisyprune.training.context import LabelsToCorrect, TrainContext
from noisyprune.training.learners.ce import CrossEntropy

log = logging.getLogger(__name__)


@declare(
    param(
        "alpha",
        (
            "RDIA (Kong et al. 2022) on the last layer: a multinomial logistic head is fitted on the warm-up's "
            "embeddings of the subset (noisy labels); each sample's influence φ on the clean probe set's log-loss is "
            "computed with Hessian-vector products (conjugate gradients); samples with φ > `alpha` are relabelled to "
            "the head's prediction, then the network trains with CE on the corrected labels. φ is on the scale of the"
            " *mean* objective (φ/n ≈ the change of the mean probe loss, in nats, from one more copy of the sample), "
            "so one α carries over between subset sizes but not between embedding scales; the original's α converts "
            "as α·n/(C·m) (`noisyprune.influence.alpha_from_original_rdia`). Needs `probe_per_class` and the warm-"
            "up's features (the retrain then depends on them). The readout is the corrected label on the subset; "
            "`metrics.json` adds how many were relabelled."
        ),
        type="number",
    ),
    param(
        "head_c",
        "Inverse L2 strength of the head (scikit-learn's `C`).",
        type="number",
        exclusiveMinimum=0,
    ),
    param(
        "relabel_to",
        (
            "What a harmful sample becomes: `prediction` (the head's; no change where it agrees with the given label)"
            " or `other_class` (the head's most probable class other than the given label; for two classes this is "
            "the original's flip y ← 1 − y, which `config/rdia_tabular.yaml` uses)."
        ),
        choices=RELABEL_TARGETS,
    ),
)
class RDIA(CrossEntropy):
    """Influence-based relabeling on warm-up embeddings, then CE (module docstring). ``alpha``:
    relabel threshold on φ; ``head_c``: inverse L2 strength of the logistic head (scikit-learn's C);
    ``relabel_to``: ``prediction`` (the head's) or ``other_class`` (its best class other than the
    given label: for two classes the original's flip)."""

    needs_probe = True
    needs_warmup_features = True
    state_keys = ("corrected",)

    def __init__(self, alpha: float = 0.1, head_c: float = 1.0, relabel_to: str = "prediction"):
        self.alpha, self.head_c, self.relabel_to = float(alpha), float(head_c), relabel_to
        self.corrected: torch.Tensor | None = None
        self.report: dict = {}

    def prepare_labels(self, given: LabelsToCorrect) -> np.ndarray:
        """The labels to train on, ``(n,)`` by sample id: the noisy labels with the harmful samples
        among the trained ones relabelled, judged on the warm-up's embeddings against the clean
        probe set."""
        from noisyprune.influence import multinomial_influence_relabel

        noisy_label, sample_ids, probe_ids = given.noisy_label, given.sample_ids, given.probe_ids
        embeddings, num_classes = given.embeddings, given.num_classes

        if not len(probe_ids):
            raise ValueError("rdia needs a clean probe set as validation data: set probe_per_class in the noise entry")
        result = multinomial_influence_relabel(
            embeddings[sample_ids],
            noisy_label[sample_ids],
            embeddings[probe_ids],
            noisy_label[probe_ids],
            self.alpha,
            C=self.head_c,
            num_classes=num_classes,
            relabel_to=self.relabel_to,
        )
        corrected = noisy_label.copy()
        corrected[sample_ids] = result.new_labels
        changed = int((result.new_labels != noisy_label[sample_ids]).sum())
        self.report = {
            "rdia_relabelled": changed,
            "rdia_harmful": result.n_relabelled,
            "rdia_val_loss_before": result.val_loss_before,
            "rdia_val_loss_after": result.val_loss_after,
        }
        log.info(
            "rdia: %d of %d samples harmful (phi > %g), %d relabelled; head's probe loss %.4f -> %.4f",
            result.n_relabelled,
            len(sample_ids),
            self.alpha,
            changed,
            result.val_loss_before,
            result.val_loss_after,
        )
        self.corrected = torch.as_tensor(corrected)
        return corrected

    def relabel(
        self, ctx: TrainContext, sample_id: torch.Tensor, noisy_label: torch.Tensor, logits: torch.Tensor
    ) -> torch.Tensor:
        """The corrected label for the samples trained on, the prediction elsewhere."""
        predicted = logits.argmax(dim=1)
        if self.corrected is None:
            return predicted
        corrected = self.corrected.to(sample_id.device)[sample_id]
        return torch.where(ctx.trains_on(sample_id), corrected, predicted)
