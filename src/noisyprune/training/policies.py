"""RandAugment and AutoAugment with an independent draw per sample, applied to whole batches.

torchvision's ``RandAugment``/``AutoAugment`` draw one operation and magnitude per call and apply
it to everything they are given, so calling them on a batch gives every sample the same
augmentation. Here each sample draws its own (from a seeded generator, on the host), and the batch
is augmented *by draw*: the samples that drew the same operation and magnitude go through one call
of torchvision's own implementation of that operation. A batch costs one call per distinct draw
(at most ~25 per RandAugment round, whatever the batch size), the result for every sample is exactly
what torchvision's policy computes for it alone, and the indices come from the host, so nothing
waits on the device.

Sampling follows torchvision: RandAugment applies ``num_ops`` (2) operations drawn uniformly from
its 14, at magnitude bin 9 of 31, with a random sign for the signed ones; AutoAugment (the CIFAR-10
policy) draws one of its 25 sub-policies and applies each of its two operations with that
operation's probability. The operation table and magnitudes are read from torchvision.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

POLICIES = ("randaugment", "autoaugment")


class PerSamplePolicy:
    """Strong augmentation policy ``name`` with one draw per sample (module docstring).

    ``group_size`` > 1 makes consecutive groups of that many samples share a draw (the cheaper,
    less random behaviour of calling torchvision on each group)."""

    def __init__(self, name: str, generator: torch.Generator, group_size: int = 1):
        from torchvision.transforms import v2

        if name not in POLICIES:
            raise ValueError(f"unknown policy {name!r}; use one of {POLICIES}")
        self.name, self.generator, self.group_size = name, generator, max(1, int(group_size))
        if name == "randaugment":
            self._transform = v2.RandAugment(num_ops=2, magnitude=9)
            self._operations = list(self._transform._AUGMENTATION_SPACE.items())
        else:
            self._transform = v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)
            self._subpolicies = self._transform._get_policies(v2.AutoAugmentPolicy.CIFAR10)
        self._tables: dict[tuple[int, int], list] = {}

    def draws(self, batch: int, height: int, width: int) -> list[list[tuple[str, float] | None]]:
        """The operations each of ``batch`` samples gets, in order: one list per step (round or
        sub-policy slot) holding ``(operation, magnitude)`` or ``None`` (skipped) per sample."""
        groups = -(-batch // self.group_size)
        steps = (
            self._draw_randaugment(groups, height, width)
            if self.name == "randaugment"
            else self._draw_autoaugment(groups, height, width)
        )
        return [[step[index // self.group_size] for index in range(batch)] for step in steps]

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        """Augment a ``uint8`` batch ``(B, C, H, W)``; returns a new ``uint8`` batch of the same shape."""
        batch, _, height, width = pixels.shape
        out = pixels
        for step in self.draws(batch, height, width):
            out = self._apply(out, step)
        return out

    def _uniform(self, size: int) -> np.ndarray:
        return torch.rand(size, generator=self.generator).numpy()

    def _integers(self, high: int, size: int) -> np.ndarray:
        return torch.randint(0, high, (size,), generator=self.generator).numpy()

    def _table(self, height: int, width: int) -> list:
        """Each operation's ``(name, magnitude, signed)`` for ``height`` × ``width`` images, per
        RandAugment operation or per AutoAugment sub-policy slot (with its probability), computed
        once per image size rather than once per sample."""
        key = (height, width)
        if key not in self._tables:

            def entry(name, bin_index, bins):
                magnitudes_fn, signed = self._transform._AUGMENTATION_SPACE[name]
                magnitudes = magnitudes_fn(bins, height, width)
                magnitude = 0.0 if magnitudes is None or bin_index is None else float(magnitudes[bin_index])
                return name, magnitude, signed

            if self.name == "randaugment":
                self._tables[key] = [
                    entry(name, self._transform.magnitude, self._transform.num_magnitude_bins)
                    for name, _ in self._operations
                ]
            else:  # AutoAugment's magnitudes come in 10 bins
                self._tables[key] = [
                    [(probability, *entry(name, bin_index, 10)) for name, probability, bin_index in slots]
                    for slots in self._subpolicies
                ]
        return self._tables[key]

    def _draw_randaugment(self, count: int, height: int, width: int):
        table = self._table(height, width)
        steps = []
        for _ in range(self._transform.num_ops):
            chosen, flips = self._integers(len(table), count), self._uniform(count) <= 0.5
            steps.append([_signed(*table[index], flip) for index, flip in zip(chosen, flips)])
        return steps

    def _draw_autoaugment(self, count: int, height: int, width: int):
        table = self._table(height, width)
        chosen = self._integers(len(table), count)
        steps = []
        for slot in range(2):
            applied, flips = self._uniform(count), self._uniform(count) <= 0.5
            step = []
            for index, draw, flip in zip(chosen, applied, flips):
                probability, *operation = table[index][slot]
                step.append(None if draw > probability else _signed(*operation, flip))
            steps.append(step)
        return steps

    def _apply(self, pixels: torch.Tensor, step: list[tuple[str, float] | None]) -> torch.Tensor:
        by_draw: dict[tuple[str, float], list[int]] = defaultdict(list)
        for index, draw in enumerate(step):
            if draw is not None and draw[0] != "Identity":
                by_draw[draw].append(index)
        if not by_draw:
            return pixels
        out = pixels.clone()
        for (name, magnitude), rows in sorted(by_draw.items()):
            rows = torch.as_tensor(rows, device=pixels.device)
            out[rows] = self._transform._apply_image_or_video_transform(
                pixels[rows], name, magnitude, interpolation=self._transform.interpolation, fill=self._transform._fill
            )
        return out


def _signed(name: str, magnitude: float, signed: bool, flip: bool) -> tuple[str, float]:
    """The draw ``(name, ±magnitude)``: negated when the operation is signed and the coin ``flip`` says so."""
    return name, -magnitude if signed and flip else magnitude
