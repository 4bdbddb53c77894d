"""The streaming data path (``storage: stream``): images stay uint8 on disk and are read per batch,
and a run computes exactly what it computes with the images in memory."""

import ast
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from test_images import COLOURS, _image

from noisyprune.data import images as image_data
from noisyprune.data.base import ArrayDataset
from noisyprune.data.stored import StoredImages, standardise
from noisyprune.errors import ArtifactError
from noisyprune.models import build_model
from noisyprune.training import data as data_module
from noisyprune.training import streaming as streaming_module
from noisyprune.training.data import TensorData, device_data, device_inputs
from noisyprune.training.inference import embed_and_classify
from noisyprune.training.inputs import TrainingInputs
from noisyprune.training.job import TrainingJob
from noisyprune.training.learners import LEARNERS
from noisyprune.training.run import train_on_samples
from noisyprune.training.streaming import StreamedData, StreamedInputs

MEAN, STD = np.array([0.4, 0.5, 0.3]), np.array([0.2, 0.25, 0.3])


def stored(tmp_path, count=90, size=8, workers=0):
    """Random uint8 images saved as .npy and memory-mapped, as the decoded-image cache is."""
    images = np.random.default_rng(0).integers(0, 256, size=(count, 3, size, size), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    return StoredImages(np.load(tmp_path / "images.npy", mmap_mode="r"), MEAN, STD, workers)


@pytest.fixture
def folder(tmp_path):
    """Three classes of solid-colour images, 6 training and 2 test images each."""
    root = tmp_path / "inet"
    for label, name in enumerate(["ant", "bee", "cat"]):
        for i in range(6):
            _image(root / "train" / name / f"{i}.png", COLOURS[label], fmt="PNG")
        for i in range(2):
            _image(root / "val" / name / f"{i}.png", COLOURS[label], fmt="PNG")
    return root


def test_stored_images_read_exactly_what_the_in_memory_set_holds(folder, tmp_path):
    cache = str(tmp_path / "cache")
    memory = image_data.load_image_folder(root=str(folder), image_size=8, workers=0, cache_dir=cache, storage="memory")
    streamed = image_data.load_image_folder(
        root=str(folder), image_size=8, workers=0, cache_dir=cache, storage="stream"
    )
    assert isinstance(memory.train_x, np.ndarray) and isinstance(streamed.train_x, StoredImages)
    assert isinstance(streamed.train_x.images, np.memmap)  # on disk, not in memory
    assert streamed.input_shape == memory.input_shape == (3, 8, 8) and streamed.num_train == 18
    assert streamed.pixel_mean == memory.pixel_mean and streamed.pixel_std == memory.pixel_std
    for key in (slice(None), slice(3, 11), np.array([17, 0, 5, 5]), 4):
        assert np.array_equal(streamed.train_x[key], memory.train_x[key])
    assert np.array_equal(np.asarray(streamed.test_x), memory.test_x)
    # Workers started by spawn get the store as its file path, not as a copy of the images.
    copy = pickle.loads(pickle.dumps(streamed.train_x))
    assert len(pickle.dumps(streamed.train_x)) < 2000 and np.array_equal(copy[:], memory.train_x)
    # The channel statistics are kept beside the cache: a later job does not read the whole set.
    assert len(list((tmp_path / "cache").glob("*.stats.json"))) == 1


def test_auto_streams_a_set_above_max_memory_gb_and_refuses_what_cannot_work(folder, tmp_path):
    cache = str(tmp_path / "cache")
    small = image_data.load_image_folder(root=str(folder), image_size=8, workers=0, cache_dir=cache)
    assert isinstance(small.train_x, np.ndarray)  # auto: fits, held in memory
    large = image_data.load_image_folder(root=str(folder), image_size=8, workers=0, cache_dir=cache, max_memory_gb=1e-6)
    assert isinstance(large.train_x, StoredImages)
    with pytest.raises(ArtifactError, match=r"above max_memory_gb=1e-06; set storage: stream"):
        image_data.load_image_folder(
            root=str(folder), image_size=8, workers=0, cache_dir=cache, max_memory_gb=1e-6, storage="memory"
        )
    with pytest.raises(ArtifactError, match=r"streamed \(storage: stream\) .* cache_dir is null; set cache_dir"):
        image_data.load_image_folder(root=str(folder), image_size=8, workers=0, cache_dir=None, storage="stream")
    with pytest.raises(ValueError, match=r"load_image_folder parameter 'storage': 'disk' is not one of"):
        image_data.load_image_folder(root=str(folder), image_size=8, workers=0, cache_dir=cache, storage="disk")


def test_a_cache_larger_than_the_free_disk_is_refused_before_decoding(folder, tmp_path, monkeypatch):
    decoded = []
    monkeypatch.setattr(image_data, "decode_images", lambda paths, *a, **k: decoded.append(len(paths)))
    monkeypatch.setattr(image_data.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 100})())
    with pytest.raises(ArtifactError, match=r"needs 0\.0 GB of disk for the cache, 0\.0 GB free; set cache_dir"):
        image_data.load_image_folder(
            root=str(folder), image_size=8, workers=0, cache_dir=str(tmp_path / "c"), storage="stream"
        )
    assert decoded == [] and not list((tmp_path / "c").glob("*.npy"))


@pytest.mark.parametrize("workers", [0, 2])
def test_streamed_batches_are_the_in_memory_batches_with_the_same_pairing_and_order(tmp_path, workers):
    store = stored(tmp_path, workers=workers)
    ids = np.arange(5, 90, 2)
    labels = (ids * 7) % 10
    memory = TensorData.from_numpy(np.asarray(store)[ids], labels, ids, torch.device("cpu"))
    streamed = device_data(store, labels, ids, torch.device("cpu"))
    assert isinstance(streamed, StreamedData) and len(streamed) == len(memory)
    assert isinstance(streamed, TrainingInputs) and isinstance(memory, TrainingInputs)  # the one declared interface
    generators = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    for _ in range(2):  # two epochs: the generator advances the same way
        pairs = list(zip(memory.batches(16, generators[0]), streamed.batches(16, generators[1]), strict=True))
        assert len(pairs) == 3
        for a, b in pairs:
            assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y) and torch.equal(a.sample_id, b.sample_id)
            # each input is the stored image of its sample id, with its own label
            assert torch.equal(b.x, torch.from_numpy(store[b.sample_id.numpy()]))
            assert torch.equal(b.y, torch.as_tensor((b.sample_id.numpy() * 7) % 10))
    rows = torch.tensor([3, 0, 7])
    part, expected = streamed.subset(rows), memory.subset(rows)
    assert [
        torch.equal(getattr(part, k) if k != "x" else part.x[:], getattr(expected, k)) for k in ("x", "y", "sample_id")
    ] == [True] * 3


def test_a_pass_of_few_batches_starts_no_more_workers_than_it_has_batches(tmp_path, monkeypatch):
    """Each pass over a streamed set starts its own DataLoader workers (forks of the job, networks
    and all): a two-batch pass with ``workers: 8`` asks for two."""
    store = stored(tmp_path, workers=8)
    started = []
    real = streaming_module.DataLoader

    def counting(*args, **kwargs):
        started.append(kwargs["num_workers"])
        return real(*args, **{**kwargs, "num_workers": 0})  # the batches, without starting processes

    monkeypatch.setattr(streaming_module, "DataLoader", counting)
    rows = [np.array([5, 1, 7]), np.array([0])]
    batches = list(streaming_module.load_batches(store, rows, torch.device("cpu")))
    assert started == [2]
    assert all(torch.equal(b, torch.from_numpy(store[r])) for b, r in zip(batches, rows, strict=True))
    list(streaming_module.load_batches(store, [np.arange(i, i + 2) for i in range(0, 40, 2)], torch.device("cpu")))
    assert started == [2, 8]


def _imported_modules(module_path):
    tree = ast.parse(Path(module_path).read_text())
    return {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }


def test_the_streamed_path_depends_on_the_interface_not_on_the_in_memory_path():
    """streaming.py imports the interface module, never data.py (which picks between the two paths),
    so the two modules do not import each other, at the top or inside a function."""
    assert "noisyprune.training.data" not in _imported_modules(streaming_module.__file__)
    assert "noisyprune.training.inputs" in _imported_modules(streaming_module.__file__)
    assert "noisyprune.training.streaming" in _imported_modules(data_module.__file__)


def test_streamed_inputs_index_and_chunk_like_the_tensor(tmp_path):
    store = stored(tmp_path, workers=2)
    ids = np.arange(80, 10, -3)
    tensor = device_inputs(np.asarray(store), ids, torch.device("cpu"))
    lazy = device_inputs(store, ids, torch.device("cpu"))
    assert isinstance(lazy, StreamedInputs) and lazy.shape == tensor.shape and len(lazy) == len(tensor)
    for key in (slice(2, 9), torch.tensor([4, 1, 1]), np.array([0, len(ids) - 1]), 3):
        assert torch.equal(lazy[key], tensor[key])
    assert torch.equal(torch.cat(list(lazy.chunks(7))), tensor)
    model = build_model({"arch": "small_cnn", "channels": [4, 8]}, (3, 8, 8), 5)
    for a, b in zip(embed_and_classify(model, tensor, 6), embed_and_classify(model, lazy, 6)):
        assert torch.equal(a, b)


def _training_data(tmp_path, streamed: bool):
    """A 3-class problem on 8×8 RGB uint8 images (class = brightest channel), stored or in memory."""
    rng = np.random.default_rng(0)
    y = np.arange(150) % 3
    images = rng.integers(0, 120, size=(150, 3, 8, 8), dtype=np.uint8)
    images[np.arange(150), y] += 120
    np.save(tmp_path / "train.npy", images)
    mmap = np.load(tmp_path / "train.npy", mmap_mode="r")
    train_x = StoredImages(mmap, MEAN, STD, workers=0) if streamed else standardise(mmap, MEAN, STD)
    test_x = StoredImages(mmap[:30], MEAN, STD) if streamed else standardise(mmap[:30], MEAN, STD)
    noisy = np.where(np.arange(150) % 5 == 0, (y + 1) % 3, y)
    return ArrayDataset(
        "d", train_x, y, test_x, y[:30], ("a", "b", "c"), pixel_mean=tuple(MEAN), pixel_std=tuple(STD)
    ), noisy


@pytest.mark.parametrize("learner", sorted(LEARNERS.names()))
def test_training_on_streamed_images_is_bit_identical_to_training_in_memory(learner, tmp_path):
    """Every learner, with weak and strong augmentation, its own state and (DivideMix) the co-divide's
    pass over all training samples: the same weights, history and re-labeling either way."""
    assert_streamed_equals_memory(learner, tmp_path)


def test_streamed_training_in_bf16_and_channels_last_is_bit_identical_too(tmp_path):
    """The GPU execution settings on the streamed path (on a CPU): the batches the workers read go
    through the same autocast and layout conversion as the in-memory ones."""
    from noisyprune.training import execution
    from noisyprune.training.execution import Execution

    execution.set_current(Execution(torch.bfloat16, True, False))
    try:
        assert_streamed_equals_memory("sop_plus", tmp_path)
    finally:
        execution.set_current(Execution())


def assert_streamed_equals_memory(learner, tmp_path):
    """Train ``learner`` on the same images streamed and in memory; assert identical results."""
    results = []
    for streamed in (False, True):
        data, noisy = _training_data(tmp_path, streamed)
        entry = {"learner": learner, "epochs": 3, "batch_size": 32, "lr": 0.05}
        if learner == "dividemix":
            entry["warmup_epochs"] = 1
        result = train_on_samples(
            TrainingJob(
                entry,
                {"arch": "small_cnn", "channels": [4, 8]},
                seed=1,
                inference_batch_size=40,
                augment_entry={"shift": 1, "flip": True, "strong": "autoaugment", "cutout": 2},
            ),
            data,
            noisy,
            np.arange(30, 150),
            torch.device("cpu"),
            probe_ids=np.arange(0, 30, 3),
            warmup_embeddings=np.asarray(data.train_x).reshape(150, -1),
        )
        x = device_inputs(data.train_x, np.arange(150), torch.device("cpu"))
        logits = result.learner.predict_logits(result.ctx, x, 40)
        results.append((result, logits))
    (memory, memory_logits), (streamed, streamed_logits) = results
    assert isinstance(streamed.ctx.train, StreamedData) and isinstance(memory.ctx.train, TensorData)
    for a, b in zip(memory.ctx.models, streamed.ctx.models, strict=True):
        for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
            assert torch.equal(x, y), name
    assert torch.equal(memory_logits, streamed_logits)
    assert memory.history.columns()["test_acc"].tolist() == streamed.history.columns()["test_acc"].tolist()
    assert memory.history.columns()["train_loss"].tolist() == streamed.history.columns()["train_loss"].tolist()


@pytest.mark.workflow
def test_a_streamed_dataset_runs_the_whole_dag_with_the_results_of_the_in_memory_run(tiny_config, tmp_path):
    """A file-list dataset above max_memory_gb (streamed under storage: auto) through warm-up,
    extraction, selection and CE/DivideMix retrains: every accuracy, subset and relabel equals the
    run with the images in memory."""
    from conftest import file_list_entry, run_snakemake

    root = tmp_path / "c1m"
    train, test = [], []
    for i in range(60):
        label = i % 3
        _image(
            root / "images" / f"{i}.png", tuple(int(c * (0.6 + 0.4 * (i % 7) / 6)) for c in COLOURS[label]), fmt="PNG"
        )
        given = (label + 1) % 3 if i % 6 == 0 else label  # some labels are wrong
        (train if i < 48 else test).append(f"images/{i}.png {given if i < 48 else label}")
    (root / "train.txt").write_text("\n".join(train))
    (root / "test.txt").write_text("\n".join(test))
    config = tiny_config
    config["noise"] = {"given": {"kind": "none"}}
    config["sweep"].update(
        datasets=["c1m"], noise=["given"], methods=["uniform", "small_loss", "prune4rel"], learners=["ce", "dividemix"]
    )
    config["learners"]["dividemix"] = {
        "learner": "dividemix",
        "epochs": 3,
        "warmup_epochs": 1,
        "batch_size": 16,
        "lr": 0.05,
    }
    for entry in (config["warmups"]["ce"], config["learners"]["ce"]):
        entry["batch_size"] = 16  # a batch larger than the 48 training images is refused
    outcomes = {}
    for storage in ("memory", "auto"):
        # in memory below the limit; streamed under storage: auto above a tiny one
        limit = 1.0 if storage == "memory" else 1e-5
        config["datasets"] = {"c1m": file_list_entry(root, workers=2, storage=storage, max_memory_gb=limit)}
        workdir = tmp_path / storage
        run_snakemake(workdir, config, "--cores", "2")
        runs = pd.read_parquet(workdir / "results/tables/runs.parquet").sort_values(["method", "learner", "fraction"])
        subsets = {
            str(path.relative_to(workdir)): pd.read_parquet(path)["sample_id"].tolist()
            for path in sorted(workdir.glob("results/c1m/**/subset.parquet"))
        }
        relabels = {
            str(path.relative_to(workdir)): pd.read_parquet(path).drop(columns=[], errors="ignore")
            for path in sorted(workdir.glob("results/c1m/**/relabel*.parquet"))
        }
        logs = "".join(path.read_text() for path in workdir.glob("results/c1m/**/*.log"))
        outcomes[storage] = runs, subsets, relabels, logs
    (memory_runs, memory_subsets, memory_relabels, _), (runs, subsets, relabels, logs) = outcomes.values()
    assert len(runs) == 8 and subsets == memory_subsets and len(subsets) == 4
    assert relabels.keys() == memory_relabels.keys() and relabels
    for key, table in relabels.items():
        pd.testing.assert_frame_equal(table, memory_relabels[key])
    for column in ("test_acc_last", "test_acc_best", "train_acc_noisy_last", "warmup_test_acc", "subset_size"):
        assert runs[column].tolist() == memory_runs[column].tolist(), column
    assert "streamed" in logs  # the jobs say which data path they used


def test_instance_dependent_noise_reads_a_streamed_set_in_chunks_with_the_same_labels(tmp_path, monkeypatch):
    from noisyprune.noise import instance

    store = stored(tmp_path, count=300)
    reads = []

    class Recording(StoredImages):
        def __getitem__(self, key):
            rows = super().__getitem__(key)
            reads.append(len(rows))
            return rows

        def __array__(self, dtype=None, copy=None):
            raise AssertionError("the whole streamed set was read at once")

    clean = np.arange(300) % 4
    in_memory = ArrayDataset("d", np.asarray(store), clean, np.asarray(store)[:10], clean[:10], tuple("abcd"))
    expected = instance.instance_dependent_noise(clean, 4, np.random.default_rng(5), 0.4, in_memory)
    monkeypatch.setattr(instance, "SCORE_CHUNK", 64)
    streamed = ArrayDataset(
        "d", Recording(store.images, MEAN, STD), clean, np.asarray(store)[:10], clean[:10], tuple("abcd")
    )
    noisy = instance.instance_dependent_noise(clean, 4, np.random.default_rng(5), 0.4, streamed)
    assert max(reads) == 64 and sum(reads) == 300
    # the same draws; only the rounding of smaller matrix products could move a label
    assert (noisy == expected).mean() >= 0.99 and 0.25 < (noisy != clean).mean() < 0.55


def test_jobs_take_turns_decoding_one_cache_and_clear_what_killed_jobs_left(folder, tmp_path, monkeypatch):
    """The first job decodes while the others wait on the lock and then read its file; a partial
    file of a killed job is removed; a disk that cannot hold the cache is an error naming it."""
    import fcntl
    import threading

    cache = tmp_path / "cache"
    cache.mkdir()
    paths, _ = image_data.class_folder_samples(folder / "train", ["ant", "bee", "cat"])
    target = image_data.cache_path(paths, 8, str(cache))
    stale = cache / f".{target.name}.tmp-424242"
    stale.write_bytes(b"half a cache")
    decoded = []
    real_decode = image_data.decode_images
    monkeypatch.setattr(
        image_data, "decode_images", lambda paths, *a, **k: decoded.append(len(paths)) or real_decode(paths, *a, **k)
    )
    results = []
    with open(target.with_name(target.name + ".lock"), "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another job is decoding
        waiting = [
            threading.Thread(target=lambda: results.append(image_data.cached_images(paths, 8, 0, target)))
            for _ in range(2)
        ]
        for thread in waiting:
            thread.start()
        waiting[0].join(timeout=1.0)
        assert waiting[0].is_alive() and decoded == []  # both wait for the lock
    for thread in waiting:
        thread.join(timeout=60)
    assert decoded == [18]  # one decoded, the other read its file
    assert np.array_equal(results[0], results[1]) and not stale.exists()

    def no_space(fd, offset, length):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(image_data.os, "posix_fallocate", no_space, raising=False)
    with pytest.raises(ArtifactError, match=r"\.tmp-\d+: cannot reserve 0\.0 GB .*No space left on device"):
        image_data.cached_images(paths[:5], 8, 0, image_data.cache_path(paths[:5], 8, str(cache)))
    assert not list(cache.glob(".*.tmp-*"))


SPAWNED_READER = """
import sys

import numpy as np
import torch

from noisyprune.data.stored import StoredImages
from noisyprune.training.streaming import load_batches

print("module body ran", flush=True)  # once in the job, once more in each spawned worker
if __name__ == "__main__":
    torch.multiprocessing.set_start_method("spawn")
    store = StoredImages.from_file(sys.argv[1], [0.4, 0.5, 0.3], [0.2, 0.25, 0.3], workers=2)
    rows = [np.array([5, 1, 7]), np.array([0, 2]), np.array([8])]
    batches = list(load_batches(store, rows, torch.device("cpu")))
    assert all(torch.equal(b, torch.from_numpy(store[r])) for b, r in zip(batches, rows, strict=True))
    print("read", len(batches), "batches", flush=True)
"""


def test_spawned_workers_reopen_the_cache_file_and_the_job_runs_once(tmp_path):
    """macOS (and Python 3.14's forkserver on Linux) start workers by re-importing the job's script:
    the store travels as its path, and the guarded script body does not run again."""
    import subprocess
    import sys

    stored(tmp_path, count=12)
    script = tmp_path / "job.py"
    script.write_text(SPAWNED_READER)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "images.npy")], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("read 3 batches") == 1
    assert done.stdout.count("module body ran") == 3  # the job and its two spawned workers


def test_the_workflow_script_runs_its_stage_only_as_the_main_module():
    from pathlib import Path

    scripts = sorted((Path(__file__).resolve().parents[1] / "workflow" / "scripts").glob("*.py"))
    assert [script.name for script in scripts] == ["stage.py"]  # every rule's one script
    text = scripts[0].read_text()
    assert 'if __name__ == "__main__":\n    run_rule(snakemake)' in text and text.count("run_rule(") == 1
