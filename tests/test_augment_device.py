"""The device-resident data path: batches keep labels with their sample ids, augmentation is
drawn per sample (the strong policy included), and a seed fixes the first batch."""

from collections import Counter

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from noisyprune.training.augment import AugmentationSpec, Augmenter
from noisyprune.training.data import TensorData
from noisyprune.training.policies import PerSamplePolicy


def _images(n=64, channels=1, side=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, channels, side, side, generator=g) * 255).to(torch.uint8)


@pytest.mark.parametrize("name,channels", [("randaugment", 1), ("autoaugment", 3)])
def test_strong_policy_draws_per_sample_and_each_sample_gets_torchvisions_own_result(name, channels):
    one = _images(1, channels)
    batch = one.expand(64, -1, -1, -1).contiguous()  # 64 copies of one image
    policy = PerSamplePolicy(name, torch.Generator().manual_seed(3))
    draws = PerSamplePolicy(name, torch.Generator().manual_seed(3)).draws(64, 16, 16)
    out = policy(batch)
    assert out.dtype == torch.uint8 and out.shape == batch.shape
    assert len({tuple(image.flatten().tolist()) for image in out}) > 20  # not one draw for the batch
    transform = policy._transform
    for index in (0, 5, 17, 63):  # replay sample i's own draws through torchvision, one image at a time
        expected = one
        for step in draws:
            if step[index] is not None:
                expected = transform._apply_image_or_video_transform(
                    expected, *step[index], interpolation=transform.interpolation, fill=transform._fill
                )
        assert torch.equal(out[index], expected[0])


def test_randaugment_draws_every_operation_about_equally_often_with_both_signs():
    draws = PerSamplePolicy("randaugment", torch.Generator().manual_seed(0)).draws(7000, 28, 28)
    counts = Counter(name for step in draws for name, _ in step)
    assert len(counts) == 14 and all(abs(count / 14000 - 1 / 14) < 0.015 for count in counts.values())
    rotations = [magnitude for step in draws for name, magnitude in step if name == "Rotate"]
    assert set(rotations) == {9.0, -9.0}  # bin 9 of 31 → 9°, either sign
    assert abs(sum(r > 0 for r in rotations) / len(rotations) - 0.5) < 0.06


def test_group_size_shares_a_draw_within_each_group_only():
    draws = PerSamplePolicy("randaugment", torch.Generator().manual_seed(1), group_size=4).draws(16, 28, 28)
    for step in draws:
        for start in range(0, 16, 4):
            assert len(set(step[start : start + 4])) == 1
    assert len({tuple(step[i] for step in draws) for i in range(0, 16, 4)}) > 1


def _augmenter(seed, spec=None):
    spec = spec or AugmentationSpec(shift=2, flip=True, strong="randaugment", cutout=4)
    return Augmenter(spec, 0.5, 0.25, torch.Generator().manual_seed(seed))


def test_weak_and_strong_views_differ_per_sample():
    x = ((_images(32).float() / 255) - 0.5) / 0.25
    same = x[:1].expand(32, -1, -1, -1)
    augmenter = _augmenter(0)
    weak, strong = augmenter.weak(same), augmenter.strong(same)
    assert len({tuple(image.flatten().tolist()) for image in weak}) > 10
    assert len({tuple(image.flatten().tolist()) for image in strong}) == 32


def test_batches_keep_each_label_with_its_sample_id_as_a_data_loader_does():
    x = torch.arange(50, dtype=torch.float32).reshape(50, 1, 1, 1)
    y, ids = torch.arange(50) % 7, torch.arange(100, 150)
    data = TensorData(x, y, ids)
    order = torch.randperm(50, generator=torch.Generator().manual_seed(4))
    loader = DataLoader(TensorDataset(x, y, ids), batch_size=16, sampler=order.tolist())
    batches = list(data.batches(16, generator=torch.Generator().manual_seed(4)))
    assert len(batches) == len(loader) == 4
    for ours, (lx, ly, lid) in zip(batches, loader):
        assert torch.equal(ours.x, lx) and torch.equal(ours.y, ly) and torch.equal(ours.sample_id, lid)
        assert torch.equal(ours.y, (ours.sample_id - 100) % 7)  # every row's label is its own sample's


def test_a_seed_fixes_the_first_batch_and_its_views_on_every_run():
    x = ((_images(40).float() / 255) - 0.5) / 0.25
    data = TensorData(x, torch.arange(40) % 4, torch.arange(40))

    def first(seed):
        batch_generator = torch.Generator().manual_seed(seed)
        batch = next(iter(data.batches(8, generator=batch_generator)))
        augmenter = _augmenter(seed)
        return batch.sample_id, augmenter.weak(batch.x), augmenter.strong(batch.x)

    runs = [first(7), first(7)]
    for a, b in zip(*runs):
        assert torch.equal(a, b)
    other = first(8)
    assert not torch.equal(runs[0][0], other[0]) and not torch.equal(runs[0][2], other[2])
