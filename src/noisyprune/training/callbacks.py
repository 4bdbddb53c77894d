"""Callbacks that record what happens during training: per-sample dynamics and per-epoch history."""

from __future__ import annotations

import logging
import time

import numpy as np
import torch
import torch.nn.functional as F

from noisyprune.training.context import Callback, StepOutput, TrainContext
from noisyprune.training.inputs import Batch, TrainingInputs


class DynamicsRecorder(Callback):
    """Records, for every sample seen in every epoch, its loss and correctness w.r.t. its noisy label.

    Values come from the training batch itself (the model's train-mode output just before the
    step), as forgetting-event counting (Toneva et al., 2019) prescribes. Call :meth:`columns` after
    training for long-format columns ``sample_id, epoch, loss, correct, prediction``.
    """

    state_keys = ("_epochs", "_tensors")

    def __init__(self) -> None:
        self._epochs: list[int] = []
        self._tensors: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def on_batch_end(self, ctx: TrainContext, batch: Batch, output: StepOutput) -> None:
        if ctx.active != 0 or output.logits is None:  # the primary network's own view of its samples only
            return
        logits = output.logits.detach()
        loss = F.cross_entropy(logits, batch.y, reduction="none")
        self._epochs.append(ctx.epoch)
        self._tensors.append((batch.sample_id, loss, logits.argmax(dim=1)))

    def columns(self, noisy_label: np.ndarray) -> dict[str, np.ndarray]:
        """Return the recorded dynamics as numpy columns, sorted by epoch then sample id.

        ``noisy_label`` is indexed by global sample id and decides ``correct``.
        """
        sizes = [len(ids) for ids, _, _ in self._tensors]
        epoch = np.repeat(np.asarray(self._epochs, dtype=np.int32), sizes)
        if self._tensors:
            sample_id, loss, prediction = (torch.cat(parts).cpu().numpy() for parts in zip(*self._tensors))
        else:
            sample_id, loss, prediction = (np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.int64))
        order = np.lexsort((sample_id, epoch))
        sample_id, prediction = sample_id[order], prediction[order]
        return {
            "sample_id": sample_id,
            "epoch": epoch[order],
            "loss": loss[order].astype(np.float32),
            "correct": prediction == noisy_label[sample_id],
            "prediction": prediction,
        }


class SnapshotScorer(Callback):
    """At the end of chosen epochs, scores every sample trained on (``ctx.train``: all of them in a
    warm-up) with the current model in eval mode: loss on its noisy label, EL2N and the closed-form
    last-layer gradient norm (GraNd).
    Pruners can then average scores over several warm-up checkpoints (Paul et al. average over
    early-training snapshots). Call :meth:`columns` for long-format columns."""

    state_keys = ("_rows",)

    def __init__(self, epochs, batch_size: int):
        self.epochs = {int(e) for e in epochs}
        self.batch_size = batch_size
        self._rows: list[dict[str, np.ndarray]] = []

    def on_epoch_end(self, ctx: TrainContext) -> None:
        if ctx.epoch not in self.epochs:
            return
        from noisyprune.training.inference import embed_and_classify

        data = ctx.train
        logits, embedding = embed_and_classify(ctx.model, data.x, self.batch_size)
        log_probs = F.log_softmax(logits.float(), dim=1)
        error = log_probs.exp()
        error[torch.arange(len(data.y), device=error.device), data.y] -= 1.0
        el2n = error.norm(dim=1)
        grand = el2n * torch.sqrt(embedding.float().square().sum(dim=1) + 1.0)
        self._rows.append(
            {
                "sample_id": data.sample_id.cpu().numpy(),
                "epoch": np.full(len(data.y), ctx.epoch, dtype=np.int32),
                "loss": F.nll_loss(log_probs, data.y, reduction="none").cpu().numpy(),
                "el2n": el2n.cpu().numpy(),
                "grand": grand.cpu().numpy(),
            }
        )

    def columns(self) -> dict[str, np.ndarray]:
        """The recorded scores, one row per sample and scored epoch."""
        keys = ("sample_id", "epoch", "loss", "el2n", "grand")
        dtypes = (np.int64, np.int32, np.float32, np.float32, np.float32)
        return {
            key: np.concatenate([row[key] for row in self._rows]).astype(dtype)
            if self._rows
            else np.zeros(0, dtype=dtype)
            for key, dtype in zip(keys, dtypes)
        }


class EpochHistory(Callback):
    """Records per-epoch learning rate, training loss (mean per trained sample over all networks) and
    accuracy (w.r.t. noisy labels), test loss and
    accuracy (clean test labels) and epoch wall time. Test evaluation uses the learner's own
    prediction readout (e.g. an ensemble of two networks) in eval mode.
    """

    state_keys = ("rows",)

    def __init__(self, learner, test: TrainingInputs | None, batch_size: int):
        self.learner = learner
        self.test = test
        self.batch_size = batch_size
        self.rows: list[dict[str, float]] = []
        self._start = 0.0
        self._correct: torch.Tensor | None = None
        self._seen = 0

    def on_epoch_start(self, ctx: TrainContext) -> None:
        self._start = time.perf_counter()
        self._correct = torch.zeros((), dtype=torch.int64, device=ctx.device)
        self._seen = 0

    def on_batch_end(self, ctx: TrainContext, batch: Batch, output: StepOutput) -> None:
        if ctx.active != 0 or output.logits is None:
            return
        self._correct += (output.logits.argmax(dim=1) == batch.y).sum()
        self._seen += len(batch)

    def on_epoch_end(self, ctx: TrainContext) -> None:
        row = {
            "epoch": ctx.epoch,
            "lr": ctx.lr,
            "train_loss": float(ctx.epoch_loss_sum) / max(ctx.epoch_samples, 1),
            # over the primary network's training batches that carry per-sample logits
            "train_acc_noisy": int(self._correct) / self._seen if self._seen else float("nan"),
            "test_loss": float("nan"),
            "test_acc": float("nan"),
        }
        if self.test is not None and len(self.test):
            logits = self.learner.predict_logits(ctx, self.test.x, self.batch_size)
            row["test_loss"] = float(F.cross_entropy(logits, self.test.y))
            row["test_acc"] = int((logits.argmax(dim=1) == self.test.y).sum()) / len(self.test)
        row["epoch_seconds"] = time.perf_counter() - self._start
        self.rows.append(row)
        # One line per epoch as it ends: `tail -f` on the job's log shows progress, and the log of
        # a killed job shows how far it got.
        logging.getLogger(__name__).info(
            "%s epoch %d: lr %.4g, train loss %.4f, train accuracy (noisy labels) %.4f, test accuracy %.4f, %.1f s",
            ctx.learner_name,
            ctx.epoch,
            row["lr"],
            row["train_loss"],
            row["train_acc_noisy"],
            row["test_acc"],
            row["epoch_seconds"],
        )

    def columns(self) -> dict[str, np.ndarray]:
        """Return the history as numpy columns (one entry per epoch)."""
        keys = ("epoch", "lr", "train_loss", "train_acc_noisy", "test_loss", "test_acc", "epoch_seconds")
        return {
            key: np.array([row[key] for row in self.rows], dtype=np.int64 if key == "epoch" else np.float64)
            for key in keys
        }
