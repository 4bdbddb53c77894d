"""Execution settings: autocast precision, channels-last layout and their resolution per device."""

import numpy as np
import pytest
import torch

from noisyprune.errors import ConfigError
from noisyprune.training import execution
from noisyprune.training.device import configure_torch, device_description
from noisyprune.training.execution import Execution


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
                data=data,
                noisy_label=y,
                sample_ids=np.arange(300),
                model_entry={"arch": "small_cnn", "channels": [8, 16]},
                training_entry={"learner": "ce", "epochs": 8, "batch_size": 32, "lr": 0.05, "augment": False},
                seed=0,
                device=torch.device("cpu"),
                inference_batch_size=64,
            )
            logits = result.learner.predict_logits(result.ctx, torch.as_tensor(x[:10]), 5)
        finally:
            execution.set_current(Execution())
        assert logits.dtype == torch.float32
        assert all(p.dtype == torch.float32 for p in result.ctx.model.parameters())
        accuracies[setting.autocast] = result.history.rows[-1]["test_acc"]
    assert accuracies[None] > 0.9 and accuracies[torch.bfloat16] > accuracies[None] - 0.1
