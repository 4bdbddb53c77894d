"""Plain cross-entropy on the noisy labels: the non-robust baseline (Prune4ReL's "Standard")."""

from __future__ import annotations

import torch.nn.functional as F

from noisyprune.training.context import StepOutput, TrainContext
from noisyprune.training.inputs import Batch
from noisyprune.training.learners.base import Learner


class CrossEntropy(Learner):
    """Minimises the mean cross-entropy between the model's logits and the noisy labels.

    It has no per-sample state; its re-labeling readout is the model's prediction. The input is the
    weak view (the dataset's shift/flip), as in the originals' standard training.
    """

    def training_step(self, ctx: TrainContext, batch: Batch) -> StepOutput:
        logits = ctx.network(ctx.augment.weak(batch.x))
        return StepOutput(loss=F.cross_entropy(logits, batch.y), logits=logits.detach())
