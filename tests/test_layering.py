"""The package's import plan: no import circle, and no arrow that runs back up the declared layers.

The graph is built from the source, not by importing: every ``import`` and ``from … import`` of a
package module anywhere in a module's file counts — at module level, inside functions, and under
``if TYPE_CHECKING:`` — parsed by :mod:`noisyprune.provenance` (the same parser the code hashes use).
An import of ``a.b.c`` is an arrow to ``a.b.c`` only; that Python first runs ``a/__init__.py`` and
``a/b/__init__.py`` is not an arrow (a package that re-exports its submodules would otherwise form a
circle with each of them). Imports by name at run time (the registries' ``"module:attribute"``
strings, ``importlib.import_module``) are not arrows: they are how the workflow reaches components
without importing them.
"""

from __future__ import annotations

import graphlib

import pytest

from noisyprune import provenance

ROOT = "noisyprune"

# Bottom first. A module belongs to the layer of the longest entry naming it or a package above it
# (the root package only by its own name). A module may import its own layer and those below.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundation",
        (
            ROOT,
            "noisyprune.errors",
            "noisyprune.console",
            "noisyprune.logs",
            "noisyprune.seeding",
            "noisyprune.registry",
            "noisyprune.schema_messages",
            "noisyprune.arguments",
            "noisyprune.params",
            "noisyprune.schema",
            "noisyprune.param_tables",
            "noisyprune.provenance",
            "noisyprune.written",
            "noisyprune.artifacts",
            "noisyprune.config_files",
            "noisyprune.thread_policy",
            "noisyprune.snakemake_internals",
        ),
    ),
    ("inputs", ("noisyprune.data", "noisyprune.noise", "noisyprune.models")),
    ("training", ("noisyprune.training", "noisyprune.influence", "noisyprune.derived_scores", "noisyprune.metrics")),
    # what pruners are built on: the τ-neighbour engines never import a pruner
    ("pruner tools", ("noisyprune.pruners.neighbours", "noisyprune.pruners.progress", "noisyprune.pruners.placement")),
    (
        "selection",
        (
            "noisyprune.pruners",
            "noisyprune.detection",
            "noisyprune.active",
            "noisyprune.noise_estimate",
            "noisyprune.noisier_subset",
            "noisyprune.selection_summary",
            "noisyprune.method_inputs",
        ),
    ),
    ("reporting", ("noisyprune.reporting",)),
    # the workflow, above the library: its stages and the job server that runs them
    ("stages", ("noisyprune.stages", "noisyprune.jobserver")),
    # what the Snakefile calls before any job: config validation and the datasets' preflight
    ("workflow glue", ("noisyprune.config", "noisyprune.data.preflight", "noisyprune.snakefile_hooks")),
    ("front doors", ("noisyprune.api", "noisyprune.cli")),
)

# Arrows the layer order allows but the design does not: the public API and its console script
# stand beside the workflow, on the library, and never run a stage.
FORBIDDEN = (("noisyprune.api", "noisyprune.stages"), ("noisyprune.cli", "noisyprune.stages"))


def covers(entry: str, module: str) -> bool:
    """Whether the layer entry ``entry`` names ``module`` or a package above it."""
    return module == entry or (entry != ROOT and module.startswith(entry + "."))


def layer_of(module: str, layers=LAYERS) -> int | None:
    """Index of ``module``'s layer in ``layers`` (0 = bottom), or ``None`` when no entry names it."""
    best = None
    for index, (_, entries) in enumerate(layers):
        for entry in entries:
            if covers(entry, module) and (best is None or len(entry) > len(best[1])):
                best = (index, entry)
    return best[0] if best else None


def package_modules() -> list[str]:
    """Every module of the package, by dotted name (a package by its own name)."""
    modules = []
    for path in sorted(provenance.PACKAGE_DIR.rglob("*.py")):
        parts = list(path.relative_to(provenance.PACKAGE_DIR.parent).with_suffix("").parts)
        modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def import_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports (see the module docstring for what counts)."""
    return {module: set(provenance._direct_imports(module)) - {module} for module in package_modules()}


def circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` as ``[a, b, …, a]`` (graphlib names it), or ``None``."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return list(reversed(error.args[1]))  # graphlib lists it against the arrows
    return None


def upward_arrows(graph: dict[str, set[str]], layers=LAYERS) -> list[str]:
    """Every arrow ``a → b`` of ``graph`` into a higher layer than ``a``'s, or named in :data:`FORBIDDEN`."""
    found = []
    for module, imported in sorted(graph.items()):
        for target in sorted(imported):
            here, there = layer_of(module, layers), layer_of(target, layers)
            if there is not None and here is not None and there > here:
                found.append(f"{module} ({layers[here][0]}) → {target} ({layers[there][0]})")
            elif any(covers(a, module) and covers(b, target) for a, b in FORBIDDEN):
                found.append(f"{module} → {target} (forbidden: the front doors never run a stage)")
    return found


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_graph_holds_the_package_s_imports(graph):
    """Not vacuous: every module is in it, and arrows of each kind are found (module level, inside a
    function, under TYPE_CHECKING)."""
    assert len(graph) > 100 and sum(map(len, graph.values())) > 300
    assert "noisyprune.pruners.placement" in graph["noisyprune.stages.select"]  # module level
    assert "noisyprune.derived_scores" in graph["noisyprune.api"]  # inside select_subset
    assert "noisyprune.training.learners.base" in graph["noisyprune.training.loop"]  # TYPE_CHECKING


def test_every_module_has_a_layer(graph):
    """A new module must be placed in :data:`LAYERS`, or the checks below could not judge it."""
    assert [module for module in graph if layer_of(module) is None] == []


def test_no_import_circle(graph):
    found = circle(graph)
    assert found is None, "import circle: " + " → ".join(found)


def test_no_arrow_runs_back_up_the_layers(graph):
    found = upward_arrows(graph)
    assert found == [], "arrows up the layers:\n" + "\n".join(found)


def test_the_checks_catch_a_circle_and_an_arrow_up():
    """The control: a circle and upward arrows planted in a small graph are found."""
    planted = {
        "noisyprune.pruners.a": {"noisyprune.pruners.b"},
        "noisyprune.pruners.b": {"noisyprune.pruners.c", "noisyprune.stages.select"},
        "noisyprune.pruners.c": {"noisyprune.pruners.a"},
        "noisyprune.api": {"noisyprune.stages.extract", "noisyprune.config"},
        "noisyprune.pruners.neighbours.search": {"noisyprune.pruners.prune4rel"},
    }
    found = circle(planted)
    assert found is not None and found[0] == found[-1] and set(found) == {f"noisyprune.pruners.{m}" for m in "abc"}
    assert upward_arrows(planted) == [
        "noisyprune.api → noisyprune.stages.extract (forbidden: the front doors never run a stage)",
        "noisyprune.pruners.b (selection) → noisyprune.stages.select (stages)",
        "noisyprune.pruners.neighbours.search (pruner tools) → noisyprune.pruners.prune4rel (selection)",
    ]
    assert circle({"noisyprune.a": {"noisyprune.b"}, "noisyprune.b": set()}) is None


def test_layers_resolve_to_the_most_specific_entry():
    assert LAYERS[layer_of("noisyprune")][0] == "foundation"
    assert LAYERS[layer_of("noisyprune.data.preflight")][0] == "workflow glue"
    assert LAYERS[layer_of("noisyprune.data.images")][0] == "inputs"
    assert LAYERS[layer_of("noisyprune.pruners.neighbours.sources")][0] == "pruner tools"
    assert LAYERS[layer_of("noisyprune.pruners.prune4rel")][0] == "selection"
    assert layer_of("noisyprune_plugin.x") is None and layer_of("noisyprunex") is None
