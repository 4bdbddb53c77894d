"""The optimisers and schedules a training entry can ask for, against the originals' formulas."""

import pytest
import torch

from noisyprune.training.spec import TrainingSpec


def _lr_and_beta1_per_epoch(spec: TrainingSpec) -> list[tuple[float, float | None]]:
    """What the loop sees in each epoch 1 … spec.epochs (the scheduler steps after each epoch)."""
    optimizer = spec.build_optimizer([torch.nn.Parameter(torch.zeros(1))])
    scheduler = spec.build_scheduler(optimizer)
    seen = []
    for _ in range(spec.epochs):
        group = optimizer.param_groups[0]
        seen.append((group["lr"], group.get("betas", (None,))[0]))
        optimizer.step()
        scheduler.step()
    return seen


def test_linear_decay_with_adam_is_rdia_ls_alpha_plan_and_beta1_plan():
    """RDIA-LS.py: n_epoch = 200, lr 1e-3, decay from epoch 80 with β1 0.9 → 0.1; its loop trains
    epochs 1 … 199 and sets alpha_plan[epoch], beta1_plan[epoch] at the start of each."""
    n_epoch, lr, decay_start = 200, 1e-3, 80
    alpha_plan, beta1_plan = [lr] * n_epoch, [0.9] * n_epoch
    for i in range(decay_start, n_epoch):
        alpha_plan[i] = float(n_epoch - i) / (n_epoch - decay_start) * lr
        beta1_plan[i] = 0.1
    spec = TrainingSpec(
        epochs=n_epoch - 1, lr=lr, optimizer="adam", weight_decay=1e-5,
        schedule="linear_decay", decay_start=decay_start, beta1_after=0.1,
    )  # fmt: skip
    seen = _lr_and_beta1_per_epoch(spec)
    expected = [(alpha_plan[epoch], beta1_plan[epoch]) for epoch in range(1, n_epoch)]
    assert [lr for lr, _ in seen] == pytest.approx([lr for lr, _ in expected], rel=1e-12)
    assert [beta for _, beta in seen] == [beta for _, beta in expected]


def test_adam_gets_the_entrys_betas_and_weight_decay_and_sgd_stays_the_default():
    adam = TrainingSpec(epochs=1, lr=0.01, optimizer="adam", betas=(0.8, 0.99), weight_decay=1e-4)
    optimizer = adam.build_optimizer([torch.nn.Parameter(torch.zeros(2))])
    assert isinstance(optimizer, torch.optim.Adam)
    assert optimizer.param_groups[0]["betas"] == (0.8, 0.99)
    assert optimizer.param_groups[0]["weight_decay"] == 1e-4
    sgd = TrainingSpec(epochs=1).build_optimizer([torch.nn.Parameter(torch.zeros(2))])
    assert isinstance(sgd, torch.optim.SGD)
    assert TrainingSpec.from_entry({"epochs": 3, "betas": [0.5, 0.9]}).betas == (0.5, 0.9)


def test_a_restored_linear_decay_continues_where_it_stopped():
    spec = TrainingSpec(epochs=10, lr=1.0, optimizer="adam", schedule="linear_decay", decay_start=4, beta1_after=0.2)
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = spec.build_optimizer([parameter])
    scheduler = spec.build_scheduler(optimizer)
    for _ in range(5):
        optimizer.step()
        scheduler.step()
    saved = (optimizer.state_dict(), scheduler.state_dict())
    fresh_optimizer = spec.build_optimizer([parameter])
    fresh = spec.build_scheduler(fresh_optimizer)
    fresh_optimizer.load_state_dict(saved[0])
    fresh.load_state_dict(saved[1])
    for _ in range(3):
        optimizer.step(), scheduler.step()
        fresh_optimizer.step(), fresh.step()
        assert fresh_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
        assert fresh_optimizer.param_groups[0]["betas"] == optimizer.param_groups[0]["betas"] == (0.2, 0.999)
