"""IEG: the meta step's example weights and keep/guess switch, its loss terms, and its readout."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from noisyprune.training.learners import build_learner
from noisyprune.training.learners.ieg import (
    approximate_beta_mix,
    consistency_loss,
    guess_labels,
    ieg_meta_step,
    logit_norm,
    look_ahead_extras,
)

CENTRES = torch.tensor([[2.0, 2.0], [-2.0, 2.0], [-2.0, -2.0], [2.0, -2.0]])


def _toy(seed, n=120, flip_every=4):
    """Four Gaussian blobs in 2-d; every ``flip_every``-th label moved to another class at random;
    a clean, class-balanced probe batch of 40."""
    g = torch.Generator().manual_seed(seed)
    clean = torch.arange(n) % 4
    x = CENTRES[clean] + torch.randn(n, 2, generator=g)
    flipped = torch.arange(n) % flip_every == 0
    other = (clean + 1 + torch.randint(0, 3, (n,), generator=g)) % 4
    noisy = torch.where(flipped, other, clean)
    probe_y = torch.arange(40) % 4
    probe_x = CENTRES[probe_y] + torch.randn(40, 2, generator=g)
    return x, clean, noisy, flipped, probe_x, probe_y


def _fitted_network(x, y, seed):
    """A small network with BatchNorm fitted on ``y`` for a few full-batch steps (plain SGD), and its
    optimiser."""
    torch.manual_seed(seed)
    network = nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))
    optimiser = torch.optim.SGD(network.parameters(), lr=0.1)
    for _ in range(30):
        optimiser.zero_grad()
        F.cross_entropy(network(x), y).backward()
        optimiser.step()
    return network, optimiser


def _meta_step(seed, flip_every=4):
    x, clean, noisy, flipped, probe_x, probe_y = _toy(seed, flip_every=flip_every)
    network, optimiser = _fitted_network(x, clean, seed)
    logits = network(x)
    strong_logits = network(x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed)))
    running = network[1].running_mean.clone()  # after the real forwards: the meta step must not move it
    with torch.no_grad():
        guessed = guess_labels(logits, strong_logits, temperature=0.5)
    decision = ieg_meta_step(
        network,
        logits,
        F.one_hot(noisy, 4).float(),
        guessed,
        probe_x,
        probe_y,
        meta_lr=0.1,
        grad_eps_init=0.9,
        optimizer=optimiser,
        meta_momentum=0.9,
    )
    return decision, flipped, guessed, clean, running, network, logits


def test_switch_picks_the_guessed_label_for_planted_flips_far_more_often_than_for_clean_samples():
    guess_flipped, guess_clean = [], []
    for seed in range(5):
        decision, flipped, guessed, clean, *_ = _meta_step(seed)
        assert float((guessed.argmax(1) == clean).float().mean()) > 0.85  # the guesses are informative
        guess_flipped.append((~decision.keep_label[flipped]).float().mean())
        guess_clean.append((~decision.keep_label[~flipped]).float().mean())
    flipped_rate, clean_rate = float(torch.stack(guess_flipped).mean()), float(torch.stack(guess_clean).mean())
    # measured: 0.95 against 0.23 (a clean sample whose guess equals its label has no stake in the switch)
    assert flipped_rate > 0.85 and clean_rate < 0.35
    assert all(f > c for f, c in zip(guess_flipped, guess_clean))


def test_weights_are_non_negative_sum_to_one_favour_clean_samples_and_leave_batchnorm_alone():
    decision, flipped, _, _, running, network, logits = _meta_step(0)
    assert decision.weights.shape == (120,) and (decision.weights >= 0).all()
    assert float(decision.weights.sum()) == pytest.approx(1.0, abs=1e-5)
    assert float(decision.weights[flipped].sum()) < 0.1  # 25% of the batch, < 10% of the weight
    assert torch.equal(network[1].running_mean, running)
    assert logits.grad_fn is not None  # the graph survives for the final loss
    logits.sum().backward()


def test_guessed_labels_are_the_sharpened_mean_of_the_two_normalised_views():
    weak = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    strong = torch.tensor([[1.0, 1.0, 0.0], [0.0, 3.0, 0.0]])
    p = (F.softmax(logit_norm(weak), 1) + F.softmax(logit_norm(strong), 1)) / 2
    expected = p**2 / (p**2).sum(1, keepdim=True)
    assert torch.allclose(guess_labels(weak, strong, 0.5), expected)
    assert torch.allclose(logit_norm(weak).pow(2).mean(), torch.tensor(1.0), atol=1e-6)
    assert torch.allclose(guess_labels(weak, strong, 0.5).sum(1), torch.ones(2))


def test_consistency_term_is_the_batch_mean_kl_divergence():
    g = torch.Generator().manual_seed(0)
    weak, strong = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    expected = F.kl_div(F.log_softmax(strong, 1), F.log_softmax(weak, 1), log_target=True, reduction="batchmean")
    assert float(consistency_loss(weak, strong)) == pytest.approx(float(expected), rel=1e-5)
    assert float(consistency_loss(weak, weak)) == pytest.approx(0.0, abs=1e-6)


def test_mixup_coefficients_follow_the_folded_approximate_beta():
    torch.manual_seed(0)
    mix = approximate_beta_mix(20000, 0.5, torch.device("cpu"))
    assert float(mix.min()) >= 0.5 and float(mix.max()) <= 1.0
    # m = u²/2 for β = 0.5, so 1 − m has mean 1 − 1/6
    assert float(mix.mean()) == pytest.approx(1 - 1 / 6, abs=0.01)


def test_look_ahead_adds_weight_decay_and_the_momentum_buffer():
    layer = nn.Linear(3, 2)
    optimiser = torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
    before = look_ahead_extras(optimiser, layer.weight, 0.9)
    assert torch.allclose(before, 0.01 * layer.weight.detach())  # no buffer before the first step
    layer(torch.ones(1, 3)).sum().backward()
    optimiser.step()
    buffer = optimiser.state[layer.weight]["momentum_buffer"]
    assert torch.allclose(look_ahead_extras(optimiser, layer.weight, 0.9), 0.01 * layer.weight.detach() + 0.9 * buffer)
    assert torch.allclose(look_ahead_extras(optimiser, layer.weight, 0.0), 0.01 * layer.weight.detach())


def test_readout_is_the_last_effective_label_where_seen_and_the_prediction_elsewhere():
    learner = build_learner("ieg", {})
    learner.effective_label = torch.tensor([2, -1, 0, -1])
    logits = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    relabel = learner.relabel(None, torch.tensor([0, 1, 2, 3]), torch.tensor([1, 1, 1, 1]), logits)
    assert relabel.tolist() == [2, 2, 0, 0]


def test_training_records_effective_labels_that_fix_flips_and_evaluates_the_weight_average():
    from noisyprune.data.base import ArrayDataset
    from noisyprune.training.job import TrainingJob
    from noisyprune.training.run import train_on_samples

    rng = np.random.default_rng(0)
    clean = np.arange(400) % 4
    x = (CENTRES.numpy()[clean] + rng.normal(size=(400, 2))).astype(np.float32).reshape(400, 1, 1, 2)
    flip = rng.random(400) < 0.3
    noisy = np.where(flip, (clean + 1 + rng.integers(0, 3, 400)) % 4, clean)
    probe = np.arange(40)
    noisy[probe] = clean[probe]
    flip[probe] = False
    data = ArrayDataset("blobs", x, clean, x[:100], clean[:100], ("a", "b", "c", "d"))
    entry = {
        "learner": "ieg",
        "epochs": 6,
        "batch_size": 40,
        "lr": 0.05,
        "probe_batch_size": 40,
        "ce_factor": 1.0,
        "consistency_factor": 1.0,
        "ema_decay": 0.9,
    }
    result = train_on_samples(
        TrainingJob(entry, {"arch": "mlp", "hidden": [16]}, seed=0, inference_batch_size=100),
        data,
        noisy,
        np.arange(40, 400),
        torch.device("cpu"),
        probe_ids=probe,
    )
    learner, ctx = result.learner, result.ctx
    effective = learner.effective_label.numpy()
    assert (effective[40:] >= 0).all() and (effective[:40] == -1).all()  # probe samples are never trained on
    trained = np.arange(40, 400)
    assert (effective[trained] == clean[trained])[flip[trained]].mean() > 0.7  # most flips corrected
    assert (effective[trained] == clean[trained])[~flip[trained]].mean() > 0.9
    live = ctx.model(torch.as_tensor(x[:5]))
    assert not torch.allclose(learner.predict_logits(ctx, torch.as_tensor(x[:5]), 5), live)  # the average


def test_the_probe_loss_carries_the_look_ahead_parameters_weight_decay():
    """The original's meta_loss = CE(probe; θ') + regularisation of θ' (λ/2 ‖θ'‖², λ the network's
    weight decay); checked by central differences w.r.t. the example weights in float64."""
    from torch.func import functional_call

    x, _, noisy, _, probe_x, probe_y = _toy(0, n=12)
    x, probe_x = x.double(), probe_x.double()
    torch.manual_seed(0)
    network = nn.Linear(2, 4).double()
    decay, meta_lr = 0.05, 0.5
    optimiser = torch.optim.SGD(network.parameters(), lr=0.1, weight_decay=decay)
    onehot = F.one_hot(noisy, 4).double()
    guessed = torch.full((12, 4), 0.25, dtype=torch.float64)
    params = {name: p.detach() for name, p in network.named_parameters()}

    def objective(weights):
        live = {name: p.clone().requires_grad_(True) for name, p in params.items()}
        mixed = 0.9 * onehot + 0.1 * guessed
        logits = functional_call(network, live, (x,))
        loss = (weights * -(mixed * F.log_softmax(logits, dim=1)).sum(1)).sum()
        grads = torch.autograd.grad(loss, list(live.values()))
        stepped = {n: p - meta_lr * (g + decay * p) for (n, p), g in zip(params.items(), grads, strict=True)}
        probe = F.cross_entropy(functional_call(network, stepped, (probe_x,)), probe_y)
        return float(probe + decay / 2 * sum(p.pow(2).sum() for p in stepped.values()))

    w0, h = torch.full((12,), 1 / 12, dtype=torch.float64), 1e-6
    gradient = torch.tensor(
        [(objective(w0 + h * e) - objective(w0 - h * e)) / (2 * h) for e in torch.eye(12).double()], dtype=torch.float64
    )
    expected = gradient.neg().clamp(min=0)
    expected = expected / expected.sum()
    for with_decay in (True, False):
        decision = ieg_meta_step(
            network, network(x), onehot, guessed, probe_x, probe_y, meta_lr=meta_lr, grad_eps_init=0.9,
            optimizer=optimiser, probe_weight_decay=with_decay,
        )  # fmt: skip
        assert torch.allclose(decision.weights.double(), expected, atol=1e-6) == with_decay


def _original_meta_objective(network, x, strong_x, onehot, probe_x, probe_y, meta_lr, guess_follows_theta):
    """A transcription of the original's meta step as a function of the example weights and label
    mixes (google-research ieg ``meta_optimize``): θ' = θ − meta_lr · ∇_θ Σ_i w_i CE(ε_i·y_i +
    (1 − ε_i)·g_i, f(x_i; θ)), where the guess g = sharpen(mean softmax(logit_norm(f(x)),
    logit_norm(f(x̂))), 0.5) is a function of θ (``guess_follows_theta``, the original: the guess is
    read before its stop-gradient) or a constant; returns CE(probe; θ')."""
    from torch.func import functional_call

    params = {name: p.detach() for name, p in network.named_parameters()}

    def objective(weights, eps):
        live = {name: p.clone().requires_grad_(True) for name, p in params.items()}
        logits = functional_call(network, live, (x,))
        guess = guess_labels(logits, functional_call(network, live, (strong_x,)), 0.5)
        if not guess_follows_theta:
            guess = guess.detach()
        mixed = eps[:, None] * onehot + (1 - eps[:, None]) * guess
        loss = (weights * -(mixed * F.log_softmax(logits, dim=1)).sum(1)).sum()
        grads = torch.autograd.grad(loss, list(live.values()))
        stepped = {n: p - meta_lr * g for (n, p), g in zip(params.items(), grads, strict=True)}
        return float(F.cross_entropy(functional_call(network, stepped, (probe_x,)), probe_y))

    return objective


def test_meta_guess_gradient_differentiates_the_look_ahead_through_the_guess_as_the_original():
    """By central differences on a tiny float64 model: with the guess carrying its graph (the
    original, ``meta_guess_gradient: true``) the example weights and the keep/guess switch are those
    of the transcription where the guess follows θ; detached (the default), those where it is a
    constant. The two differ on this batch, so each test can tell them apart."""
    x, _, noisy, _, probe_x, probe_y = _toy(1, n=12)
    x, probe_x = x.double(), probe_x.double()
    strong_x = x + 0.5 * torch.randn(x.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    torch.manual_seed(1)
    network = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 4)).double()
    onehot = F.one_hot(noisy, 4).double()
    meta_lr, h = 1.0, 1e-6
    w0 = torch.full((12,), 1 / 12, dtype=torch.float64)
    e0 = torch.full((12,), 0.9, dtype=torch.float64)
    expected = {}
    for follows in (True, False):
        objective = _original_meta_objective(network, x, strong_x, onehot, probe_x, probe_y, meta_lr, follows)
        basis = torch.eye(12, dtype=torch.float64)
        grad_w = [(objective(w0 + h * e, e0) - objective(w0 - h * e, e0)) / (2 * h) for e in basis]
        grad_e = [(objective(w0, e0 + h * e) - objective(w0, e0 - h * e)) / (2 * h) for e in basis]
        grad_w, grad_e = torch.tensor(grad_w, dtype=torch.float64), torch.tensor(grad_e, dtype=torch.float64)
        weights = grad_w.neg().clamp(min=0)
        expected[follows] = (weights / weights.sum(), grad_e < 0)
    assert not torch.allclose(expected[True][0], expected[False][0], atol=1e-3)  # the guess's path matters here
    assert not torch.equal(expected[True][1], expected[False][1])
    for follows in (True, False):
        logits = network(x)
        guessed = guess_labels(logits, network(strong_x), 0.5)
        decision = ieg_meta_step(
            network, logits, onehot, guessed if follows else guessed.detach(), probe_x, probe_y,
            meta_lr=meta_lr, grad_eps_init=0.9,
        )  # fmt: skip
        assert torch.allclose(decision.weights.double(), expected[follows][0], atol=1e-6)
        assert torch.equal(decision.keep_label, expected[follows][1])


def test_the_learner_passes_the_guess_with_its_graph_only_when_asked():
    """``meta_guess_gradient`` reaches the meta step as a guess that requires grad (true) or not
    (false, the default); the final loss's guess is detached either way."""
    from unittest import mock

    seen = []

    def spy(network, logits, onehot, guessed, *args, **kwargs):
        seen.append(guessed.requires_grad)
        return original(network, logits, onehot, guessed, *args, **kwargs)

    import noisyprune.training.learners.ieg as ieg_module

    original = ieg_module.ieg_meta_step
    with mock.patch.object(ieg_module, "ieg_meta_step", spy):
        for flag in (False, True):
            _train_blobs({"meta_guess_gradient": flag}, epochs=1)
    assert seen and not any(seen[: len(seen) // 2]) and all(seen[len(seen) // 2 :])
    assert build_learner("ieg", {}).meta_guess_gradient is False


def _train_blobs(extra, epochs):
    from noisyprune.data.base import ArrayDataset
    from noisyprune.training.job import TrainingJob
    from noisyprune.training.run import train_on_samples

    rng = np.random.default_rng(0)
    clean = np.arange(120) % 4
    x = (CENTRES.numpy()[clean] + rng.normal(size=(120, 2))).astype(np.float32).reshape(120, 1, 1, 2)
    data = ArrayDataset("blobs", x, clean, x[:40], clean[:40], ("a", "b", "c", "d"))
    entry = {"learner": "ieg", "epochs": epochs, "batch_size": 40, "lr": 0.05, "probe_batch_size": 20, **extra}
    return train_on_samples(
        TrainingJob(entry, {"arch": "mlp", "hidden": [8]}, seed=0, inference_batch_size=100),
        data,
        clean,
        np.arange(20, 120),
        torch.device("cpu"),
        probe_ids=np.arange(20),
    )
