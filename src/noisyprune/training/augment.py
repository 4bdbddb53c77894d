"""Weak and strong data augmentation applied to whole batches on the training device.

Datasets are held normalised in memory (``(x - mean) / std``), so augmentations that need pixel
values (RandAugment, AutoAugment) map a batch back to [0, 1], apply torchvision's policy and map it
back. The weak view is a random shift (pad, then crop at a random offset) plus an optional
horizontal flip, drawn per sample; the strong view is RandAugment or AutoAugment on top of the weak
view, plus Cutout drawn per sample.

The strong policy is drawn per sample too (:mod:`noisyprune.training.policies`): torchvision's
policies draw once per call, so a batch is augmented by draw, one torchvision call per distinct
operation and magnitude. ``group_size`` > 1 lets consecutive samples share a draw, which is
cheaper on a CPU (about 25 ms against 10 ms per 128 MNIST-sized images, 1 thread).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from noisyprune.errors import ConfigError

WEAK_POLICIES = ("none", "shift")
STRONG_POLICIES = ("none", "randaugment", "autoaugment")


@dataclass(frozen=True)
class AugmentationSpec:
    """What a dataset declares under ``augment``.

    ``shift``: maximum shift in pixels of the weak view (0 disables it); ``flip``: random
    horizontal flips in the weak view; ``strong``: the strong view's policy; ``cutout``: side in
    pixels of the Cutout square of the strong view (0 disables it); ``group_size``: samples sharing
    one draw of the strong policy.
    """

    shift: int = 0
    flip: bool = False
    strong: str = "none"
    cutout: int = 0
    group_size: int = 1

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any] | None, input_shape: tuple[int, ...]) -> AugmentationSpec:
        """Build the spec from a dataset entry's ``augment`` mapping, defaulting by image shape.

        Defaults (the originals' choices where there is one): RGB images (3 channels) shift 4 + flip
        + AutoAugment (CIFAR-10 policy) + Cutout 16 scaled to 32 px; grayscale ≥ 28 px shift 2, no
        flip (digits and clothing are not mirror-symmetric in general), RandAugment + Cutout 8;
        smaller grayscale (8×8 digits) no shift, RandAugment, Cutout 2; flat vectors and images
        smaller than 8×8 nothing.
        """
        defaults = cls.defaults_for(input_shape)
        entry = dict(entry or {})
        unknown = set(entry) - {"shift", "flip", "strong", "cutout", "group_size"}
        if unknown:
            raise ConfigError(f"augment: unknown keys {sorted(unknown)}")
        spec = cls(**{**defaults.__dict__, **entry})
        if spec.strong not in STRONG_POLICIES:
            raise ConfigError(f"augment.strong: unknown policy {spec.strong!r}; use one of {STRONG_POLICIES}")
        if len(input_shape) != 3 and (spec.shift or spec.flip or spec.cutout or spec.strong != "none"):
            raise ConfigError(
                f"augment: inputs of shape {input_shape} are not images; image augmentation needs (C, H, W)"
            )
        if spec.strong == "autoaugment" and input_shape[0] != 3:
            raise ConfigError("augment.strong: autoaugment (the CIFAR-10 policy) needs RGB images; use randaugment")
        return spec

    @classmethod
    def defaults_for(cls, input_shape: tuple[int, ...]) -> AugmentationSpec:
        """The default policy for inputs of ``input_shape`` (see :meth:`from_entry`)."""
        if len(input_shape) != 3 or min(input_shape[1:]) < 8:
            return cls()  # vectors, or "images" too small for shifts to keep their content
        channels, height = input_shape[0], input_shape[1]
        if channels == 3:
            return cls(shift=max(1, height // 8), flip=True, strong="autoaugment", cutout=max(1, height // 2))
        if height >= 28:
            return cls(shift=2, strong="randaugment", cutout=height // 4)
        # On 8×8 digits even a 1-pixel shift moves 1/8 of the image: measured with the default MLP it
        # costs ELR+ 10 points of test accuracy, so small images get no weak augmentation.
        return cls(shift=0, strong="randaugment", cutout=max(1, height // 4))


class Augmenter:
    """Produces weak and strong views of normalised image batches ``(B, C, H, W)``.

    ``pixel_mean``/``pixel_std`` (one value per channel, or one for all) undo the dataset's
    normalisation for the pixel-space policies. Every random draw (shifts, flips, the strong
    policy, Cutout) comes from ``generator``, which the training run seeds and saves for resuming.
    """

    def __init__(self, spec: AugmentationSpec, pixel_mean, pixel_std, generator: torch.Generator):
        self.spec = spec
        self.generator = generator
        self._mean = torch.as_tensor(pixel_mean, dtype=torch.float32).reshape(1, -1, 1, 1)
        self._std = torch.as_tensor(pixel_std, dtype=torch.float32).reshape(1, -1, 1, 1)
        self._policy = None  # built on first use: importing torchvision costs ~2 s per job

    def _uniform_ints(self, high: int, size: tuple[int, ...], device: torch.device) -> torch.Tensor:
        return torch.randint(0, high, size, generator=self.generator).to(device)

    def weak(self, x: torch.Tensor) -> torch.Tensor:
        """Return the weak view of ``x`` ``(B, C, H, W)``: a per-sample random shift of up to
        ``shift`` pixels (the border filled with black) and an optional random horizontal flip."""
        if x.dim() != 4 or (not self.spec.shift and not self.spec.flip):
            return x
        out = x
        if self.spec.shift:
            out = self._shift(out, self.spec.shift)
        if self.spec.flip:
            flip = self._uniform_ints(2, (len(x),), x.device).bool()
            out = torch.where(flip[:, None, None, None], out.flip(-1), out)
        return out

    def strong(self, x: torch.Tensor) -> torch.Tensor:
        """Return the strong view of ``x``: the weak view, then the strong policy (drawn per sample,
        or per group of ``group_size``) in pixel space, then Cutout (a per-sample square set to the
        normalised mean, 0, as the original Cutout does after normalisation)."""
        out = self.weak(x)
        if x.dim() != 4:
            return out
        if self.spec.strong != "none":
            out = self._apply_policy(out)
        if self.spec.cutout:
            out = self._cutout(out, self.spec.cutout)
        return out

    def _black(self, x: torch.Tensor) -> torch.Tensor:
        """The normalised value of a black pixel, per channel ``(1, C, 1, 1)``."""
        return (-self._mean / self._std).to(x.device)

    def _shift(self, x: torch.Tensor, pad: int) -> torch.Tensor:
        batch, channels, height, width = x.shape
        padded = self._black(x).expand(batch, channels, height + 2 * pad, width + 2 * pad).clone()
        padded[:, :, pad : pad + height, pad : pad + width] = x
        offset = self._uniform_ints(2 * pad + 1, (batch, 2), x.device)
        rows = offset[:, 0:1] + torch.arange(height, device=x.device)  # (B, H)
        cols = offset[:, 1:2] + torch.arange(width, device=x.device)  # (B, W)
        picked = padded[torch.arange(batch, device=x.device)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
        return picked.permute(0, 3, 1, 2).contiguous()  # advanced indexing put channels last

    def _apply_policy(self, x: torch.Tensor) -> torch.Tensor:
        if self._policy is None:
            from noisyprune.training.policies import PerSamplePolicy

            self._policy = PerSamplePolicy(self.spec.strong, self.generator, self.spec.group_size)
        mean, std = self._mean.to(x.device), self._std.to(x.device)
        pixels = ((x * std + mean).clamp(0, 1) * 255).round().to(torch.uint8)
        return (self._policy(pixels).float() / 255 - mean) / std

    def _cutout(self, x: torch.Tensor, side: int) -> torch.Tensor:
        batch, _, height, width = x.shape
        centre_y = self._uniform_ints(height, (batch, 1, 1), x.device)
        centre_x = self._uniform_ints(width, (batch, 1, 1), x.device)
        ys = torch.arange(height, device=x.device)[None, :, None]
        xs = torch.arange(width, device=x.device)[None, None, :]
        low, high = side // 2, side - side // 2
        inside = (ys >= centre_y - low) & (ys < centre_y + high) & (xs >= centre_x - low) & (xs < centre_x + high)
        return x.masked_fill(inside[:, None], 0.0)


def no_augmentation(generator: torch.Generator) -> Augmenter:
    """An augmenter whose weak and strong views are the input itself (for non-image data and tests)."""
    return Augmenter(AugmentationSpec(), 0.0, 1.0, generator)
