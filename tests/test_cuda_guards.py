"""CUDA-only code is reached only behind a device check, and its CPU stand-ins run here.

A ``torch.cuda.*`` call (or a ``torch.backends.cuda``/``cudnn`` setting, or ``tensor.cuda()``) that
no device check guards works on the developer's GPU and fails, or silently does nothing, on a
CPU-only node; the first user to notice would be one whose job died on a cluster. The scan below
fails on any such use in ``src/noisyprune``. A use counts as guarded when it sits

- in the branch of an ``if`` (statement or expression) that runs only on CUDA: the test compares a
  device or its ``.type`` with ``"cuda"``, reads a name ``on_cuda``, or calls one of
  :data:`GUARD_CALLS`; or in the ``else`` of a test that holds only off CUDA (``!= "cuda"``, ``not``);
- after an ``if`` that leaves the block (``return``/``raise``/``continue``) when off CUDA;
- or in a function of :data:`ALLOWED_FUNCTIONS`, each with its reason (none today).

``torch.cuda.is_available()`` is the check itself and allowed anywhere.
"""

import ast
from pathlib import Path

import numpy as np
import pytest
import torch
from test_execution import SMALL_CNN, train_tiny

from noisyprune.training.execution import Execution
from noisyprune.training.loop import capture_loop_state

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "noisyprune"

CUDA_PREFIXES = ("torch.cuda.", "torch.backends.cuda.", "torch.backends.cudnn.")
# The device checks themselves: allowed anywhere, and a call to one in an if's test guards its body.
GUARD_CALLS = {"torch.cuda.is_available", "cuda_allowed"}
# "module:function" whose CUDA calls are reached only after a check made by every caller, with why.
ALLOWED_FUNCTIONS: dict[str, str] = {}


def dotted(node: ast.AST) -> str | None:
    """``torch.cuda.synchronize`` for that attribute chain (names only), else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _is_cuda_constant(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value == "cuda"


def guard_sign(test: ast.AST) -> int:
    """+1 when ``test`` holds only on CUDA, -1 when it holds only off CUDA, 0 when it says nothing."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return -guard_sign(test.operand)
    if isinstance(test, ast.BoolOp):
        signs = [guard_sign(value) for value in test.values]
        wanted = 1 if isinstance(test.op, ast.And) else -1  # a and b: one CUDA-only part suffices
        if wanted in signs:
            return wanted
        return signs[0] if len(set(signs)) == 1 else 0
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        if _is_cuda_constant(test.left) or _is_cuda_constant(test.comparators[0]):
            if isinstance(test.ops[0], ast.Eq):
                return 1
            if isinstance(test.ops[0], ast.NotEq):
                return -1
        return 0
    if isinstance(test, ast.Name) and test.id == "on_cuda":
        return 1
    if isinstance(test, ast.Call):
        name = dotted(test.func)
        if name in GUARD_CALLS or (name and name.split(".")[-1] in GUARD_CALLS):
            return 1
    return 0


def _leaves(body: list[ast.stmt]) -> bool:
    return bool(body) and isinstance(body[-1], ast.Return | ast.Raise | ast.Continue)


class CudaUses(ast.NodeVisitor):
    """Collects ``(line, text)`` of every CUDA use in a module that no device check guards."""

    def __init__(self, module: str):
        self.module = module
        self.guarded = 0  # depth of enclosing CUDA-only branches
        self.function: list[str] = []
        self.found: list[tuple[int, str]] = []
        self.seen: list[str] = []  # every CUDA use looked at, guarded or not

    def report(self, node: ast.AST, text: str) -> None:
        self.seen.append(text)
        allowed = f"{self.module}:{self.function[-1]}" in ALLOWED_FUNCTIONS if self.function else False
        if not self.guarded and not allowed:
            self.found.append((node.lineno, text))

    def visit_block(self, body: list[ast.stmt]) -> None:
        raised = 0
        for statement in body:
            self.visit(statement)
            if isinstance(statement, ast.If) and guard_sign(statement.test) == -1 and _leaves(statement.body):
                self.guarded += 1  # the rest of the block runs only on CUDA
                raised += 1
        self.guarded -= raised

    def generic_visit(self, node: ast.AST) -> None:
        for _, value in ast.iter_fields(node):
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                self.visit_block(value)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.function.append(node.name)
        self.generic_visit(node)
        self.function.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def _branches(self, node: ast.If | ast.IfExp, body, orelse) -> None:
        self.visit(node.test)
        sign = guard_sign(node.test)
        for branch, on_cuda in ((body, sign == 1), (orelse, sign == -1)):
            self.guarded += on_cuda
            if isinstance(branch, list):
                self.visit_block(branch)
            else:
                self.visit(branch)
            self.guarded -= on_cuda

    def visit_If(self, node: ast.If) -> None:
        self._branches(node, node.body, node.orelse)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self._branches(node, node.body, node.orelse)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = dotted(node)
        if name and name.startswith(CUDA_PREFIXES) and name not in GUARD_CALLS:
            self.report(node, name)
            return  # the chain's inner attributes are the same use
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Attribute) and node.func.attr == "cuda" and dotted(node.func) != "torch.cuda":
            self.report(node, f"{ast.unparse(node.func)}()")  # tensor.cuda(): a copy to the GPU
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.startswith("torch.cuda") or alias.name.startswith("torch.backends.cud"):
                self.report(node, f"import {alias.name}")  # an alias would hide later uses from the scan

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        names = {alias.name for alias in node.names}
        if module.startswith(("torch.cuda", "torch.backends.cud")) or (
            module in ("torch", "torch.backends") and names & {"cuda", "cudnn"}
        ):
            self.report(node, f"from {module} import {', '.join(sorted(names))}")


def scan(source: str, module: str = "snippet") -> CudaUses:
    """The visitor after scanning ``source``: ``found`` holds the unguarded uses, ``seen`` every one."""
    visitor = CudaUses(module)
    visitor.visit_block(ast.parse(source).body)
    return visitor


def unguarded_cuda_uses(source: str, module: str = "snippet") -> list[tuple[int, str]]:
    """Every CUDA use in ``source`` that no device check guards, as ``(line, text)``."""
    return scan(source, module).found


def package_modules():
    """``(path relative to src/, dotted module name, source)`` of every module of the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent)
        yield relative, ".".join(relative.with_suffix("").parts), path.read_text()


def test_no_cuda_call_in_the_package_runs_without_a_device_check():
    found = [
        f"{relative}:{line}: {text}"
        for relative, module, source in package_modules()
        for line, text in unguarded_cuda_uses(source, module)
    ]
    assert found == [], "CUDA used without a device check:\n" + "\n".join(found)


def test_the_scan_looks_at_the_package_s_guarded_cuda_uses():
    """Not vacuous: the package's CUDA uses (resume RNG state, device name, peak memory, TF32 flag)
    are among what the scan inspected and accepted because of their checks."""
    seen = {text for _, module, source in package_modules() for text in scan(source, module).seen}
    assert {
        "torch.cuda.get_rng_state",
        "torch.cuda.set_rng_state",
        "torch.cuda.get_device_name",
        "torch.cuda.max_memory_allocated",
        "torch.backends.cuda.matmul.allow_tf32",
    } <= seen


UNGUARDED = [
    "torch.cuda.synchronize()",
    "peak = torch.cuda.max_memory_allocated(device)",
    "torch.backends.cudnn.benchmark = True",
    "x = batch.cuda()",
    "from torch import cuda",
    "import torch.cuda as tc",
    "if device.type == 'cpu':\n    pass\nelse:\n    pass\ntorch.cuda.empty_cache()",
    "if torch.cuda.is_available():\n    pass\ntorch.cuda.synchronize()",  # after the guarded block
    "def f(device):\n    if device.type == 'cuda':\n        return 1\n    return torch.cuda.memory_allocated(device)",
    "name = 'cpu' if device.type == 'cuda' else torch.cuda.get_device_name(device)",
]

GUARDED = [
    "torch.cuda.is_available()",
    "if device.type == 'cuda':\n    torch.cuda.synchronize()",
    "if ctx.device.type == 'cuda' and 'cuda' in state:\n    torch.cuda.set_rng_state(state['cuda'])",
    "n = torch.cuda.device_count() if torch.cuda.is_available() else 0",
    "def f(device):\n    if device.type != 'cuda':\n        return None\n    return torch.cuda.memory_reserved()",
    "if not on_cuda:\n    pass\nelse:\n    torch.backends.cudnn.benchmark = True",
    "if device == 'cuda':\n    x = batch.cuda()",
]


@pytest.mark.parametrize("source", UNGUARDED)
def test_the_scan_flags_an_unguarded_cuda_use(source):
    assert unguarded_cuda_uses(source)


@pytest.mark.parametrize("source", GUARDED)
def test_the_scan_accepts_a_guarded_cuda_use(source):
    assert unguarded_cuda_uses(source) == []


# -- the CPU stand-ins of the CUDA-only paths, run here ------------------------------------------


PEAK_PROBE = """
import json, resource, numpy as np, torch
from noisyprune.training.memory import peak_memory
before = peak_memory(torch.device("cpu"))
ballast = np.ones(64 * 2**20 // 8)  # 64 MiB, written: the peak must rise by about that much
after = peak_memory(torch.device("cpu"))
print(json.dumps([before, after, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]))
"""


def test_peak_memory_on_a_cpu_is_the_process_peak_resident_memory():
    """In a fresh process (whose peak is its own): the recorded peak follows an allocation and
    never exceeds the kernel's rusage figure (which also counts the process it was forked from)."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", PEAK_PROBE], capture_output=True, text=True, check=True)
    before, after, maxrss_kib = json.loads(done.stdout)
    assert before["peak_memory_source"] == after["peak_memory_source"] == "process_max_rss"
    assert before["peak_memory_mb"] + 60 <= after["peak_memory_mb"] <= maxrss_kib / 1024 + 1


def test_streamed_batches_are_pinned_only_for_a_cuda_device(tmp_path, monkeypatch):
    """Pinned memory and the non-blocking copy are the CUDA path; on a CPU the loader pins nothing
    and the batches come back as they were read."""
    from noisyprune.data.stored import StoredImages
    from noisyprune.training import streaming

    images = np.random.default_rng(0).integers(0, 256, size=(10, 3, 4, 4), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    store = StoredImages(np.load(tmp_path / "images.npy", mmap_mode="r"), (0.5,) * 3, (0.25,) * 3, 0)
    positions = [np.arange(0, 5), np.arange(5, 10)]
    batches = list(streaming.load_batches(store, positions, torch.device("cpu")))
    assert all(not batch.is_pinned() for batch in batches)
    assert all(torch.equal(batch, torch.from_numpy(store[rows])) for batch, rows in zip(batches, positions))
    seen = {}

    class Recording:
        def __init__(self, *args, **kwargs):
            seen.update(kwargs)

        def __iter__(self):
            return iter(())

    monkeypatch.setattr(streaming, "DataLoader", Recording)
    for device in ("cpu", "cuda"):  # nothing is copied: the recording loader yields no batch
        list(streaming.load_batches(store, positions, torch.device(device)))
        assert seen["pin_memory"] is (device == "cuda")


def test_a_cpu_training_state_holds_no_cuda_random_state():
    result, *_ = train_tiny("ce", SMALL_CNN, Execution())
    state = capture_loop_state(1, result.ctx, [], result.learner, [])
    assert set(state["rng"]) == {"batches", "augment", "torch"}
