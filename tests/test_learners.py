"""Re-labeling learners (SOP, SOP+, ELR, ELR+, DivideMix) on the shared loop: their mechanics on tiny data."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from noisyprune.data.base import ArrayDataset
from noisyprune.errors import ConfigError
from noisyprune.models import build_model
from noisyprune.training.augment import AugmentationSpec, Augmenter, no_augmentation
from noisyprune.training.context import TrainContext
from noisyprune.training.data import TensorData
from noisyprune.training.inputs import Batch
from noisyprune.training.job import TrainingJob
from noisyprune.training.learners import LEARNERS, build_learner
from noisyprune.training.learners.dividemix import clean_probability
from noisyprune.training.run import train_on_samples
from noisyprune.training.spec import TrainingSpec

MLP = {"arch": "mlp", "hidden": [16]}
CLASSES = 3


def blob_images(n=240, seed=0, flip=0.0):
    """Separable 3-class blobs as 1×4×4 images (class = which quadrant is bright), with a fraction
    ``flip`` of labels moved to the next class. Returns ``(x, clean, noisy)``."""
    rng = np.random.default_rng(seed)
    clean = np.arange(n) % CLASSES
    x = rng.normal(scale=0.3, size=(n, 1, 4, 4)).astype(np.float32)
    for c in range(CLASSES):
        x[clean == c, 0, (c // 2) * 2 : (c // 2) * 2 + 2, (c % 2) * 2 : (c % 2) * 2 + 2] += 3.0
    noisy = clean.copy()
    flipped = rng.permutation(n)[: round(flip * n)]
    noisy[flipped] = (clean[flipped] + 1) % CLASSES
    return x, clean, noisy


def context(learner, n=240, subset=None, seed=0):
    """A TrainContext over the blob images (samples ``subset`` trained, ``n`` in the full set)."""
    x, _clean, noisy = blob_images(n)
    ids = np.arange(n) if subset is None else np.asarray(subset)
    train = TensorData.from_numpy(x[ids], noisy[ids], ids, torch.device("cpu"))
    torch.manual_seed(seed)
    models = [build_model(MLP, (1, 4, 4), CLASSES) for _ in range(learner.num_networks)]
    spec = TrainingSpec(epochs=3, batch_size=32, lr=0.1)
    generator = torch.Generator().manual_seed(seed)
    ctx = TrainContext(
        models=models,
        optimizers=[spec.build_optimizer(m.parameters()) for m in models],
        device=torch.device("cpu"),
        num_samples=n,
        num_classes=CLASSES,
        learner_name="test",
        generator=generator,
        train=train,
        batch_size=32,
        augment=no_augmentation(generator),
    )
    learner.setup(ctx)
    return ctx


def step(learner, ctx, batch):
    """One loop step as fit() does it."""
    optimizer = ctx.optimizers[ctx.active]
    optimizer.zero_grad(set_to_none=True)
    output = learner.training_step(ctx, batch)
    output.loss.backward()
    optimizer.step()
    learner.after_step(ctx)
    return output


def first_batch(ctx, size=32):
    rows = torch.arange(size)
    return Batch(ctx.train.x[rows], ctx.train.y[rows], ctx.train.sample_id[rows])


@pytest.mark.parametrize("name", ["sop", "sop_plus"])
def test_sop_moves_only_the_rows_of_the_batch(name):
    learner = build_learner(name, {"lr_u": 10.0, "lr_v": 100.0, "init_std": 1e-2})
    ctx = context(learner)
    u_before, v_before = learner.u.clone(), learner.v.clone()
    batch = first_batch(ctx)
    step(learner, ctx, batch)
    outside = torch.ones(ctx.num_samples, dtype=torch.bool)
    outside[batch.sample_id] = False
    assert torch.equal(learner.u[outside], u_before[outside])  # bit-identical, not merely close
    assert torch.equal(learner.v[outside], v_before[outside])
    assert not torch.equal(learner.u[batch.sample_id], u_before[batch.sample_id])
    assert not torch.equal(learner.v[batch.sample_id], v_before[batch.sample_id])


def test_sop_rows_take_a_plain_sgd_step_on_their_gradient():
    learner = build_learner("sop", {"lr_u": 3.0, "lr_v": 7.0, "init_std": 1e-1})
    ctx = context(learner)
    batch = first_batch(ctx, 8)
    u_rows = learner.u[batch.sample_id].clone().requires_grad_(True)
    v_rows = learner.v[batch.sample_id].clone().requires_grad_(True)
    from noisyprune.training.learners.sop import sop_loss

    logits = ctx.model(batch.x)
    loss, _ = sop_loss(logits, F.one_hot(batch.y, CLASSES).float(), u_rows, v_rows)
    loss.backward()
    step(learner, ctx, batch)
    assert torch.allclose(learner.u[batch.sample_id], (u_rows - 3.0 * u_rows.grad).detach(), atol=1e-7)
    assert torch.allclose(learner.v[batch.sample_id], (v_rows - 7.0 * v_rows.grad).detach(), atol=1e-7)
    assert v_rows.grad[F.one_hot(batch.y, CLASSES).bool()].abs().max() == 0  # v never acts on the label


def test_sop_readout_uses_its_noise_model_on_trained_samples_and_predictions_elsewhere():
    learner = build_learner("sop", {})
    ctx = context(learner, subset=np.arange(0, 240, 2))
    ids = torch.arange(4)
    noisy = torch.tensor([0, 1, 2, 0])
    learner.v[ids] = 0.0
    learner.u[ids] = 0.0
    learner.u[0] = 1.0  # sample 0: the label's mass is removed …
    learner.v[0, 2] = 1.0  # … and given to class 2
    logits = F.one_hot(torch.tensor([1, 1, 1, 1]), CLASSES).float()
    relabel = learner.relabel(ctx, ids, noisy, logits)
    # 0 and 2 are trained (even ids): state readout; 1 and 3 are pruned: the model's prediction
    assert relabel.tolist() == [2, 1, 2, 1]


def test_elr_targets_follow_the_ema_and_persist_across_epochs():
    learner = build_learner("elr", {"beta": 0.6, "lam": 3.0})
    ctx = context(learner)
    batch = first_batch(ctx)
    ctx.epoch = 1
    learner.on_epoch_start(ctx)
    with torch.no_grad():
        probs = F.softmax(ctx.model(batch.x), dim=1).clamp(1e-4, 1 - 1e-4)
    step(learner, ctx, batch)
    expected = 0.4 * probs / probs.sum(dim=1, keepdim=True)
    assert torch.allclose(learner.targets[batch.sample_id], expected, atol=1e-6)
    assert learner.targets[32:].abs().sum() == 0  # untouched rows stay at zero
    ctx.epoch = 2
    learner.on_epoch_start(ctx)  # the original keeps its targets
    assert torch.allclose(learner.targets[batch.sample_id], expected, atol=1e-6)
    with torch.no_grad():
        probs2 = F.softmax(ctx.model(batch.x), dim=1).clamp(1e-4, 1 - 1e-4)
    step(learner, ctx, batch)
    expected2 = 0.6 * expected + 0.4 * probs2 / probs2.sum(dim=1, keepdim=True)
    assert torch.allclose(learner.targets[batch.sample_id], expected2, atol=1e-6)


def test_elr_prune4rel_reset_forgets_targets_each_epoch_and_trains_differently():
    keep, reset = build_learner("elr", {}), build_learner("elr", {"reset_targets": "every_epoch"})
    ctx_keep, ctx_reset = context(keep), context(reset)
    for learner, ctx in ((keep, ctx_keep), (reset, ctx_reset)):
        for epoch in (1, 2):
            ctx.epoch = epoch
            learner.on_epoch_start(ctx)
            if epoch == 2:
                state_at_start = learner.targets.clone()
            step(learner, ctx, first_batch(ctx))
        learner.state_at_epoch2 = state_at_start
    assert reset.state_at_epoch2.abs().sum() == 0
    assert keep.state_at_epoch2.abs().sum() > 0
    # the same start and batches, different targets → different weights after epoch 2
    assert not all(torch.equal(a, b) for a, b in zip(ctx_keep.model.parameters(), ctx_reset.model.parameters()))


def test_gmm_clean_probability_separates_planted_high_loss_samples():
    rng = np.random.default_rng(0)
    losses = np.concatenate([rng.uniform(0.0, 0.2, 300), rng.uniform(0.7, 1.0, 100)])
    probability = clean_probability(losses)
    assert (probability[:300] > 0.5).all() and (probability[300:] < 0.5).all()
    assert clean_probability(np.full(5, 0.3)).tolist() == [0.5] * 5  # no spread: undecided


def test_dividemix_co_divide_labels_mostly_clean_samples_after_warmup():
    x, clean, noisy = blob_images(300, flip=0.3)
    data = ArrayDataset("blobs", x, noisy, *blob_images(90, seed=1)[:2], ("a", "b", "c"))
    holder = {}

    class Capture:
        def on_epoch_start(self, ctx):
            pass

        def on_batch_end(self, ctx, batch, output):
            pass

        def on_epoch_end(self, ctx):
            holder.setdefault("probs", []).append(holder["learner"].clean_prob[0])

    from noisyprune.training import run

    original = run.build_learner

    def build(name, params):
        holder["learner"] = original(name, params)
        return holder["learner"]

    run.build_learner = build
    try:
        train_on_samples(
            TrainingJob(
                {
                    "learner": "dividemix",
                    "epochs": 4,
                    "warmup_epochs": 2,
                    "batch_size": 32,
                    "lr": 0.1,
                    "rampup_epochs": 1,
                },
                MLP,
                seed=0,
                inference_batch_size=128,
            ),
            data,
            noisy,
            np.arange(300),
            torch.device("cpu"),
            callbacks=[Capture()],
        )
    finally:
        run.build_learner = original
    probability = holder["probs"][-1]
    labelled = probability > 0.5
    assert (noisy == clean).mean() == pytest.approx(0.7)
    assert (noisy == clean)[labelled].mean() > 0.85  # the labelled side is far cleaner than the data
    assert labelled.sum() > 0.5 * (noisy == clean).sum()


@pytest.mark.parametrize("name", ["elr_plus", "dividemix"])
def test_two_network_learners_predict_with_both_networks(name):
    learner = build_learner(name, {})
    ctx = context(learner)
    x = ctx.train.x[:10]
    both = learner.predict_logits(ctx, x, 4)
    with torch.no_grad():
        ctx.models[0].eval(), ctx.models[1].eval()
        assert torch.allclose(both, ctx.models[0](x) + ctx.models[1](x), atol=1e-5)
        for param in ctx.models[1].parameters():
            param.add_(1.0)
    assert not torch.allclose(learner.predict_logits(ctx, x, 4), both)


def test_elr_plus_targets_come_from_the_other_networks_average():
    learner = build_learner("elr_plus", {"beta": 0.0, "mixup_alpha": 0.0})
    ctx = context(learner)
    ctx.active = 0
    batch = first_batch(ctx)
    with torch.no_grad():
        other = F.softmax(learner.ema[1](batch.x), dim=1)
    step(learner, ctx, batch)
    assert torch.allclose(learner.targets[0][batch.sample_id], other / other.sum(1, keepdim=True), atol=1e-6)
    assert learner.targets[1].abs().sum() == 0
    assert learner.steps == [1, 0]


def test_elr_plus_ramps_count_steps_as_the_original(monkeypatch):
    """ELR_plus trainer.py: the loss ramps λ with sigmoid_rampup(global_step + local_step, coef_step),
    local_step counted from 1, and the EMA rate with sigmoid_rampup(global_step + local_step + 1,
    ema_step): network k's t-th step reads t and t + 1."""
    import noisyprune.training.learners.elr_plus as elr_plus

    calls = []
    original = elr_plus.sigmoid_rampup
    monkeypatch.setattr(elr_plus, "sigmoid_rampup", lambda t, length: calls.append((t, length)) or original(t, length))
    learner = build_learner("elr_plus", {"coef_step": 7, "ema_step": 11, "mixup_alpha": 0.0, "ema_alpha": 0.5})
    ctx = context(learner)
    for k, network_step in ((0, 1), (0, 2), (1, 1)):
        ctx.active = k
        ema_before = [p.detach().clone() for p in learner.ema[k].parameters()]
        step(learner, ctx, first_batch(ctx))
        assert calls[-2:] == [(network_step, 7), (network_step + 1, 11)]
        alpha = original(network_step + 1, 11) * 0.5
        live = list(ctx.models[k].parameters())
        for average, before, weight in zip(learner.ema[k].parameters(), ema_before, live, strict=True):
            assert torch.allclose(average, alpha * before + (1 - alpha) * weight.detach(), atol=1e-6)
    assert original(1, 7) == pytest.approx(np.exp(-5 * (1 - 1 / 7) ** 2))


def test_dividemix_prune4rel_variant_skips_warmup_and_ramp():
    original = build_learner("dividemix", {"warmup_epochs": 3})
    copy = build_learner("dividemix", {"warmup_epochs": 3, "variant": "prune4rel"})
    ctx = context(copy)
    ctx.epoch = 1
    assert original.in_warmup(ctx) and not copy.in_warmup(ctx)
    copy._iteration, copy._iterations = 0, 10
    assert copy.lambda_u_now(ctx) == copy.lambda_u
    original._iteration, original._iterations = 5, 10
    ctx.epoch = 4  # first epoch after the warm-up, half way through it
    assert original.lambda_u_now(ctx) == pytest.approx(25.0 * 0.5 / 16)


def dividemix_after_warmup(seed=0, **params):
    """A DivideMix learner past a 1-epoch warm-up on the blob context, with planted clean
    probabilities (network 0 trains on ``clean_prob[1]``'s split); ``ctx.active`` is 0."""
    learner = build_learner("dividemix", {"warmup_epochs": 1, "rampup_epochs": 4, **params})
    ctx = context(learner, seed=seed)
    rng = np.random.default_rng(seed)
    learner.clean_prob = [rng.uniform(size=len(ctx.train)), rng.uniform(size=len(ctx.train))]
    ctx.epoch, ctx.active = 3, 0  # the second epoch after the warm-up: λ_u ramped to 1/4
    return learner, ctx


def test_dividemix_mixmatch_step_recomputes_as_the_original(monkeypatch):
    """One step against Train_cifar.py's train()/SemiLoss, recomputed here from its formulas: co-refined
    labelled targets (trained net only, two views), co-guessed unlabelled targets (both nets, two views),
    T-sharpening, one mixup of [x1, x2, u1, u2] with a permutation of itself, Lx on the first 2B rows,
    Lu (mean squared error) on the rest, the ramped λ_u and the uniform-prior penalty."""
    from noisyprune.training.learners import dividemix

    learner, ctx = dividemix_after_warmup()
    ctx.augment = Augmenter(AugmentationSpec(shift=1), 0.0, 1.0, torch.Generator().manual_seed(1))
    views = []
    weak = ctx.augment.weak
    ctx.augment.weak = lambda x: views.append((x, weak(x))) or views[-1][1]
    phase = learner.epoch_phases(ctx)[0]
    assert phase.network == 0
    batch = next(iter(phase.batches))
    unlabelled = next(learner._unlabelled)
    learner._unlabelled = itertools.chain([unlabelled], learner._unlabelled)
    monkeypatch.setattr(dividemix, "mixup_coefficient", lambda alpha: 0.7)
    torch.manual_seed(5)
    loss = learner.training_step(ctx, batch).loss

    x1, x2 = [view for source, view in views if source is batch.x]
    u1, u2 = [view for source, view in views if source is unlabelled.x]
    assert not torch.equal(x1, x2) and not torch.equal(u1, u2)  # two independently augmented views
    net, other = ctx.models
    prob = learner.clean_prob[1]
    assert (prob[batch.sample_id.numpy()] > 0.5).all() and (prob[unlabelled.sample_id.numpy()] <= 0.5).all()
    assert len(batch) == len(unlabelled) == ctx.batch_size  # B labelled and B unlabelled per step
    w = torch.as_tensor(prob[batch.sample_id.numpy()], dtype=torch.float32)[:, None]

    def sharp(p):
        return p**2 / (p**2).sum(1, keepdim=True)  # T = 0.5

    with torch.no_grad():
        p_x = (F.softmax(net(x1), 1) + F.softmax(net(x2), 1)) / 2
        t_x = sharp(w * F.one_hot(batch.y, CLASSES) + (1 - w) * p_x)
        p_u = (F.softmax(net(u1), 1) + F.softmax(net(u2), 1) + F.softmax(other(u1), 1) + F.softmax(other(u2), 1)) / 4
        t_u = sharp(p_u)
        inputs, targets = torch.cat([x1, x2, u1, u2]), torch.cat([t_x, t_x, t_u, t_u])
        torch.manual_seed(5)
        idx = torch.randperm(len(inputs))
        logits = net(0.7 * inputs + 0.3 * inputs[idx])
        mixed = 0.7 * targets + 0.3 * targets[idx]
        b2 = 2 * len(batch)
        lx = -torch.mean(torch.sum(F.log_softmax(logits[:b2], 1) * mixed[:b2], 1))
        lu = torch.mean((F.softmax(logits[b2:], 1) - mixed[b2:]) ** 2)
        prior = torch.full((CLASSES,), 1 / CLASSES)
        penalty = torch.sum(prior * torch.log(prior / F.softmax(logits, 1).mean(0)))
        expected = lx + 25.0 / 4 * lu + penalty
    assert lu > 1e-4 and penalty > 0
    assert loss.item() == pytest.approx(expected.item(), abs=1e-5)
    loss.backward()
    assert all(p.grad is None for p in other.parameters())  # the other network only guesses


def test_dividemix_unlabelled_batches_cycle_under_the_labelled_epoch():
    """Every labelled step draws one unlabelled batch of B; the small unlabelled side restarts in a
    fresh order when exhausted (the original's ``iter(unlabeled_trainloader)`` again), the labelled side
    is seen once per epoch, and each network trains on the other's split."""
    learner, ctx = dividemix_after_warmup()
    learner.clean_prob = [np.linspace(0, 1, 240), np.r_[np.full(200, 0.9), np.full(40, 0.1)]]
    phases = learner.epoch_phases(ctx)
    assert [phase.network for phase in phases] == [0, 1]
    batches = iter(phases[0].batches)
    seen, drawn = [], []
    first = next(batches)
    stream = learner._unlabelled

    def recorded():
        for unlabelled in stream:
            drawn.append(unlabelled.sample_id)
            yield unlabelled

    learner._unlabelled = recorded()
    for batch in itertools.chain([first], batches):
        seen.append(batch.sample_id)
        step(learner, ctx, batch)
    assert torch.equal(torch.cat(seen).sort().values, torch.arange(200))  # network 1's labelled side
    assert len(drawn) == len(seen) == 7 and [len(ids) for ids in drawn[:3]] == [32, 8, 32]
    for start in (0, 2, 4):  # each pass over the 40 unlabelled samples holds each of them once
        assert torch.equal(torch.cat(drawn[start : start + 2]).sort().values, torch.arange(200, 240))
    assert not torch.equal(torch.cat(drawn[0:2]), torch.cat(drawn[2:4]))  # reshuffled per pass
    ctx.active = 1
    labelled_1 = torch.cat([batch.sample_id for batch in phases[1].batches]).sort().values
    assert torch.equal(labelled_1, torch.as_tensor(np.flatnonzero(np.linspace(0, 1, 240) > 0.5)))


@pytest.mark.parametrize("name", sorted(LEARNERS.names()))
def test_every_learner_trains_on_a_subset_and_relabels_every_sample(name):
    x, clean, noisy = blob_images(240, flip=0.2)
    test_x, test_y, _ = blob_images(90, seed=1)
    data = ArrayDataset("blobs", x, clean, test_x, test_y, ("a", "b", "c"))
    kept = np.arange(0, 240, 2)
    entry = {"learner": name, "epochs": 3, "batch_size": 32, "lr": 0.1}
    if name == "dividemix":
        entry["warmup_epochs"] = 1
    probe = np.arange(1, 31, 2)  # 5 clean probe samples per class for the meta-learners (L2R); others ignore them
    result = train_on_samples(
        TrainingJob(entry, MLP, seed=0, inference_batch_size=64),
        data,
        np.where(np.isin(np.arange(240), probe), clean, noisy),
        kept,
        torch.device("cpu"),
        probe_ids=probe,
        warmup_embeddings=x.reshape(240, -1),
    )  # RDIA's head reads embeddings
    assert len(result.ctx.models) == result.learner.num_networks
    ids = torch.arange(240)
    logits = result.learner.predict_logits(result.ctx, torch.as_tensor(x), 64)
    relabel = result.learner.relabel(result.ctx, ids, torch.as_tensor(noisy), logits)
    assert relabel.shape == (240,)
    pruned = torch.as_tensor(np.setdiff1d(np.arange(240), kept))
    assert torch.equal(relabel[pruned], logits.argmax(1)[pruned])  # no state for pruned samples
    assert result.history.rows[-1]["test_acc"] > 0.6


def test_learner_parameters_are_checked():
    with pytest.raises(ValueError, match="beta"):
        build_learner("elr", {"beta": 1.5})
    with pytest.raises(ValueError, match="variant"):
        build_learner("dividemix", {"variant": "fast"})
    with pytest.raises(ValueError, match="lr_u"):
        build_learner("sop", {"lr_u": -1})


# ---- augmentation -------------------------------------------------------------------------------------------


def augmenter(spec, seed=0):
    return Augmenter(spec, 0.5, 0.25, torch.Generator().manual_seed(seed))


def test_weak_shift_translates_each_image_and_fills_with_black():
    x = torch.arange(2 * 36, dtype=torch.float32).reshape(2, 1, 6, 6) / 100
    out = augmenter(AugmentationSpec(shift=2)).weak(x)
    black = (0.0 - 0.5) / 0.25
    for image, shifted in zip(x, out):
        matches = []
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                expected = torch.full_like(image, black)
                src = image[:, max(0, dy) : 6 + min(0, dy), max(0, dx) : 6 + min(0, dx)]
                expected[:, max(0, -dy) : 6 + min(0, -dy), max(0, -dx) : 6 + min(0, -dx)] = src
                matches.append(torch.equal(shifted, expected))
        assert sum(matches) == 1


def test_weak_view_is_drawn_per_sample_and_reproducible():
    x = torch.randn(64, 1, 8, 8)
    spec = AugmentationSpec(shift=2, flip=True)
    first, again = augmenter(spec, 3).weak(x), augmenter(spec, 3).weak(x)
    assert torch.equal(first, again)
    unchanged = [(torch.equal(a, b)) for a, b in zip(first, x)]
    assert 0 < sum(unchanged) < 64 or not any(unchanged)  # not one draw for the whole batch
    assert len({tuple(img.flatten().tolist()) for img in (first - x)}) > 8


def test_cutout_blanks_a_square_of_the_given_side_per_sample():
    x = torch.full((16, 1, 12, 12), 2.0)
    out = augmenter(AugmentationSpec(cutout=4, group_size=4)).strong(x)
    blank = (out == 0).sum(dim=(1, 2, 3))
    assert (blank <= 16).all() and (blank >= 4).all()  # clipped at the border at most
    assert len(set(map(tuple, (out == 0).flatten(1).int().tolist()))) > 1


def test_strong_policy_changes_pixels_and_keeps_shape():
    x = (torch.rand(32, 1, 12, 12) - 0.5) / 0.25
    out = augmenter(AugmentationSpec(strong="randaugment", group_size=4)).strong(x)
    assert out.shape == x.shape and not torch.equal(out, x)


def test_augmentation_defaults_and_errors_by_image_shape():
    assert AugmentationSpec.from_entry(None, (3, 32, 32)) == AugmentationSpec(4, True, "autoaugment", 16)
    assert AugmentationSpec.from_entry(None, (1, 28, 28)) == AugmentationSpec(2, False, "randaugment", 7)
    assert AugmentationSpec.from_entry({"shift": 0}, (1, 28, 28)).shift == 0
    with pytest.raises(ConfigError, match="autoaugment"):
        AugmentationSpec.from_entry({"strong": "autoaugment"}, (1, 28, 28))
    with pytest.raises(ConfigError, match="unknown keys"):
        AugmentationSpec.from_entry({"rotate": 3}, (1, 28, 28))


# ---- both stages ---------------------------------------------------------------------------------------------


def test_a_two_network_warmup_and_a_stateful_retrain_through_the_stages(tmp_path):
    from noisyprune.artifacts import DYNAMICS, HISTORY, RELABELS, read_json, read_table
    from noisyprune.stages.interface import Compute, Run, TrainingEntries
    from noisyprune.stages.noise import run_noise_stage
    from noisyprune.stages.retrain import run_retrain_stage
    from noisyprune.stages.select import run_select_stage
    from noisyprune.stages.warmup import run_warmup_stage

    digits = {"loader": "digits", "model": "mlp"}
    mlp = {"name": "mlp", "arch": "mlp", "hidden": [16]}
    labels = str(tmp_path / "labels.parquet")
    run_noise_stage(
        run=Run("digits", "sym40", 0),
        outputs={"labels": labels},
        dataset_entry=digits,
        noise_entry={"kind": "symmetric", "rate": 0.4},
    )
    warmup = {"learner": "dividemix", "epochs": 2, "warmup_epochs": 1, "batch_size": 64, "lr": 0.05}
    outputs = {key: str(tmp_path / f"{key}.out") for key in ("model", "dynamics", "history", "snapshots")}
    compute = Compute(device="cpu", threads=1, inference_batch_size=512)
    run_warmup_stage(
        run=Run("digits", "sym40", 0, warmup="dm"),
        inputs={"labels": labels},
        outputs=outputs,
        training=TrainingEntries("warmups.dm", warmup, mlp, digits),
        compute=compute,
        code_hash="test",
    )
    dynamics = read_table(outputs["dynamics"], DYNAMICS)
    epochs = dynamics.numpy("epoch")
    assert (epochs == 1).sum() == 1257  # the CE warm-up epoch sees every sample
    assert 0 < (epochs == 2).sum() < 1257  # after co-divide: network 1's labelled samples only
    run_select_stage(
        run=Run("digits", "sym40", 0, warmup="dm", method="uniform", fraction="0.5"),
        inputs={"labels": labels},
        outputs={"subset": str(tmp_path / "subset.parquet"), "timing": str(tmp_path / "timing.json")},
        method_entry={"pruner": "uniform"},
        code_hash="test",
    )
    run_retrain_stage(
        run=Run("digits", "sym40", 0, warmup="dm", method="uniform", fraction="0.5", learner="sop"),
        inputs={"labels": labels, "subset": str(tmp_path / "subset.parquet")},
        outputs={
            "metrics": str(tmp_path / "metrics.json"),
            "history": str(tmp_path / "h.parquet"),
            "relabels": str(tmp_path / "r.parquet"),
        },
        training=TrainingEntries(
            "learners.sop",
            {"learner": "sop", "epochs": 2, "batch_size": 64, "lr": 0.05, "lr_u": 10, "lr_v": 100},
            mlp,
            digits,
        ),
        compute=compute,
        code_hash="test",
    )
    relabels = read_table(tmp_path / "r.parquet", RELABELS)
    assert len(relabels.numpy("sample_id")) == 1257 and relabels.numpy("in_subset").sum() == 629
    metrics = read_json(tmp_path / "metrics.json")["metrics"]
    assert 0 <= metrics["relabel_acc_subset_noisy"] <= 1 and metrics["subset_size"] == 629
    curve = read_table(tmp_path / "h.parquet", HISTORY).numpy("test_acc")  # 2 epochs: both means alike
    assert metrics["test_acc_mean_all"] == pytest.approx(curve.mean()) == metrics["test_acc_mean_last10"]
    # peak memory, by its CPU stand-in (the process's peak resident memory), for sizing requests
    timing = read_json(tmp_path / "metrics.json")["timing"]
    history = read_table(outputs["history"], HISTORY).metadata
    for record in (timing, history):
        assert record["peak_memory_source"] == "process_max_rss" and record["peak_memory_mb"] > 50


def test_init_from_the_warmup_checkpoint_starts_every_network_there(tmp_path):
    x, clean, noisy = blob_images(120)
    data = ArrayDataset("blobs", x, clean, *blob_images(30, seed=1)[:2], ("a", "b", "c"))
    torch.manual_seed(7)
    start = build_model(MLP, (1, 4, 4), CLASSES).state_dict()
    entry = {
        "learner": "elr_plus",
        "epochs": 1,
        "batch_size": 32,
        "lr": 1e-12,
        "momentum": 0.0,
        "nesterov": False,
        "weight_decay": 0.0,
    }
    result = train_on_samples(
        TrainingJob(entry, MLP, seed=0, inference_batch_size=64),
        data,
        noisy,
        np.arange(120),
        torch.device("cpu"),
        init_state=start,
    )
    for network in result.ctx.models:
        for key, value in network.state_dict().items():
            if value.is_floating_point() and "running" not in key:
                assert torch.allclose(value, start[key], atol=1e-6), key


def test_init_from_a_checkpoint_of_another_architecture_is_refused(tmp_path):
    from noisyprune.errors import ArtifactError
    from noisyprune.stages.common import save_checkpoint
    from noisyprune.stages.retrain import warmup_weights

    path = str(tmp_path / "model.pt")
    save_checkpoint(build_model(MLP, (1, 4, 4), CLASSES), {"name": "mlp", **MLP}, (1, 4, 4), CLASSES, path)
    assert set(warmup_weights(path, {"name": "other", **MLP}, torch.device("cpu"))) > set()
    with pytest.raises(ArtifactError, match="differs from the learner's"):
        warmup_weights(path, {"arch": "mlp", "hidden": [8]}, torch.device("cpu"))
    with pytest.raises(ArtifactError, match="no warm-up checkpoint"):
        warmup_weights(None, MLP, torch.device("cpu"))


def test_a_subset_missing_a_class_is_reported_and_an_empty_subset_refused(tmp_path):
    import json

    from noisyprune.artifacts import LABELS, SUBSET, read_table, write_table
    from noisyprune.errors import ArtifactError
    from noisyprune.stages.interface import Compute, Run, TrainingEntries
    from noisyprune.stages.noise import run_noise_stage
    from noisyprune.stages.retrain import run_retrain_stage

    digits = {"loader": "digits", "model": "mlp"}
    labels_path = str(tmp_path / "labels.parquet")
    run_noise_stage(
        run=Run("digits", "none", 0),
        outputs={"labels": labels_path},
        dataset_entry=digits,
        noise_entry={"kind": "none"},
    )
    noisy = read_table(labels_path, LABELS).numpy("noisy_label")

    def subset_of(ids, name):
        path = tmp_path / f"{name}.parquet"
        write_table(
            {"sample_id": ids, "rank": np.arange(len(ids)), "score": np.zeros(len(ids))},
            path,
            SUBSET,
            metadata={
                "method": "uniform",
                "method_entry": {"pruner": "uniform"},
                "select_seed": 0,
                "budget": len(ids),
                "fraction": 0.5,
                "num_candidates": len(noisy),
                "noise_rate": 0.0,
                "class_counts": {},
            },
        )
        return str(path)

    common = dict(
        run=Run("digits", "none", 0, warmup="ce", method="uniform", fraction="0.5", learner="ce"),
        training=TrainingEntries(
            "learners.ce",
            {"learner": "ce", "epochs": 1, "batch_size": 64},
            {"name": "mlp", "arch": "mlp", "hidden": [8]},
            digits,
        ),
        compute=Compute(device="cpu", threads=1, inference_batch_size=512),
        code_hash="t",
    )

    def outputs(metrics):
        return {
            "metrics": str(metrics),
            "history": str(tmp_path / "h.parquet"),
            "relabels": str(tmp_path / "r.parquet"),
        }

    without_3_and_7 = np.flatnonzero(~np.isin(noisy, [3, 7]))
    inputs = {"labels": labels_path, "subset": subset_of(without_3_and_7, "s")}
    run_retrain_stage(**common, inputs=inputs, outputs=outputs(tmp_path / "m.json"))
    assert json.loads((tmp_path / "m.json").read_text())["metrics"]["subset_missing_classes"] == "3,7"
    inputs = {"labels": labels_path, "subset": subset_of(np.zeros(0, np.int64), "e")}
    with pytest.raises(ArtifactError, match="subset is empty"):
        run_retrain_stage(**common, inputs=inputs, outputs=outputs(tmp_path / "e.json"))
    assert not (tmp_path / "e.json").exists()
