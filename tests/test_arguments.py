"""Each parameter is validated once: a direct Python call is checked against the same declared
schema fragment as a config entry, with the same message, and no component constructor checks a
declared choice or bound again by hand."""

from __future__ import annotations

import ast
import inspect
import textwrap

import numpy as np
import pytest

from noisyprune.config import describe_schema_error
from noisyprune.errors import ParameterError
from noisyprune.params import declare, param
from noisyprune.pruners.registry import build_pruner
from noisyprune.registry import registries
from noisyprune.schema import KINDS, component_branch, component_names
from noisyprune.training.learners.registry import build_learner

COMPONENTS = [(kind, name) for kind in KINDS for name in component_names(kind)]


def hand_written_checks(function, declared: dict[str, dict]) -> list[str]:
    """``if`` statements of ``function`` that test a declared parameter against a choice list
    (``in``/``not in`` a literal or a module constant) or a numeric bound, or test an array
    parameter for emptiness, and raise. A parameter the function assigns a value of its own (a list
    of folders found) is no longer the caller's argument: checks of it are left alone."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(function))))
    assigned = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign)
        for target in ast.walk(node.targets[0] if isinstance(node, ast.Assign) else node.target)
        if isinstance(target, ast.Name)
    }
    declared = {name: schema for name, schema in declared.items() if name not in assigned}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.If) or not any(isinstance(child, ast.Raise) for child in ast.walk(node)):
            continue
        for test in ast.walk(node.test):
            if isinstance(test, ast.Compare):
                sides = [test.left, *test.comparators]
                names = {side.id for side in sides if isinstance(side, ast.Name)} & set(declared)
                bound = any(isinstance(side, ast.Constant) and isinstance(side.value, int | float) for side in sides)
                constant_list = any(
                    isinstance(side, ast.Tuple | ast.List | ast.Set)
                    or (isinstance(side, ast.Name) and side.id.isupper())
                    for side in test.comparators
                )
                choice = constant_list and any(isinstance(op, ast.In | ast.NotIn) for op in test.ops)
                ordered = any(isinstance(op, ast.Lt | ast.LtE | ast.Gt | ast.GtE) for op in test.ops)
                if names and (choice or (ordered and bound)):
                    found.append(f"line {test.lineno}: {ast.unparse(test)}")
            elif (
                isinstance(test, ast.UnaryOp)
                and isinstance(test.op, ast.Not)
                and isinstance(test.operand, ast.Name)
                and "minItems" in declared.get(test.operand.id, {})
            ):
                found.append(f"line {test.lineno}: {ast.unparse(test)}")
    return found


def constructors(target) -> list:
    """The code a component's declared arguments reach first: a function itself, or the
    ``__init__`` of the class and of each parent class of the package (not ``torch.nn.Module``'s)."""
    if not inspect.isclass(target):
        return [target]
    own = [cls for cls in target.__mro__ if cls.__module__.startswith("noisyprune") and "__init__" in vars(cls)]
    return [cls.__init__ for cls in own]


@pytest.mark.parametrize(("kind", "name"), COMPONENTS, ids=[f"{k.registry}-{n}" for k, n in COMPONENTS])
def test_no_constructor_checks_a_declared_choice_or_bound_by_hand(kind, name):
    target = registries()[kind.registry].get(name)
    declared = {p.name: dict(p.schema) for p in target.__params__}
    found = [
        f"{function.__qualname__} {check}"
        for function in constructors(target)
        for check in hand_written_checks(function, declared)
    ]
    assert not found, f"{kind.registry} {name!r} checks declared parameters by hand (the declaration does): {found}"


def test_the_check_finder_finds_a_hand_written_check():
    def init(self, keep: str = "hard", rate: float = 0.1, hidden=(8,)):
        if keep not in ("hard", "easy"):
            raise ValueError(keep)
        if not 0 <= rate < 1:
            raise ValueError(rate)
        if not hidden:
            raise ValueError(hidden)

    def legitimate(self, keep: str = "hard", hidden=(8,), available=()):
        if keep not in available:
            raise ValueError("not in what the data holds")
        hidden = [h for h in hidden if h > 1]
        if not hidden:
            raise ValueError("found nothing")  # no longer the caller's argument

    declared = {"keep": {"enum": ["hard", "easy"]}, "rate": {"type": "number"}, "hidden": {"minItems": 1}}
    assert len(hand_written_checks(init, declared)) == 3
    assert hand_written_checks(legitimate, declared) == []


# Keys a config entry must hold besides the one under test (the file-backed loaders' files).
REQUIRED_KEYS = {"image_folder": {"root": "r"}, "file_list": {"root": "r", "train_list": "a", "test_list": "b"}}


@pytest.mark.parametrize(
    ("kind", "name", "key", "value"),
    [
        ("pruner", "prune4rel", "tau", 2.0),
        ("pruner", "ccs", "difficulty", "hardest"),
        ("pruner", "uniform", "balance", "some"),
        ("learner", "elr", "beta", 1.5),
        ("learner", "dividemix", "variant", "fast"),
        ("noise", "symmetric", "rate", 1.5),
        ("arch", "mlp", "hidden", []),
        ("loader", "image_folder", "image_size", 4),  # a setting the loader hands on in **decoding
        ("loader", "file_list", "storage", "disk"),
    ],
)
def test_a_direct_call_gets_the_config_schemas_message(kind, name, key, value):
    """The same fragment refuses the value on both paths, and the words after the culprit agree."""
    import jsonschema

    component_kind = next(k for k in KINDS if k.registry == kind)
    branch = component_branch(component_kind, name, [component_kind.key])
    entry = {component_kind.key: name, **REQUIRED_KEYS.get(name, {}), key: value}
    config_error = next(jsonschema.Draft202012Validator(branch["then"]).iter_errors(entry))
    config_message = describe_schema_error(config_error)
    target = registries()[kind].get(name)
    call = {"noise": lambda: target(np.zeros(4, int), 2, np.random.default_rng(0), **{key: value})}.get(
        kind, lambda: target(**({"input_shape": (4,), "num_classes": 2} if kind == "arch" else {}), **{key: value})
    )
    with pytest.raises(ParameterError) as raised:
        call()
    direct = str(raised.value)
    assert f"parameter {key!r}" in direct
    assert direct.split(": ", 1)[1] == config_message.split(": ", 1)[1]


def test_build_functions_refuse_through_the_declaration():
    with pytest.raises(ValueError, match=r"Prune4ReL parameter 'tau': nan is not a finite number"):
        build_pruner({"pruner": "prune4rel", "tau": float("nan")})
    with pytest.raises(ValueError, match=r"SOP parameter 'lr_u': -1 is less than the minimum of 0"):
        build_learner("sop", {"lr_u": -1})


def test_python_values_a_config_cannot_hold_are_read_as_their_json_kind():
    build_pruner({"pruner": "prune4rel", "tau": np.float32(0.9), "ivf_nprobe": np.int64(8)})
    mlp = registries()["arch"].get("mlp")
    mlp(input_shape=(4,), num_classes=2, hidden=(8, 4))
    with pytest.raises(ParameterError, match=r"parameter 'hidden'\[1\]: 0 is less than the minimum of 1"):
        mlp(input_shape=(4,), num_classes=2, hidden=(8, 0))


def test_a_subclass_is_checked_with_its_own_declarations_once():
    calls = []

    @declare(param("keep", "Which end.", choices=["low", "high"]))
    class Base:
        def __init__(self, keep: str = "low"):
            calls.append(keep)

    @declare(param("keep", "Which end, widened.", choices=["low", "high", "middle"]))
    class Child(Base):
        def __init__(self, keep: str = "low"):
            super().__init__(keep=keep)

    Child(keep="middle")  # the parent's narrower declaration is not applied again
    with pytest.raises(ParameterError, match="Child parameter 'keep': 'top' is not one of"):
        Child(keep="top")
    with pytest.raises(ParameterError, match="Base parameter 'keep'"):
        Base(keep="middle")
    assert calls == ["middle"]
