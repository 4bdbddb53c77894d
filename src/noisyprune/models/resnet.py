"""torchvision's ResNet-18/34/50 as :class:`Classifier`: random init, or pretrained weights from a
local torchvision checkpoint file (nothing is ever downloaded)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torchvision import models as tv_models

from noisyprune.errors import ArtifactError
from noisyprune.models.base import Classifier
from noisyprune.params import declare, param

log = logging.getLogger(__name__)


class TorchvisionResNet(Classifier):
    """A torchvision ResNet whose ``fc`` layer becomes :attr:`head`.

    ``small_input=True`` swaps the 7×7/stride-2 stem and its max-pool for a 3×3/stride-1 conv, the
    usual change for 32×32 images (CIFAR); ``False`` keeps the ImageNet stem (224×224 inputs).
    ``weights``: a local checkpoint of the same torchvision architecture (e.g. torchvision's
    ``resnet50-11ad3fa6.pth`` for ImageNet-pretrained ResNet-50), loaded into everything but the
    classifier head and any layer whose shape differs (the 3×3 stem of ``small_input``).
    """

    def __init__(
        self,
        builder: Callable[..., tv_models.ResNet],
        input_shape: Sequence[int],
        num_classes: int,
        small_input: bool = True,
        weights: str | None = None,
    ):
        super().__init__()
        net = builder(weights=None, num_classes=num_classes)
        in_channels = input_shape[0]
        if small_input:
            net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
            net.maxpool = nn.Identity()
        elif in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.head = net.fc
        net.fc = nn.Identity()
        self.body = net
        if weights:
            load_pretrained_body(self.body, weights)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


PARAMETERS = (
    param(
        "small_input",
        "3×3 stride-1 stem without max-pool for 32×32 images; `false` keeps the ImageNet stem.",
        type="boolean",
    ),
    param(
        "weights",
        (
            "A local torchvision checkpoint of the same architecture (e.g. torchvision's ImageNet-pretrained "
            "`resnet50-11ad3fa6.pth`, a plain state dict, or one under `state_dict`, `module.` prefixes allowed), "
            "read with `weights_only=True` and loaded into everything but the classifier head and layers whose shape "
            "differs (the 3×3 stem of `small_input`). Nothing is downloaded. The path is part of the model entry, so "
            "changing it reruns what trains that model; replacing the file under the same path does not."
        ),
        type="string",
    ),
)


@declare(*PARAMETERS)
def resnet18(
    input_shape: Sequence[int], num_classes: int, small_input: bool = True, weights: str | None = None
) -> TorchvisionResNet:
    """ResNet-18 (512-d embedding)."""
    return TorchvisionResNet(tv_models.resnet18, input_shape, num_classes, small_input, weights)


@declare(*PARAMETERS)
def resnet34(
    input_shape: Sequence[int], num_classes: int, small_input: bool = True, weights: str | None = None
) -> TorchvisionResNet:
    """ResNet-34 (512-d embedding)."""
    return TorchvisionResNet(tv_models.resnet34, input_shape, num_classes, small_input, weights)


@declare(*PARAMETERS)
def resnet50(
    input_shape: Sequence[int], num_classes: int, small_input: bool = True, weights: str | None = None
) -> TorchvisionResNet:
    """ResNet-50 (2048-d embedding)."""
    return TorchvisionResNet(tv_models.resnet50, input_shape, num_classes, small_input, weights)


def load_pretrained_body(body: nn.Module, path: str) -> None:
    """Copy the tensors of the checkpoint at ``path`` into ``body`` (a ResNet without its ``fc``).

    Accepts a plain state dict or one under ``state_dict`` / ``model_state``, with or without
    DataParallel's ``module.`` prefix. Read with ``weights_only=True``: a checkpoint cannot run code.
    The classifier (``fc.*``) is skipped, and so is the stem convolution if its shape differs
    (logged); any other missing, extra or reshaped tensor refuses the file as weights of another
    architecture.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ArtifactError(
            f"{path}: pretrained weights not found (a local torchvision checkpoint; nothing is downloaded)"
        ) from None
    except Exception as err:  # torch raises several types for corrupt or foreign files
        raise ArtifactError(f"{path}: not a readable weights file ({err})") from err
    if isinstance(payload, dict):
        payload = payload.get("state_dict", payload.get("model_state", payload))
    if not isinstance(payload, dict) or not all(isinstance(v, torch.Tensor) for v in payload.values()):
        raise ArtifactError(f"{path}: expected a state dict of tensors")
    incoming = {
        key.removeprefix("module."): value
        for key, value in payload.items()
        if not key.removeprefix("module.").startswith("fc.")
    }
    own = body.state_dict()
    # Only the stem may differ (the 3×3 stem of small_input, or another channel count); anything
    # else missing, extra or reshaped means weights of another architecture.
    stem = {"conv1.weight"}
    # torchvision's older ImageNet files predate BatchNorm's num_batches_tracked counters.
    optional = {k for k in own if k.endswith("num_batches_tracked")}
    wrong = sorted((set(own) ^ set(incoming)) - stem - optional) + sorted(
        k for k in set(own) & set(incoming) - stem if own[k].shape != incoming[k].shape
    )
    if wrong:
        raise ArtifactError(
            f"{path}: {len(wrong)} tensors differ from the model's in name or shape (e.g. "
            f"{wrong[0]!r}); weights of another architecture?"
        )
    usable = {k: v for k, v in incoming.items() if own[k].shape == v.shape}
    body.load_state_dict(usable, strict=False)
    kept_fresh = sorted(set(own) - set(usable))
    log.info(
        "loaded %d of %d tensors from %s%s",
        len(usable),
        len(own),
        path,
        f"; kept the fresh init of {kept_fresh}" if kept_fresh else "",
    )
