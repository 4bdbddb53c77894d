"""Code hashes cover exactly the modules a stage can run; provenance lists versions and machine."""

import shutil

import pytest

from noisyprune import provenance


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """A copy of the package source that the hash functions read instead of the installed one."""
    copy = tmp_path / "noisyprune"
    shutil.copytree(provenance.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "PACKAGE_DIR", copy)
    provenance._direct_imports.cache_clear()
    yield copy
    provenance._direct_imports.cache_clear()


def test_select_closure_excludes_unused_pruners_and_training():
    closure = provenance.import_closure(["noisyprune.stages.select"])
    assert "noisyprune.pruners.base" in closure
    assert "noisyprune.pruners.budget" in closure
    assert "noisyprune.pruners" in closure  # package __init__ runs on import
    assert "noisyprune" in closure
    assert "noisyprune.pruners.uniform" not in closure  # registered lazily
    assert not any(module.startswith("noisyprune.training") for module in closure)


def test_retrain_closure_reaches_the_training_loop():
    closure = provenance.import_closure(["noisyprune.stages.retrain"])
    assert {"noisyprune.training.loop", "noisyprune.training.run", "noisyprune.metrics"} <= set(closure)


def test_editing_a_pruner_changes_only_its_selections_hash(package_copy):
    small_loss = ["noisyprune.stages.select", "noisyprune.pruners.small_loss"]
    uniform = ["noisyprune.stages.select", "noisyprune.pruners.uniform"]
    before = provenance.code_hash(small_loss), provenance.code_hash(uniform)
    assert before[0] != before[1]
    source = package_copy / "pruners" / "small_loss.py"
    source.write_text(source.read_text() + "\n# edited\n")
    after = provenance.code_hash(small_loss), provenance.code_hash(uniform)
    assert after[0] != before[0]
    assert after[1] == before[1]


def test_editing_a_shared_module_changes_every_dependent_hash(package_copy):
    modules = ["noisyprune.stages.select", "noisyprune.pruners.uniform"]
    before = provenance.code_hash(modules)
    budget = package_copy / "pruners" / "budget.py"
    budget.write_text(budget.read_text() + "\n# edited\n")
    assert provenance.code_hash(modules) != before


def test_environment_reports_versions_and_machine():
    env = provenance.environment("cpu (1 threads)")
    assert env["package_version"] and env["torch_version"] and env["host"]
    assert env["device"] == "cpu (1 threads)"
