"""The inputs `noisyprune methods` says each method needs (noisyprune.method_inputs) are what it reads:
the declared arrays suffice, and leaving out any one of them fails with a message naming it."""

import warnings

import numpy as np
import pytest

from noisyprune.api import select_subset
from noisyprune.method_inputs import method_inputs
from noisyprune.pruners.registry import PRUNERS, REFERENCE_METHOD, build_pruner

# Every built-in method under its defaults and under each parameter value that changes its inputs.
BUILT_IN = {name: PRUNERS.get(name).inputs for name in PRUNERS.names()}
CASES = [
    (name, dict([variant]) if variant else {})
    for name, entry in BUILT_IN.items()
    if name != REFERENCE_METHOD
    for variant in (None, *entry.variants)
]


def arrays(n=60, classes=3, seed=0):
    """Labels, features, probabilities and logits for ``n`` samples."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, classes))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return dict(
        labels=rng.integers(0, classes, n), features=rng.normal(size=(n, 8)), probabilities=probabilities, logits=logits
    )


def test_every_built_in_method_declares_its_inputs():
    assert [name for name, declared in BUILT_IN.items() if declared is None] == []


@pytest.mark.parametrize(("method", "params"), CASES, ids=[f"{m}{p or ''}" for m, p in CASES])
def test_the_declared_inputs_are_what_the_method_reads(method, params):
    declared = method_inputs(PRUNERS.get(method)).under(params)
    pruner = build_pruner({"pruner": method, **params})
    reads_record = bool({"dynamics", "snapshots"} & set(pruner.requires))
    assert ("dynamics" in declared) == reads_record
    if reads_record:
        return  # only the workflow's warm-up writes the per-epoch record (the API refuses it)
    given = {name: value for name, value in arrays().items() if name in declared and name != "labels"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        select_subset(arrays()["labels"], method=method, budget=20, method_params=params, **given)
        for left_out in given:
            fewer = {name: value for name, value in given.items() if name != left_out}
            with pytest.raises(ValueError, match="needs"):
                select_subset(arrays()["labels"], method=method, budget=20, method_params=params, **fewer)


def test_a_plugin_method_is_described_by_its_requires():
    class Mine:
        requires = ("features",)

    class Bare:
        pass

    assert method_inputs(Mine).default == ("labels", "features or probabilities")
    assert method_inputs(Bare).default == ("labels",)
