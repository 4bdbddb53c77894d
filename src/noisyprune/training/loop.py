"""The training loop: one loop for every learner, extended through learner hooks and callbacks.

A :class:`~noisyprune.training.learners.base.Learner` decides what a training step computes (its
loss, any per-sample state, extra networks) and, per epoch, which network trains on which batches
(:class:`~noisyprune.training.context.Phase`); the loop owns everything else — optimisers and
schedules (one per network), the backward pass and step, the non-finite-loss guard — and tells
:class:`~noisyprune.training.context.Callback` objects what happened (to record dynamics, evaluate
on the test set, write history). Learners and callbacks import the types they share with it from
:mod:`noisyprune.training.context`, never this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import torch

from noisyprune.errors import TrainingError
from noisyprune.models.base import Classifier
from noisyprune.training.augment import Augmenter, no_augmentation
from noisyprune.training.context import Callback, TrainContext
from noisyprune.training.execution import current as current_execution
from noisyprune.training.execution import set_current as set_current_execution
from noisyprune.training.inputs import TrainingInputs
from noisyprune.training.resume import ResumeFile, capture, restore
from noisyprune.training.spec import TrainingSpec

if TYPE_CHECKING:  # for annotations only: a learner is whatever implements the Learner hooks
    from noisyprune.training.learners.base import Learner

log = logging.getLogger(__name__)


def fit(
    model: Classifier,
    learner: Learner,
    train: TrainingInputs,
    spec: TrainingSpec,
    *,
    num_samples: int,
    num_classes: int,
    learner_name: str,
    seed: int,
    callbacks: Sequence[Callback] = (),
    make_network: Callable[[], Classifier] | None = None,
    augment: Augmenter | None = None,
    resume: ResumeFile | None = None,
    probe: TrainingInputs | None = None,
) -> TrainContext:
    """Train ``model`` on ``train`` with ``learner`` for ``spec.epochs`` epochs and return the context.

    Learners with ``num_networks > 1`` get further networks from ``make_network`` (fresh
    initialisations), each with its own optimiser and schedule from ``spec``. Batches are shuffled
    by a generator seeded with ``seed``; ``augment`` makes the weak and strong views. A
    non-finite epoch loss stops training with a :class:`TrainingError` naming the epoch and learner
    (checked once per epoch, so the loop never waits on the device inside an epoch).

    The job's execution settings (:mod:`noisyprune.training.execution`: autocast, channels-last,
    compilation) apply to every network and step; a learner that cannot run compiled
    (``Learner.compiles``) trains uncompiled, with a warning, and the job's settings then say so.

    With ``resume``, the full state is saved every ``resume.every`` epochs and a run that finds a
    matching resume file continues after its epoch, ending exactly as an uninterrupted run.
    """
    device = train.x.device
    if learner.needs_probe and probe is None:
        raise TrainingError(
            f"learner {learner_name!r} needs a clean probe set: set probe_per_class in the noise entry of this run"
        )
    models = [model]
    for _ in range(1, learner.num_networks):
        if make_network is None:
            raise TrainingError(
                f"learner {learner_name!r} trains {learner.num_networks} networks; fit() needs make_network"
            )
        models.append(make_network())
    execution = current_execution()
    if execution.compile and not learner.compiles:
        log.warning(
            "compile: true, but learner %r trains through a second-order gradient, which torch.compile "
            "cannot differentiate: its networks run uncompiled (precision and layout as set)",
            learner_name,
        )
        execution = replace(execution, compile=False)
        set_current_execution(execution)  # the job's provenance (device_description) says what ran
    for network in models:
        execution.prepare(network.to(device))
    optimizers = [spec.build_optimizer(network.parameters()) for network in models]
    schedulers = [spec.build_scheduler(optimizer) for optimizer in optimizers]
    generator = torch.Generator().manual_seed(seed)
    ctx = TrainContext(
        models=models,
        optimizers=optimizers,
        device=device,
        num_samples=num_samples,
        num_classes=num_classes,
        learner_name=learner_name,
        generator=generator,
        train=train,
        batch_size=spec.batch_size,
        augment=augment if augment is not None else no_augmentation(generator),
        probe=probe,
        drop_last=spec.drop_last,
    )
    learner.setup(ctx)
    first_epoch = 1
    saved = resume.load() if resume is not None else None
    if saved is not None:
        first_epoch = restore_loop_state(saved, ctx, schedulers, learner, callbacks) + 1
    for epoch in range(first_epoch, spec.epochs + 1):
        ctx.epoch = epoch
        ctx.epoch_loss_sum = torch.zeros((), device=device)
        ctx.epoch_samples = 0
        for network in models:
            network.train()
        learner.on_epoch_start(ctx)
        for callback in callbacks:
            callback.on_epoch_start(ctx)
        for phase in learner.epoch_phases(ctx):
            ctx.active = phase.network
            optimizer = optimizers[phase.network]
            for batch in phase.batches:
                optimizer.zero_grad(set_to_none=True)
                with execution.autocast_context(device):
                    output = learner.training_step(ctx, batch)
                output.loss.backward()
                optimizer.step()
                learner.after_step(ctx)
                ctx.epoch_loss_sum += output.loss.detach() * len(batch)
                ctx.epoch_samples += len(batch)
                for callback in callbacks:
                    callback.on_batch_end(ctx, batch, output)
        ctx.active = 0
        if not torch.isfinite(ctx.epoch_loss_sum):
            raise TrainingError(
                f"learner {learner_name!r}: non-finite training loss in epoch {epoch} "
                f"(lr {ctx.lr:g}); lower the learning rate or check the inputs"
            )
        learner.on_epoch_end(ctx)
        for callback in callbacks:
            callback.on_epoch_end(ctx)
        for scheduler in schedulers:
            scheduler.step()
        if resume is not None and resume.due(epoch, spec.epochs):
            resume.save(capture_loop_state(epoch, ctx, schedulers, learner, callbacks))
    return ctx


def capture_loop_state(epoch: int, ctx: TrainContext, schedulers, learner, callbacks) -> dict:
    """Everything a resumed run needs to continue after ``epoch`` exactly as if never stopped."""
    state = {
        "epoch": epoch,
        "models": [network.state_dict() for network in ctx.models],
        "optimizers": [optimizer.state_dict() for optimizer in ctx.optimizers],
        "schedulers": [scheduler.state_dict() for scheduler in schedulers],
        "learner": capture(learner),
        "callbacks": {key: capture(callback) for key, callback in callback_keys(callbacks)},
        "rng": {
            "batches": ctx.generator.get_state(),
            "augment": ctx.augment.generator.get_state(),
            "torch": torch.get_rng_state(),
        },
    }
    if ctx.device.type == "cuda":
        state["rng"]["cuda"] = torch.cuda.get_rng_state(ctx.device)
    return state


def callback_keys(callbacks) -> list[tuple[str, Callback]]:
    """Name callbacks by class and occurrence (``EpochHistory#0``), so a resumed run with an extra or
    missing observer still restores each recorder's own state."""
    seen: dict[str, int] = {}
    keyed = []
    for callback in callbacks:
        name = type(callback).__name__
        keyed.append((f"{name}#{seen.get(name, 0)}", callback))
        seen[name] = seen.get(name, 0) + 1
    return keyed


def restore_loop_state(state: dict, ctx: TrainContext, schedulers, learner, callbacks) -> int:
    """Load a state saved by :func:`capture_loop_state`; return the epoch it was saved after."""
    for network, weights in zip(ctx.models, state["models"]):
        network.load_state_dict(weights)
    for optimizer, saved in zip(ctx.optimizers, state["optimizers"]):
        optimizer.load_state_dict(saved)
    for scheduler, saved in zip(schedulers, state["schedulers"]):
        scheduler.load_state_dict(saved)
    restore(learner, state["learner"])
    for key, callback in callback_keys(callbacks):
        if key in state["callbacks"]:
            restore(callback, state["callbacks"][key])
    ctx.generator.set_state(state["rng"]["batches"])
    ctx.augment.generator.set_state(state["rng"]["augment"])
    torch.set_rng_state(state["rng"]["torch"])
    if "cuda" in state["rng"] and ctx.device.type == "cuda":
        torch.cuda.set_rng_state(state["rng"]["cuda"], ctx.device)
    return int(state["epoch"])
