"""Parameter declarations: they agree with the signatures, generate the schema branches and the
parameter tables of config/README.md, and plugins' modules reach the code hash."""

from __future__ import annotations

import json
import tempfile

import pytest
import yaml
from conftest import REPO

from noisyprune import param_tables
from noisyprune.params import declare, declared_parameters, param
from noisyprune.provenance import code_hash
from noisyprune.registry import PLUGIN_PACKAGES, Registry
from noisyprune.schema import (
    KINDS,
    STATIC_SCHEMA,
    assemble_schema,
    component_names,
    component_parameters,
    schema_file,
)

README = REPO / "config" / "README.md"
# The README section that documents each kind's parameters.
BUILT_IN = [(kind, name) for kind in KINDS for name in component_names(kind)]


@pytest.mark.parametrize(("kind", "name"), BUILT_IN, ids=[f"{k.registry}-{n}" for k, n in BUILT_IN])
def test_every_component_declares_exactly_its_arguments(kind, name):
    declared = component_parameters(kind, name)  # raises on any disagreement
    assert len({d.param.name for d in declared}) == len(declared)


def test_an_undeclared_argument_or_a_stray_declaration_is_named():
    @declare(param("rate", "Flip rate.", type="number"))
    def noise(clean, num_classes, rng, rate: float = 0.1, extra: int = 2):
        return clean

    with pytest.raises(TypeError, match=r"noise 'test_.*noise': arguments without a declaration: \['extra'\]"):
        declared_parameters(noise, ("clean", "num_classes", "rng"), "noise")

    @declare(param("rate", "Flip rate.", type="number"), param("gone", "Removed.", type="integer"))
    def other(clean, num_classes, rng, rate: float = 0.1):
        return clean

    with pytest.raises(TypeError, match=r"declarations without an argument: \['gone'\]"):
        declared_parameters(other, ("clean", "num_classes", "rng"), "noise")
    with pytest.raises(TypeError, match="declares no parameters"):
        declared_parameters(lambda clean: clean, ("clean",), "noise")
    with pytest.raises(TypeError, match="the default comes from the signature"):
        param("rate", "Flip rate.", type="number", default=0.2)


def test_settings_handed_on_as_keywords_take_their_defaults_from_the_target_and_are_checked():
    from dataclasses import dataclass

    from noisyprune.errors import ParameterError

    @dataclass(frozen=True)
    class Shared:
        size: int = 32
        workers: int = 2

    shared = (param("size", "Side.", type="integer", minimum=8), param("workers", "Workers.", type="integer"))

    @declare(param("root", "Folder.", type="string"), *shared, keywords_for=Shared)
    def loader(name="x", root: str = "", **settings):
        return Shared(**settings)

    declared = {d.param.name: d for d in declared_parameters(loader, ("name",), "loader")}
    assert {name: d.default for name, d in declared.items()} == {"root": "", "size": 32, "workers": 2}
    assert loader(root="r", size=16) == Shared(16, 2)
    # a value the declaration refuses is named as in any other call, though **settings collected it
    with pytest.raises(ParameterError, match=r"loader parameter 'size'.*8"):
        loader(root="r", size=4)
    # a keyword the target does not take is refused before the call does any work, as Python would
    with pytest.raises(TypeError, match=r"loader\(\) got an unexpected keyword argument 'sise'"):
        loader(root="r", sise=16)

    @declare(
        param("root", "Folder.", type="string"), *shared, param("gone", "Nowhere.", type="integer"), keywords_for=Shared
    )
    def stray(name="x", root: str = "", **settings):
        return Shared(**settings)

    with pytest.raises(TypeError, match=r"declarations without an argument: \['gone'\]"):
        declared_parameters(stray, ("name",), "loader")


def test_generated_branches_take_types_bounds_and_defaults_from_the_declarations():
    schema = assemble_schema(yaml.safe_load(STATIC_SCHEMA.read_text()))

    def branch(definition, key, name):
        for candidate in schema["$defs"][definition]["allOf"]:
            if candidate["if"]["properties"][key] == {"const": name}:
                return candidate["then"]
        raise KeyError(name)

    sop_plus = branch("training", "learner", "sop_plus")["properties"]
    assert sop_plus["ratio_consistency"] | {"description": ""} == {
        "description": "",
        "type": "number",
        "minimum": 0,
        "default": 0.9,
    }
    assert branch("training", "learner", "sop")["properties"]["ratio_consistency"]["default"] == 0.0
    assert sop_plus["epochs"] == {} and branch("training", "learner", "sop")["additionalProperties"] is False
    forgetting = branch("method", "pruner", "forgetting")["properties"]
    assert forgetting["balance"]["default"] == "proportional"
    assert forgetting["balance"]["enum"] == ["none", "proportional", "equal"]
    cifar = branch("dataset", "loader", "cifar10n")
    assert cifar["required"] == ["root", "human_labels"]  # required in the config despite Python defaults
    assert "default" not in branch("dataset", "loader", "arrays")["properties"]["layout"]  # None: absent
    assert branch("dataset", "loader", "image_folder")["properties"]["cache_dir"]["default"] == "results/.cache/images"
    assert schema["$defs"]["method"]["properties"]["pruner"]["enum"][0] == "uniform"  # `full` is reserved


def test_registering_refuses_a_taken_name_and_a_malformed_target():
    registry = Registry("pruner", {"uniform": "noisyprune.pruners.uniform:Uniform"})
    registry.add("uniform", "noisyprune.pruners.uniform:Uniform")  # the same again: a no-op
    with pytest.raises(ValueError, match="'uniform' is already registered"):
        registry.add("uniform", "mine:Uniform")
    with pytest.raises(ValueError, match="is not 'module:attribute'"):
        registry.add("mine", "mine.Uniform")
    with pytest.raises(ValueError, match="unknown component kind 'pruners'"):
        from noisyprune.registry import register

        register("pruners", "mine", "mine:Mine")


def test_a_plugin_modules_source_is_part_of_its_code_hash(tmp_path, monkeypatch):
    package = tmp_path / "hash_plugin"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "pruner.py").write_text("from hash_plugin import helpers\n")
    (package / "helpers.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr("noisyprune.provenance._direct_imports", _uncached_direct_imports())
    PLUGIN_PACKAGES.add("hash_plugin")
    try:
        first = code_hash(["hash_plugin.pruner"])
        (package / "helpers.py").write_text("VALUE = 2\n")  # a module the plugin imports
        assert code_hash(["hash_plugin.pruner"]) != first
    finally:
        PLUGIN_PACKAGES.discard("hash_plugin")


def _uncached_direct_imports():
    from noisyprune import provenance

    return provenance._direct_imports.__wrapped__


def test_config_readme_parameter_tables_are_generated_from_the_declarations():
    text = README.read_text(encoding="utf-8")
    assert param_tables.rendered(text) == text, "config/README.md is stale: run python -m noisyprune.param_tables"
    kinds = {match["kind"] for match in param_tables.TABLE.finditer(text)}
    assert kinds == {kind.registry for kind in KINDS}  # a `*` table per kind takes any new component


def test_a_parameter_table_merges_shared_declarations_and_shows_each_default():
    rows = param_tables.table("learner", ["sop", "sop_plus"]).splitlines()
    assert rows[0] == "| learner | key | default | allowed | meaning |"
    ratio = next(row for row in rows if "`ratio_consistency`" in row)
    assert ratio.startswith("|  | `ratio_consistency` | `0.0` (`sop_plus`: `0.9`) | number ≥ 0 |")
    assert rows[2].startswith("| `sop`, `sop_plus` | `lr_u` | `1.0` |")
    cifar = param_tables.table("loader", ["cifar10n"])
    assert "| `cifar10n` | `root` | required | string |" in cifar
    assert "| `download` | `false` | boolean |" in cifar
    prune4rel = param_tables.table("pruner", ["prune4rel"])
    assert "| `tau` | `0.975` | number ≥ 0, < 1 or `auto` |" in prune4rel
    assert "| `balance` | `equal` | one of `none`, `proportional`, `equal` |" in prune4rel


def test_the_assembled_schema_is_cached_and_falls_back_to_the_temporary_folder(tmp_path, monkeypatch):
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))  # the user cache cannot be created
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    path = schema_file()
    assert path.is_relative_to(tmp_path / "tmp")
    assembled = json.loads(path.read_text())
    names = [branch["if"]["properties"]["pruner"]["const"] for branch in assembled["$defs"]["method"]["allOf"]]
    assert names[:2] == ["uniform", "small_loss"]
    assert schema_file() == path  # built once per set of sources


def test_a_name_registered_for_an_existing_module_gets_a_new_schema(tmp_path, monkeypatch):
    from noisyprune.pruners.registry import PRUNERS

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    before = schema_file()
    monkeypatch.setattr(
        PRUNERS, "_entries", {**PRUNERS.entries(), "uniform_again": "noisyprune.pruners.uniform:Uniform"}
    )
    after = schema_file()
    assert after != before  # the same modules, but another name: not the cached schema
    assert "uniform_again" in json.loads(after.read_text())["$defs"]["method"]["properties"]["pruner"]["enum"]
