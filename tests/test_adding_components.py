"""Adding an in-tree pruner, learner, loader and noise model is its module and one registry line.

In a scratch copy of the package, one of each is added (with the capabilities it declares: a
pruner's detection score and τ sweep, a loader's preflight check and human label set) and the
files touched are counted. The copy is then imported in a fresh interpreter and the four new
components are checked where the workflow reaches them: registration, the generated config schema
and its validation, a direct call's validation, the τ sweep, the human-label check, the preflight,
the noise-detection scores, the noise stage's model, a loader's data and a learner built.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import REPO, TINY_CONFIG, load_yaml

PACKAGE = REPO / "src" / "noisyprune"
ENTRY = re.compile(r'^\s+"\w+": "noisyprune\.[\w.]+:\w+",$')  # one entry of a registry's dict

# New module (relative to the package), its registry file and the one line registering it.
ADDITIONS = {
    "pruners/keep_first.py": (
        "pruners/registry.py",
        '        "keep_first": "noisyprune.pruners.keep_first:KeepFirst",',
        '''
        """A toy pruner: keep the candidates with the smallest sample ids."""

        from __future__ import annotations

        import numpy as np

        from noisyprune.params import declare, param
        from noisyprune.pruners.base import DetectionScore, PrunerInputs, ScorePruner, offers


        @declare(param("tau", "A toy neighbourhood threshold.", type="number", minimum=0, exclusiveMaximum=1))
        class KeepFirst(ScorePruner):
            """Scores each candidate by its sample id, ``(n,)``; keeps the lowest."""

            keep = "low"
            requires = ("features",)
            sweeps_tau = True
            detection_scores = offers(late_id=DetectionScore(lambda inputs: inputs.sample_id.astype(np.float64)))

            def __init__(self, balance: str = "none", tau: float = 0.5):
                super().__init__(balance=balance)
                self.tau = tau

            def score(self, inputs: PrunerInputs, rng: np.random.Generator) -> np.ndarray:
                return inputs.sample_id.astype(np.float64)
        ''',
    ),
    "training/learners/scaled_ce.py": (
        "training/learners/registry.py",
        '        "scaled_ce": "noisyprune.training.learners.scaled_ce:ScaledCrossEntropy",',
        '''
        """A toy learner: cross-entropy times a constant."""

        from __future__ import annotations

        import torch.nn.functional as F

        from noisyprune.params import declare, param
        from noisyprune.training.learners.base import Learner
        from noisyprune.training.context import StepOutput


        @declare(param("scale", "Factor on the loss.", type="number", exclusiveMinimum=0))
        class ScaledCrossEntropy(Learner):
            """Minimises ``scale`` times the cross-entropy on the noisy labels."""

            def __init__(self, scale: float = 2.0):
                super().__init__()
                self.scale = float(scale)

            def training_step(self, ctx, batch) -> StepOutput:
                logits = ctx.network(batch.x)
                return StepOutput(loss=self.scale * F.cross_entropy(logits, batch.y), logits=logits.detach())
        ''',
    ),
    "data/ring.py": (
        "data/registry.py",
        '        "ring": "noisyprune.data.ring:load_ring",',
        '''
        """A toy loader: points on two rings, with one human label set."""

        from __future__ import annotations

        import numpy as np

        from noisyprune.data.base import ArrayDataset
        from noisyprune.data.capabilities import Check, loader_capabilities
        from noisyprune.params import declare, param


        @loader_capabilities(check=Check(), label_sets=("annotated",))
        @declare(param("samples", "Training samples.", type="integer", minimum=8))
        def load_ring(name: str = "ring", samples: int = 80) -> ArrayDataset:
            """Two rings in 2-D: inputs ``(n, 2)`` float32, labels ``(n,)`` in ``{0, 1}``."""
            rng = np.random.default_rng(0)
            total = samples + samples // 4
            labels = np.arange(total) % 2
            angle = rng.uniform(0, 2 * np.pi, total)
            x = np.c_[np.cos(angle), np.sin(angle)] * (1 + labels[:, None])
            annotated = np.where(np.arange(samples) % 5 == 0, 1 - labels[:samples], labels[:samples])
            return ArrayDataset(
                name=name,
                train_x=x[:samples].astype(np.float32),
                train_y=labels[:samples],
                test_x=x[samples:].astype(np.float32),
                test_y=labels[samples:],
                class_names=("inner", "outer"),
                label_sets={"annotated": annotated},
            )
        ''',
    ),
    "noise/flip_first.py": (
        "noise/registry.py",
        '        "flip_first": "noisyprune.noise.flip_first:flip_first_noise",',
        '''
        """A toy noise model: the first samples get the next class."""

        from __future__ import annotations

        import numpy as np

        from noisyprune.params import declare, param


        @declare(param("count", "How many of the first samples flip.", type="integer", minimum=0))
        def flip_first_noise(clean: np.ndarray, num_classes: int, rng: np.random.Generator, count: int = 3):
            """Labels ``(n,)``: ``(clean + 1) mod C`` for the first ``count`` samples, else ``clean``."""
            noisy = clean.copy()
            noisy[:count] = (clean[:count] + 1) % num_classes
            return noisy
        ''',
    ),
}

# Run in the copy: every place the workflow reaches a component, for the four new ones.
CHECKS = """
import json, sys
import numpy as np
import noisyprune
from noisyprune.config import validate_config
from noisyprune.data.preflight import check_swept_datasets
from noisyprune.data.registry import load_dataset
from noisyprune.detection import noise_scores
from noisyprune.errors import ConfigError, ParameterError
from noisyprune.noise.base import apply_noise
from noisyprune.pruners.registry import PRUNERS, build_pruner
from noisyprune.registry import registries
from noisyprune.schema import assemble_schema, _static_schema
from noisyprune.training.learners.registry import build_learner

config = json.loads(sys.argv[1])
result = {"package": noisyprune.__file__}
names = {"pruner": "keep_first", "learner": "scaled_ce", "loader": "ring", "noise": "flip_first"}
result["registered"] = {kind: name in registries()[kind] for kind, name in names.items()}
schema = assemble_schema(_static_schema())
definitions = {"pruner": "method", "learner": "training", "loader": "dataset", "noise": "noise_spec"}
keys = {"pruner": "pruner", "learner": "learner", "loader": "loader", "noise": "kind"}
result["in_schema"] = {
    kind: name in schema["$defs"][definitions[kind]]["properties"][keys[kind]]["enum"] for kind, name in names.items()
}
validated = validate_config(json.loads(sys.argv[1]))
result["tau_sweep"] = validated["sweep"]["methods"]
bad = json.loads(sys.argv[1])
bad["methods"]["first"]["tau"] = 2
try:
    validate_config(bad)
except ConfigError as err:
    result["config_error"] = str(err)
try:
    build_pruner({"pruner": "keep_first", "tau": 2})
except ParameterError as err:
    result["direct_error"] = str(err)
check_swept_datasets(validated)  # the loader's declared check: loads it, checks the swept noises fit
human = json.loads(sys.argv[1])
human["noise"]["human"]["labels"] = "missing"
try:
    validate_config(human)
except ConfigError as err:
    result["label_set_error"] = str(err)
data = load_dataset("ring", validated["datasets"]["ring"])
result["num_train"] = data.num_train
noisy = apply_noise(data.train_y, 2, validated["noise"]["flip"], np.random.default_rng(0), data).noisy
result["flipped"] = int((noisy != data.train_y).sum())
result["needs_gpu"] = build_pruner(validated["methods"]["first"]).needs_gpu
result["learner"] = type(build_learner("scaled_ce", {"scale": 3.0})).__name__

import pyarrow as pa
from noisyprune.artifacts import Artifact
n = data.num_train
probs = np.full((n, 2), 0.5, np.float32)
features = Artifact(
    pa.table({
        "sample_id": np.arange(n),
        "probs": pa.FixedSizeListArray.from_arrays(pa.array(probs.reshape(-1)), 2),
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(data.train_x.reshape(-1)), 2),
        "loss": np.zeros(n, np.float32),
    }),
    {},
    None,
)
result["detection_scores"] = sorted(noise_scores(features, None, noisy, 2))
print(json.dumps(result))
"""


def scratch_copy(tmp_path: Path) -> Path:
    """The package and the static schema file it reads, as ``<tmp>/src/noisyprune`` and
    ``<tmp>/workflow/schemas`` (the package finds the schema two folders above itself)."""
    root = tmp_path / "copy"
    shutil.copytree(PACKAGE, root / "src" / "noisyprune", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "workflow" / "schemas", root / "workflow" / "schemas")
    return root


def add_components(package: Path) -> None:
    """Write each new module and insert its one registry line after the registry's first entry."""
    for module, (registry, line, code) in ADDITIONS.items():
        (package / module).write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")
        path = package / registry
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        first_entry = next(i for i, text in enumerate(lines) if ENTRY.match(text))
        lines.insert(first_entry + 1, line + "\n")
        path.write_text("".join(lines), encoding="utf-8")


def touched_files(before: Path, after: Path) -> tuple[list[str], dict[str, int]]:
    """The files only ``after`` has, and the files both have but differ in, with the count of lines
    that differ (added or removed) in each."""
    added, changed = [], {}
    for path in sorted(after.rglob("*.py")):
        relative = path.relative_to(after)
        original = before / relative
        if not original.is_file():
            added.append(str(relative))
        elif not filecmp.cmp(original, path, shallow=False):
            old = original.read_text(encoding="utf-8").splitlines()
            new = path.read_text(encoding="utf-8").splitlines()
            changed[str(relative)] = len(set(new) ^ set(old))
    return added, changed


def toy_config() -> dict:
    """The tiny config sweeping only the four new components (and a human noise on the toy loader's set)."""
    config = load_yaml(TINY_CONFIG)
    config["datasets"]["ring"] = {"loader": "ring", "model": "mlp", "samples": 80}
    config["noise"]["flip"] = {"kind": "flip_first", "count": 4}
    config["noise"]["human"] = {"kind": "human", "labels": "annotated"}
    config["methods"]["first"] = {"pruner": "keep_first", "tau": 0.5}
    config["learners"]["scaled"] = {"learner": "scaled_ce", "epochs": 1, "batch_size": 16, "scale": 3.0}
    config["sweep"] |= {
        "datasets": ["ring"],
        "noise": ["flip", "human"],
        "methods": ["first", "uniform"],
        "learners": ["scaled"],
        "tau_sweep": [0.3],
        "fractions": [0.5],
    }
    return config


def test_adding_one_of_each_is_its_module_and_one_registry_line(tmp_path):
    root = scratch_copy(tmp_path)
    add_components(root / "src" / "noisyprune")
    added, changed = touched_files(PACKAGE, root / "src" / "noisyprune")
    assert sorted(added) == sorted(ADDITIONS)
    assert changed == {registry: 1 for registry, _, _ in ADDITIONS.values()}

    env = dict(os.environ, PYTHONPATH=str(root / "src"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    done = subprocess.run(
        [sys.executable, "-c", CHECKS, json.dumps(toy_config())],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["package"].startswith(str(root))  # the copy, not the checkout
    assert all(result["registered"].values()) and all(result["in_schema"].values())
    assert result["tau_sweep"] == ["first", "first_tau0p3", "uniform"]  # the pruner's sweeps_tau
    assert result["config_error"].startswith("config key 'methods.first.tau': 2 is greater than or equal")
    assert result["direct_error"].startswith("KeepFirst parameter 'tau': 2 is greater than or equal")
    assert "human label set 'missing' does not exist for dataset 'ring'" in result["label_set_error"]
    assert "sets: annotated" in result["label_set_error"]  # the loader's declared label sets
    assert result["num_train"] == 80 and result["flipped"] == 4
    assert result["needs_gpu"] is False and result["learner"] == "ScaledCrossEntropy"
    assert "late_id" in result["detection_scores"]  # the pruner's declared detection score
