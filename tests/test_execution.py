"""Execution settings: autocast precision, channels-last layout and their resolution per device."""

import numpy as np
import pytest
import torch

from noisyprune.errors import ConfigError
from noisyprune.training import execution
from noisyprune.training.device import configure_torch, device_description
from noisyprune.training.execution import Execution
from noisyprune.training.learners import LEARNERS


def test_auto_settings_resolve_per_device():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert Execution.from_config(None, cpu) == Execution(None, False, False)
    assert Execution.from_config({"precision": "auto", "channels_last": "auto"}, cuda) == Execution(
        torch.bfloat16, True, False
    )
    assert Execution.from_config({"precision": "bf16", "channels_last": True, "compile": True}, cpu) == Execution(
        torch.bfloat16, True, True
    )
    with pytest.raises(ConfigError, match="'precision': 'fp8'"):
        Execution.from_config({"precision": "fp8"}, cpu)


def test_the_job_settings_reach_provenance():
    try:
        configure_torch("cpu", 1, {"precision": "bf16", "channels_last": True})
        assert device_description(torch.device("cpu")) == "cpu (1 threads), bfloat16 autocast, channels_last"
        configure_torch("cpu", 1, None)
        assert device_description(torch.device("cpu")).endswith(", fp32")
    finally:
        execution.set_current(Execution())


def test_bf16_channels_last_training_runs_the_same_loop_and_learns():
    """On a CPU (autocast works there too): the low-precision path trains to about the accuracy of
    float32 and keeps float32 parameters; predictions come back as float32."""
    from noisyprune.data.base import ArrayDataset
    from noisyprune.training.job import TrainingJob
    from noisyprune.training.run import train_on_samples

    rng = np.random.default_rng(0)
    y = np.arange(300) % 3
    x = rng.normal(size=(300, 1, 8, 8)).astype(np.float32)
    for label in range(3):  # a bright 3×3 patch whose place tells the class
        x[y == label, 0, 2 * label : 2 * label + 3, 2:5] += 3.0
    data = ArrayDataset("blobs", x, y, x[:90], y[:90], ("a", "b", "c"))
    accuracies = {}
    for setting in (Execution(), Execution(torch.bfloat16, True, False)):
        execution.set_current(setting)
        try:
            result = train_on_samples(
                TrainingJob(
                    {"learner": "ce", "epochs": 8, "batch_size": 32, "lr": 0.05, "augment": False},
                    {"arch": "small_cnn", "channels": [8, 16]},
                    seed=0,
                    inference_batch_size=64,
                ),
                data,
                y,
                np.arange(300),
                torch.device("cpu"),
            )
            logits = result.learner.predict_logits(result.ctx, torch.as_tensor(x[:10]), 5)
        finally:
            execution.set_current(Execution())
        assert logits.dtype == torch.float32
        assert all(p.dtype == torch.float32 for p in result.ctx.model.parameters())
        accuracies[setting.autocast] = result.history.rows[-1]["test_acc"]
    assert accuracies[None] > 0.9 and accuracies[torch.bfloat16] > accuracies[None] - 0.1


# ---------------------------------------------------------------------------------------------
# The GPU execution settings on a CPU: every learner and every network under bf16 autocast and
# channels-last (torch's CPU autocast supports bfloat16), so a dtype or layout mismatch in a
# learner's extra losses, state or augmentation fails here, not first on a user's GPU cluster.

BF16_CHANNELS_LAST = Execution(torch.bfloat16, True, False)
SMALL_CNN = {"arch": "small_cnn", "channels": [4, 8]}
# weak and strong views (AutoAugment, cutout) run inside the autocast context of the step
AUGMENT = {"shift": 1, "flip": True, "strong": "autoaugment", "cutout": 2}


def tiny_dataset(input_shape=(3, 8, 8), n=48, seed=0):
    """``n`` training and 12 test samples of 3 classes (a bright first feature or patch per class),
    with every sixth training label moved to the next class; returns ``(data, noisy)``."""
    from noisyprune.data.base import ArrayDataset

    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(size=(n, *input_shape)).astype(np.float32)
    x.reshape(n, -1)[np.arange(n), y] += 3.0
    noisy = np.where(np.arange(n) % 6 == 5, (y + 1) % 3, y)
    return ArrayDataset("tiny", x, y, x[:12], y[:12], ("a", "b", "c")), noisy


class LayerRecorder:
    """Records, for every convolution and linear layer called while installed (a global module
    hook), the dtype of its output and whether a 4-d input arrived in channels-last memory."""

    def __init__(self):
        self.outputs: set[torch.dtype] = set()
        self.layouts: set[bool] = set()

    def __enter__(self):
        def hook(module, args, output):
            if isinstance(module, torch.nn.Conv2d | torch.nn.Linear):
                self.outputs.add(output.dtype)
                if args[0].dim() == 4:
                    self.layouts.add(args[0].is_contiguous(memory_format=torch.channels_last))

        self.handle = torch.nn.modules.module.register_module_forward_hook(hook)
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def float_tensors(value):
    """Every floating-point tensor in a learner's state value (tensors, networks, containers)."""
    if isinstance(value, torch.Tensor):
        return [value] if value.is_floating_point() else []
    if isinstance(value, torch.nn.Module):
        return [t for t in value.state_dict().values() if t.is_floating_point()]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        return [t for item in value for t in float_tensors(item)]
    return []


def train_tiny(learner, model_entry, setting, input_shape=(3, 8, 8), augment=True):
    """One short training (two epochs for DivideMix, so that its co-divide and MixMatch run) of
    ``learner`` on :func:`tiny_dataset` under the execution ``setting``; returns the result and the
    layer recorder of the whole training."""
    from noisyprune.training.job import TrainingJob
    from noisyprune.training.run import train_on_samples

    data, noisy = tiny_dataset(input_shape)
    entry = {"learner": learner, "epochs": 1, "batch_size": 16, "lr": 0.05}
    if learner == "dividemix":
        entry.update(epochs=2, warmup_epochs=1)
    probe = np.arange(9)  # three clean samples per class for the meta-learners (L2R, IEG, RDIA's validation)
    execution.set_current(setting)
    try:
        with LayerRecorder() as recorder:
            result = train_on_samples(
                TrainingJob(
                    entry, model_entry, seed=0, inference_batch_size=20, augment_entry=AUGMENT if augment else None
                ),
                data,
                np.where(np.isin(np.arange(len(noisy)), probe), data.train_y, noisy),
                np.arange(9, len(noisy)),
                torch.device("cpu"),
                probe_ids=probe,
                warmup_embeddings=data.train_x.reshape(len(noisy), -1),  # RDIA's head reads embeddings
            )
    finally:
        settings_after = execution.current()
        execution.set_current(Execution())
    return result, recorder, data, settings_after


@pytest.mark.parametrize("learner", sorted(LEARNERS.names()))
def test_every_learner_trains_in_bf16_autocast_and_channels_last_on_a_cpu(learner):
    result, recorder, data, _ = train_tiny(learner, SMALL_CNN, BF16_CHANNELS_LAST)
    assert recorder.outputs == {torch.bfloat16}  # autocast really ran: not dropped on a CPU
    assert recorder.layouts == {True}  # every convolution got channels-last inputs
    for network in result.ctx.models:
        assert all(p.dtype == torch.float32 for p in network.parameters())
        convs = [m for m in network.modules() if isinstance(m, torch.nn.Conv2d)]
        assert convs and all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in convs)
    state = [t for key in result.learner.state_keys for t in float_tensors(getattr(result.learner, key))]
    assert all(t.dtype == torch.float32 for t in state), learner  # per-sample state stays float32
    assert all(bool(torch.isfinite(t).all()) for t in state)
    execution.set_current(BF16_CHANNELS_LAST)
    try:
        logits = result.learner.predict_logits(result.ctx, torch.as_tensor(data.train_x), 20)
    finally:
        execution.set_current(Execution())
    assert logits.dtype == torch.float32 and bool(torch.isfinite(logits).all())
    relabel = result.learner.relabel(result.ctx, torch.arange(48), torch.as_tensor(data.train_y), logits)
    assert relabel.shape == (48,)
    assert np.isfinite(result.history.rows[-1]["train_loss"])


NETWORKS = {  # every registered architecture, at the smallest input it takes
    "linear": ({"arch": "linear"}, (10,)),
    "mlp": ({"arch": "mlp", "hidden": [8]}, (10,)),
    "small_cnn": (SMALL_CNN, (3, 8, 8)),
    "resnet18": ({"arch": "resnet18"}, (3, 8, 8)),
    "resnet34": ({"arch": "resnet34"}, (3, 8, 8)),
    "resnet50": ({"arch": "resnet50", "small_input": False}, (3, 16, 16)),  # the ImageNet stem
    "preact_resnet18": ({"arch": "preact_resnet18"}, (3, 8, 8)),
}


def test_the_network_cases_cover_every_registered_architecture():
    from noisyprune.models import MODELS

    assert set(NETWORKS) == set(MODELS.names())


@pytest.mark.parametrize("arch", sorted(NETWORKS))
def test_every_network_trains_and_extracts_in_bf16_autocast_and_channels_last_on_a_cpu(arch):
    """Vectors (``linear``, ``mlp``: 1-d inputs, which channels-last leaves alone) and images."""
    from noisyprune.training.inference import embed_and_classify

    model_entry, shape = NETWORKS[arch]
    result, recorder, data, _ = train_tiny("ce", model_entry, BF16_CHANNELS_LAST, shape, augment=len(shape) == 3)
    assert recorder.outputs == {torch.bfloat16}
    assert recorder.layouts == ({True} if len(shape) == 3 else set())
    execution.set_current(BF16_CHANNELS_LAST)
    try:
        logits, embedding = embed_and_classify(result.ctx.model, torch.as_tensor(data.train_x), 20)
    finally:
        execution.set_current(Execution())
    assert logits.dtype == embedding.dtype == torch.float32
    assert logits.shape == (48, 3) and embedding.shape == (48, result.ctx.model.embedding_dim)
    assert bool(torch.isfinite(logits).all() and torch.isfinite(embedding).all())


def test_the_log_says_what_each_setting_became_on_a_cpu(caplog):
    caplog.set_level("INFO", logger="noisyprune")
    try:
        configure_torch("cpu", 1, {"precision": "auto", "channels_last": "auto", "compile": False})
        configure_torch("cpu", 1, {"precision": "bf16", "channels_last": True, "compile": False})
    finally:
        execution.set_current(Execution())
    auto, explicit = (r.getMessage() for r in caplog.records if r.name == "noisyprune.training.device")
    assert auto == "execution on cpu: fp32; precision auto: fp32 on a CPU; channels_last auto: off on a CPU"
    assert explicit.startswith("execution on cpu: bfloat16 autocast, channels_last; precision bf16 on a CPU")


def test_compile_without_a_cpp_compiler_is_refused_before_training(monkeypatch):
    from torch._inductor import config as inductor_config

    monkeypatch.delenv("TORCH_INDUCTOR_INSTALL_GXX", raising=False)
    try:  # inductor's own patching: monkeypatch's undo would delete the key from its config module
        no_compiler = inductor_config.patch({"cpp.cxx": (None, "no-such-c++-compiler")})
        with no_compiler, pytest.raises(ConfigError, match=r"'compile': .* no C\+\+ compiler"):
            configure_torch("cpu", 1, {"compile": True})
        assert execution.current() == Execution()  # nothing set: the job stops here
    finally:
        execution.set_current(Execution())


@pytest.mark.parametrize("learner", ["l2r", "ieg"])
def test_meta_learners_run_uncompiled_under_compile_and_say_so(learner, caplog):
    """L2R and IEG differentiate through a look-ahead step (double backward), which compiled
    autograd refuses; they train uncompiled, with a warning, and the job's settings record it."""
    caplog.set_level("WARNING", logger="noisyprune")
    result, recorder, _, after = train_tiny(learner, SMALL_CNN, Execution(torch.bfloat16, True, True))
    assert after == BF16_CHANNELS_LAST and "compiled" not in after.describe()
    assert all(network._compiled_call_impl is None for network in result.ctx.models)  # nn.Module.compile's mark
    assert recorder.outputs == {torch.bfloat16}
    assert any("runs uncompiled" in r.getMessage() or "run uncompiled" in r.getMessage() for r in caplog.records)


@pytest.mark.compile
def test_compiled_training_runs_on_a_cpu():
    """``compile: true`` with bf16 autocast and channels-last: the small CNN with CE (the one slow
    case, ~60 s on 2 cores the first time torch compiles it, seconds once inductor's cache is warm)."""
    from noisyprune.training.device import check_compiler

    try:
        check_compiler(torch.device("cpu"))
    except ConfigError as err:
        pytest.skip(str(err))
    result, recorder, _, after = train_tiny("ce", SMALL_CNN, Execution(torch.bfloat16, True, True))
    assert after.compile and after.describe() == "bfloat16 autocast, channels_last, compiled"
    assert result.ctx.model._compiled_call_impl is not None
    assert recorder.outputs <= {torch.bfloat16}  # compiled layers are fused away from module hooks
    assert np.isfinite(result.history.rows[-1]["train_loss"])
