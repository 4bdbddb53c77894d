"""Models: every registered architecture splits into features and head and yields logits."""

import pytest
import torch

from noisyprune.models import MODELS, build_model


@pytest.mark.parametrize(
    "entry, input_shape, dim",
    [
        ({"arch": "mlp", "hidden": [16, 8]}, (1, 8, 8), 8),
        ({"arch": "small_cnn", "channels": [4, 8, 16]}, (1, 8, 8), 16),
        ({"arch": "small_cnn", "channels": [4, 8]}, (3, 32, 32), 8),
        ({"arch": "resnet18"}, (3, 32, 32), 512),
        ({"arch": "preact_resnet18"}, (3, 32, 32), 512),
        ({"arch": "resnet50", "small_input": False}, (3, 64, 64), 2048),
    ],
)
def test_models_expose_embedding_and_logits(entry, input_shape, dim):
    torch.manual_seed(0)
    model = build_model(entry, input_shape, num_classes=7).eval()
    x = torch.randn(2, *input_shape)
    features = model.features(x)
    assert features.shape == (2, dim) and model.embedding_dim == dim
    assert torch.allclose(model(x), model.head(features))
    assert model(x).shape == (2, 7)


def test_model_init_is_seeded():
    torch.manual_seed(3)
    first = build_model({"arch": "mlp"}, (1, 8, 8), 10)
    torch.manual_seed(3)
    second = build_model({"arch": "mlp"}, (1, 8, 8), 10)
    for a, b in zip(first.parameters(), second.parameters()):
        assert torch.equal(a, b)


def test_every_registered_model_builds():
    for name in MODELS.names():
        assert build_model({"arch": name}, (3, 32, 32), 10).head.out_features == 10


def test_preact_resnet18_has_the_originals_shape():
    """The CIFAR PreActResNet-18 of the SOP/DivideMix/ELR codebases: 11,171,146 parameters for 10
    classes, spatial size halved by stages 2–4 (32 → 4), pre-activation blocks, and an embedding
    taken before any final BatchNorm/ReLU, so it has negative values."""
    torch.manual_seed(0)
    model = build_model({"arch": "preact_resnet18"}, (3, 32, 32), 10)
    assert sum(p.numel() for p in model.parameters()) == 11_171_146
    shapes = []
    hooks = [stage.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[1:]))) for stage in model.stages]
    embedding = model.eval().features(torch.randn(4, 3, 32, 32))
    for hook in hooks:
        hook.remove()
    assert shapes == [(64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4)]
    assert (embedding < 0).any()
    first = model.stages[0][0]
    assert isinstance(first.bn1, torch.nn.BatchNorm2d) and first.shortcut is None  # identity shortcut
    assert model.stages[1][0].shortcut.kernel_size == (1, 1) and model.stages[1][0].shortcut.stride == (2, 2)
