"""RDIA-LS: the forget-rate schedule, the clean / harmful / dropped split, and the loss by formula."""

import math

import pytest
import torch
import torch.nn.functional as F

from noisyprune.training.learners.rdia_ls import RDIALS, forget_rate, split_by_loss


def test_forget_rate_ramps_linearly_from_zero_to_the_noise_rate():
    # epochs count from 1: 0 in epoch 1, noise_rate from epoch num_gradual on
    rates = [forget_rate(e, 0.4, 5) for e in range(1, 8)]
    assert rates == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.4, 0.4])
    assert forget_rate(1, 0.4, 1) == 0.4  # no ramp


def test_split_keeps_smallest_losses_drops_largest_and_relabels_the_band():
    losses = torch.tensor([0.1, 5.0, 0.3, 2.0, 0.2, 9.0, 1.0, 0.4, 3.0, 0.5])
    clean, harmful = split_by_loss(losses, forget=0.4, drop=0.2)  # keep 6, drop 2 → band of 2
    assert sorted(clean.tolist()) == [0, 2, 4, 6, 7, 9]
    assert sorted(harmful.tolist()) == [3, 8]  # 2.0 and 3.0; 5.0 and 9.0 dropped


def test_loss_is_clean_ce_in_the_warmup_then_adds_the_relabeling_term():
    torch.manual_seed(0)
    logits = torch.randn(10, 3)
    labels = torch.randint(0, 3, (10,))
    learner = RDIALS(noise_rate=0.4, clean_weight=0.3, init_epoch=2, num_gradual=3)
    losses = F.cross_entropy(logits, labels, reduction="none")
    # epoch 2 (warm-up): forget 0.2 → the 8 smallest losses
    clean, _ = split_by_loss(losses, forget_rate(2, 0.4, 3), 0.2)
    assert learner.batch_loss(logits, labels, 2) == pytest.approx(float(losses[clean].mean()))
    # epoch 3: forget 0.4 → 6 clean, 2 dropped, 2 harmful
    clean, harmful = split_by_loss(losses, 0.4, 0.2)
    p_given = F.softmax(logits, dim=1)[torch.arange(10), labels]
    expected = 0.3 * float(losses[clean].mean()) + 0.7 * sum(-math.log(1 - float(p_given[i])) for i in harmful) / 10
    assert learner.batch_loss(logits, labels, 3) == pytest.approx(expected, rel=1e-5)


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


def test_double_softmax_reproduces_the_originals_flatter_losses():
    torch.manual_seed(1)
    logits, labels = torch.randn(8, 4) * 5, torch.randint(0, 4, (8,))
    faithful = RDIALS(noise_rate=0.0, init_epoch=5, double_softmax=True).batch_loss(logits, labels, 1)
    assert faithful == pytest.approx(float(F.cross_entropy(F.softmax(logits, dim=1), labels)))
    with pytest.raises(ValueError, match="noise_rate"):
        RDIALS(noise_rate=1.0)
