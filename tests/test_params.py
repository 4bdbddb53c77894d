"""Parameter declarations: they agree with the signatures, generate the schema branches, reach the
code hash of plugins, and config/README.md documents every declared parameter with its default and
choices."""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import REPO

from noisyprune.params import declare, declared_parameters, param
from noisyprune.provenance import code_hash
from noisyprune.registry import PLUGIN_PACKAGES, Registry
from noisyprune.schema import KINDS, STATIC_SCHEMA, assemble_schema, component_names, component_parameters

README = REPO / "config" / "README.md"
# The README section that documents each kind's parameters.
SECTIONS = {"pruner": "methods", "learner": "warmups", "loader": "datasets", "noise": "noise", "arch": "models"}
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


def readme_sections() -> dict[str, str]:
    """config/README.md's ``## `name` `` sections (subsections included) by name."""
    text = README.read_text(encoding="utf-8")
    parts = re.split(r"^## ", text, flags=re.M)
    sections = {}
    for part in parts[1:]:
        title, _, body = part.partition("\n")
        for name in re.findall(r"`(\w+)`", title):
            sections[name] = body
    return sections


def shown_forms(value) -> set[str]:
    """How a default may be written in the README."""
    if isinstance(value, bool):
        return {str(value).lower()}
    if isinstance(value, int | float):
        forms = {repr(value), f"{value:g}", f"{value:,}", re.sub(r"e([+-])0+", r"e\1", f"{value:g}")}
        if float(value).is_integer():
            forms |= {str(int(value)), f"{int(value):,}"}
        return forms
    if isinstance(value, list | tuple):
        return {"[" + ", ".join(str(v) for v in value) + "]"}
    return {str(value)}


def rows_about(section: str, kind_name: str, name: str) -> list[str]:
    """The table rows of ``section`` that document parameter ``name`` of component ``kind_name``:
    rows keyed by it that name the component (or sit under its ``###`` subsection), else the rows
    keyed by it for every component, plus rows of the component that mention it."""
    scoped: list[str] = []
    everyone: list[str] = []
    subsection = ""
    for line in section.splitlines():
        if line.startswith("### "):
            subsection = line
        if not line.startswith("| "):
            continue
        mentions_component = f"`{kind_name}`" in line or f"`{kind_name}`" in subsection
        first_cells = line.split("|")[1:3]
        keyed = any(re.search(rf"`{name}`", cell) for cell in first_cells)
        if keyed and mentions_component:
            scoped.append(line)
        elif keyed:
            everyone.append(line)
        elif mentions_component and re.search(rf"`{name}[`:]", line):
            scoped.append(line)
    return scoped + everyone


@pytest.mark.parametrize(("kind", "name"), BUILT_IN, ids=[f"{k.registry}-{n}" for k, n in BUILT_IN])
def test_config_readme_documents_every_declared_parameter_default_and_choice(kind, name):
    section = readme_sections()[SECTIONS[kind.registry]]
    for declared in component_parameters(kind, name):
        key = declared.param.name
        rows = rows_about(section, name, key)
        assert rows, f"config/README.md ({SECTIONS[kind.registry]}): no row documents {name}'s {key!r}"
        text = " ".join(rows)
        if declared.required:
            assert "required" in text, f"{name}.{key} is required; its README row does not say so"
        elif declared.schema().get("default") is not None:
            default = declared.schema()["default"]
            assert any(form in text for form in shown_forms(default)), (
                f"{name}.{key}: the README rows do not show the default {default!r}: {rows}"
            )
        for choice in declared.schema().get("enum", []):
            assert f"`{choice}`" in text or f": {choice}`" in text, f"{name}.{key}: choice {choice!r} undocumented"
