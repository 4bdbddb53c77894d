"""RDIA-LS: the forget-rate schedule, the clean / harmful / dropped split, and the loss by formula."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from noisyprune.training.learners.rdia_ls import RDIALS, forget_rate, split_by_loss


def test_forget_rate_follows_the_originals_rate_schedule_indexed_by_epoch():
    """The original: rate_schedule = ones(n_epoch) * r; rate_schedule[:G] = linspace(0, r, G);
    epoch e (from 1) reads rate_schedule[e], so the full rate arrives in epoch G − 1, not G."""
    num_gradual, rate = 5, 0.4
    schedule = np.ones(12) * rate
    schedule[:num_gradual] = np.linspace(0, rate, num_gradual)
    assert [forget_rate(e, rate, num_gradual) for e in range(1, 12)] == pytest.approx(schedule[1:12].tolist())
    assert forget_rate(4, rate, num_gradual) == pytest.approx(rate)  # epoch G − 1
    assert forget_rate(1, 0.4, 1) == 0.4  # no ramp


def test_split_keeps_smallest_losses_drops_largest_and_relabels_the_band():
    losses = torch.tensor([0.1, 5.0, 0.3, 2.0, 0.2, 9.0, 1.0, 0.4, 3.0, 0.5])
    clean, harmful = split_by_loss(losses, forget=0.4, drop=0.2)  # keep 6, drop 2 → band of 2
    assert sorted(clean.tolist()) == [0, 2, 4, 6, 7, 9]
    assert sorted(harmful.tolist()) == [3, 8]  # 2.0 and 3.0; 5.0 and 9.0 dropped


def original_loss_rdia(y_1, t, forget_rate, noise_rate, gamma):
    """RDIA-LS's ``loss_RDIA`` (RDIA-LS/loss.py) transcribed: ranked on CE of the logits; the clean
    term is CE of the *softmax* outputs (mean over the clean set); the band term is F.nll_loss of
    log(clamp(1 − softmax, 1e-7, 1)) with its default mean over the band, then summed and divided
    by the batch size; the constant it subtracts is left out (no gradient)."""
    outputs = F.softmax(y_1, dim=1)
    loss_1 = F.cross_entropy(y_1, t, reduction="none")
    ind_1_sorted = np.argsort(loss_1.detach().numpy())
    loss_1_sorted = loss_1[ind_1_sorted]
    num_remember = int((1 - forget_rate) * len(loss_1_sorted))
    negative_number = int(noise_rate / 2 * len(loss_1_sorted))
    ind_1_update = ind_1_sorted[:num_remember]
    ind_1_unsure = ind_1_sorted[num_remember:-negative_number]
    loss_1_update = F.cross_entropy(outputs[ind_1_update], t[ind_1_update])
    s1_neg = torch.log(torch.clamp(1.0 - F.softmax(y_1, dim=1), min=1e-7, max=1.0))
    loss_1_neg = F.nll_loss(s1_neg[ind_1_unsure], t[ind_1_unsure])
    return gamma * torch.sum(loss_1_update) + (1 - gamma) * torch.sum(loss_1_neg) / len(loss_1_sorted)


def original_loss_warmup(y_1, t, forget_rate):
    """RDIA-LS's ``loss_warmup``: the clean-set mean of CE on the logits, divided by the number kept."""
    loss_1 = F.cross_entropy(y_1, t, reduction="none")
    ind_1_sorted = np.argsort(loss_1.detach().numpy())
    num_remember = int((1 - forget_rate) * len(ind_1_sorted))
    kept = ind_1_sorted[:num_remember]
    return torch.sum(F.cross_entropy(y_1[kept], t[kept])) / num_remember


@pytest.mark.parametrize("seed", range(5))
def test_the_loss_after_warmup_is_the_originals_loss_rdia(seed):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(128, 10, generator=generator) * 3
    labels = torch.randint(0, 10, (128,), generator=generator)
    learner = RDIALS(noise_rate=0.8, clean_weight=0.2, init_epoch=10, num_gradual=10, double_softmax=True)
    expected = original_loss_rdia(logits, labels, forget_rate(12, 0.8, 10), 0.8, 0.2)
    assert float(learner.batch_loss(logits, labels, 12)) == pytest.approx(float(expected), rel=1e-6)
    # one softmax on the clean term unless double_softmax: only that term changes
    plain = RDIALS(noise_rate=0.8, clean_weight=1.0, init_epoch=10).batch_loss(logits, labels, 12)
    losses = F.cross_entropy(logits, labels, reduction="none")
    clean, _ = split_by_loss(losses, 0.8, 0.4)
    assert float(plain) == pytest.approx(float(losses[clean].mean()), rel=1e-6)


def test_the_relabel_term_is_a_mean_over_the_band_divided_by_the_batch_size():
    """80% noise, batch 128: 25 clean, 52 in the band, 51 dropped; the term is ~0.007, not ~0.38."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(128, 10, generator=generator)
    labels = torch.randint(0, 10, (128,), generator=generator)
    band_only = RDIALS(noise_rate=0.8, clean_weight=0.0, init_epoch=1).batch_loss(logits, labels, 20)
    clean, harmful = split_by_loss(F.cross_entropy(logits, labels, reduction="none"), 0.8, 0.4)
    assert (len(clean), len(harmful)) == (25, 52)
    p_given = F.softmax(logits, dim=1)[torch.arange(128), labels]
    band_mean = float(-torch.log(1 - p_given[harmful]).mean())
    assert float(band_only) == pytest.approx(band_mean / 128, rel=1e-6)
    assert float(band_only) < 0.01


def test_warmup_runs_before_init_epoch_on_the_clean_set_with_one_softmax():
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(64, 4, generator=generator) * 4
    labels = torch.randint(0, 4, (64,), generator=generator)
    losses = F.cross_entropy(logits, labels, reduction="none")
    for warmup_loss in ("mean", "original"):
        learner = RDIALS(noise_rate=0.4, init_epoch=10, num_gradual=10, double_softmax=True, warmup_loss=warmup_loss)
        for epoch in (1, 5, 9):  # the original warms up while epoch < init_epoch
            clean, _ = split_by_loss(losses, forget_rate(epoch, 0.4, 10), 0.2)
            mean = float(losses[clean].mean())  # one softmax even with double_softmax
            expected = mean if warmup_loss == "mean" else mean / len(clean)
            assert float(learner.batch_loss(logits, labels, epoch)) == pytest.approx(expected, rel=1e-6)
        if warmup_loss == "original":
            original = original_loss_warmup(logits, labels, forget_rate(5, 0.4, 10))
            assert float(learner.batch_loss(logits, labels, 5)) == pytest.approx(float(original), rel=1e-6)
        # epoch init_epoch is the first of the full loss
        full, warmup = learner.batch_loss(logits, labels, 10), learner.batch_loss(logits, labels, 9)
        assert float(full) != pytest.approx(float(warmup))


def test_relabeling_term_pushes_probability_away_from_a_harmful_label():
    logits = torch.zeros(10, 2, requires_grad=True)
    labels = torch.zeros(10, dtype=torch.long)
    with torch.no_grad():
        logits[:, 0] = torch.linspace(-2, 2, 10)  # larger logit of the given class = smaller loss
    learner = RDIALS(noise_rate=0.4, clean_weight=0.0, init_epoch=0, num_gradual=1)
    learner.batch_loss(logits, labels, 1).backward()
    _, harmful = split_by_loss(F.cross_entropy(logits.detach(), labels, reduction="none"), 0.4, 0.2)
    # gradient descent lowers the given class's logit of the harmful samples only
    assert (logits.grad[harmful, 0] > 0).all()
    others = [i for i in range(10) if i not in harmful.tolist()]
    assert (logits.grad[others] == 0).all()


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="noise_rate"):
        RDIALS(noise_rate=1.0)
    with pytest.raises(ValueError, match="warmup_loss"):
        RDIALS(warmup_loss="sum")
