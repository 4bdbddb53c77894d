"""Resumable training: a run killed after some epochs continues from its resume file and ends
bit-identical to an uninterrupted run, for every learner."""

from pathlib import Path

import numpy as np
import pytest
import torch

from noisyprune.data.base import ArrayDataset
from noisyprune.training.callbacks import DynamicsRecorder
from noisyprune.training.context import Callback
from noisyprune.training.job import TrainingJob
from noisyprune.training.learners import LEARNERS
from noisyprune.training.resume import ResumeFile
from noisyprune.training.run import train_on_samples

MLP = {"arch": "mlp", "hidden": [16]}


class Killed(Exception):
    pass


class KillAfter(Callback):
    """Simulates the job being killed at the end of epoch ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, ctx):
        if ctx.epoch == self.epoch:
            raise Killed


def dataset():
    rng = np.random.default_rng(0)
    y = np.arange(200) % 3
    x = rng.normal(size=(200, 1, 8, 8)).astype(np.float32)
    x[:, 0, y, y] += 3.0
    noisy = np.where(np.arange(200) % 5 == 0, (y + 1) % 3, y)
    return ArrayDataset("d", x, y, x[:30], y[:30], ("a", "b", "c")), noisy


def train(learner, resume=None, callbacks=()):
    data, noisy = dataset()
    entry = {"learner": learner, "epochs": 4, "batch_size": 32, "lr": 0.05}
    if learner == "dividemix":
        entry["warmup_epochs"] = 1
    recorder = DynamicsRecorder()
    result = train_on_samples(
        TrainingJob(
            entry,
            MLP,
            seed=3,
            inference_batch_size=64,
            augment_entry={"shift": 1, "strong": "randaugment", "cutout": 2},
        ),
        data,
        noisy,
        np.arange(0, 200, 2),
        torch.device("cpu"),
        callbacks=[recorder, *callbacks],
        resume=resume,
        probe_ids=np.arange(1, 61, 2),  # a probe set for the meta-learners (L2R, RDIA)
        warmup_embeddings=data.train_x.reshape(len(data.train_x), -1),
    )
    return result, recorder


@pytest.mark.parametrize("learner", sorted(LEARNERS.names()))
def test_a_killed_run_resumes_and_ends_bit_identical(learner, tmp_path):
    uninterrupted, recorder = train(learner)
    resume = ResumeFile(tmp_path / "state.pt", fingerprint="job", every=1)
    with pytest.raises(Killed):
        train(learner, resume, callbacks=[KillAfter(3)])
    assert torch.load(tmp_path / "state.pt", weights_only=True)["epoch"] == 2
    resumed, resumed_recorder = train(learner, resume)
    for a, b in zip(uninterrupted.ctx.models, resumed.ctx.models, strict=True):
        for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
            assert torch.equal(x, y), name
    for key in uninterrupted.learner.state_keys:
        assert str(getattr(uninterrupted.learner, key)) == str(getattr(resumed.learner, key)), key
    assert uninterrupted.history.columns()["test_acc"].tolist() == resumed.history.columns()["test_acc"].tolist()
    noisy = dataset()[1]
    for key, values in recorder.columns(noisy).items():
        assert np.array_equal(values, resumed_recorder.columns(noisy)[key]), key


def test_a_resume_file_of_another_job_is_ignored(tmp_path):
    first = ResumeFile(tmp_path / "state.pt", fingerprint="a", every=1)
    with pytest.raises(Killed):
        train("ce", first, callbacks=[KillAfter(2)])
    other = ResumeFile(tmp_path / "state.pt", fingerprint="b", every=1)
    assert other.load() is None
    (tmp_path / "state.pt").write_bytes(b"damaged")
    assert first.load() is None  # unreadable: start from scratch rather than fail


RETRAIN_JOB = """
import sys
from noisyprune.stages.interface import Compute, Run, TrainingEntries
from noisyprune.stages.retrain import run_retrain_stage
root = sys.argv[1]
run_retrain_stage(
    run=Run("digits", "sym40", 0, warmup="ce", method="uniform", fraction="0.5", learner="elr"),
    inputs={"labels": root + "/labels.parquet", "subset": root + "/subset.parquet"},
    outputs={"metrics": sys.argv[2], "history": sys.argv[2] + ".h", "relabels": sys.argv[2] + ".r"},
    training=TrainingEntries("learners.elr", {"learner": "elr", "epochs": 40, "batch_size": 16, "lr": 0.05},
                             {"name": "mlp", "arch": "mlp", "hidden": [64]}, {"loader": "digits", "model": "mlp"}),
    compute=Compute(device="cpu", threads=1, inference_batch_size=512, resume_every=1), code_hash="test")
"""


def test_a_sigkilled_retrain_job_resumes_and_reaches_the_same_metrics(tmp_path):
    import json
    import signal
    import subprocess
    import sys
    import time

    from noisyprune.stages.interface import Run
    from noisyprune.stages.noise import run_noise_stage
    from noisyprune.stages.select import run_select_stage

    run_noise_stage(
        run=Run("digits", "sym40", 0),
        outputs={"labels": str(tmp_path / "labels.parquet")},
        dataset_entry={"loader": "digits", "model": "mlp"},
        noise_entry={"kind": "symmetric", "rate": 0.4},
    )
    run_select_stage(
        run=Run("digits", "sym40", 0, warmup="ce", method="uniform", fraction="0.5"),
        inputs={"labels": str(tmp_path / "labels.parquet")},
        outputs={"subset": str(tmp_path / "subset.parquet"), "timing": str(tmp_path / "timing.json")},
        method_entry={"pruner": "uniform"},
        code_hash="test",
    )
    script = tmp_path / "job.py"
    script.write_text(RETRAIN_JOB)
    job = [sys.executable, str(script), str(tmp_path)]
    subprocess.run([*job, str(tmp_path / "clean.json")], check=True)

    killed = tmp_path / "killed.json"
    state = Path(f"{killed}.resume.pt")
    process = subprocess.Popen([*job, str(killed)])
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if state.is_file() and torch.load(state, weights_only=True)["epoch"] >= 5:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the job ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not killed.exists()
    saved_epoch = torch.load(state, weights_only=True)["epoch"]
    assert 5 <= saved_epoch < 40
    subprocess.run([*job, str(killed)], check=True)
    clean, resumed = json.loads((tmp_path / "clean.json").read_text()), json.loads(killed.read_text())
    assert resumed["metrics"] == clean["metrics"]
    assert not state.exists()  # removed once the outputs are written


def test_a_resume_file_of_another_execution_is_ignored(tmp_path):
    """A precision (or layout, or compilation) change reruns a training job; a state it left
    under the former settings is not resumed under the new ones."""
    from noisyprune.stages.resumable import resume_file
    from noisyprune.training.execution import Execution, current, set_current

    before = current()
    try:
        set_current(Execution())
        fp32 = resume_file(str(tmp_path / "model.pt"), 5, {"lr": 0.1}, "abc")
        assert fp32.fingerprint == resume_file(str(tmp_path / "model.pt"), 5, {"lr": 0.1}, "abc").fingerprint
        set_current(Execution(autocast=torch.bfloat16))
        assert resume_file(str(tmp_path / "model.pt"), 5, {"lr": 0.1}, "abc").fingerprint != fp32.fingerprint
    finally:
        set_current(before)
