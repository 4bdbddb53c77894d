"""Docs, install files and schema stay in step with the code."""

import re
import tomllib

from conftest import REPO, SCHEMA, load_yaml

from noisyprune.data.registry import DATASETS
from noisyprune.models.registry import MODELS
from noisyprune.noise.registry import NOISE_MODELS
from noisyprune.pruners.registry import PRUNERS, REFERENCE_METHOD
from noisyprune.schema import assemble_schema
from noisyprune.training.learners.registry import LEARNERS


def readme_commands():
    """Every line of the README's ```bash blocks: the two commands and the own-data examples."""
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), flags=re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_ci_runs_exactly_the_readme_test_command():
    test_commands = [c for c in readme_commands() if "pytest" in c]
    assert len(test_commands) == 1
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert test_commands[0] in ci_lines


def readme_run_commands():
    """The README's commands that set up an environment and run the workflow (the run command)."""
    return [c for c in readme_commands() if "pip install" in c and "snakemake --cores" in c]


def test_readme_run_command_sets_up_and_runs_the_default():
    run_commands = readme_run_commands()
    assert len(run_commands) == 1 and "pip install -e . " in run_commands[0]
    assert "[test]" not in run_commands[0]  # the run command must work without the test extras
    assert run_commands[0].endswith("snakemake --report results/report.html")


def test_ci_runs_exactly_the_readme_run_command_before_the_tests():
    (run_command,) = readme_run_commands()
    test_command = next(c for c in readme_commands() if "pytest" in c)
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert run_command in ci_lines
    # run first: the suite opens the report it wrote (NOISYPRUNE_DEFAULT_REPORT)
    assert ci_lines.index(run_command) < ci_lines.index(test_command)


def _requirement_name(requirement):
    return re.split(r"[<>=!~\[ ]", requirement, maxsplit=1)[0].lower()


def _normalised_spec(requirement):
    spec = requirement[len(_requirement_name(requirement)) :].replace(" ", "")
    return re.sub(r"^=(?!=)", "==", spec)  # conda's "=2.14.*" is pip's "==2.14.*"


def test_the_rules_conda_environment_matches_the_runtime_dependencies():
    """workflow/envs/noisyprune.yaml: pyproject's dependencies minus what runs the jobs (Snakemake,
    its executor plugin) and what only the report needs (pygments, on the submit host)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    outside_jobs = {"snakemake", "snakemake-executor-plugin-slurm", "pygments"}
    pip = {_requirement_name(r): _normalised_spec(r) for r in project["dependencies"]}
    pip = {name: spec for name, spec in pip.items() if name not in outside_jobs}
    conda = {}
    for item in load_yaml(REPO / "workflow" / "envs" / "noisyprune.yaml")["dependencies"]:
        if _requirement_name(item) != "python":
            conda[{"pytorch": "torch"}.get(_requirement_name(item), _requirement_name(item))] = _normalised_spec(item)
    assert conda == pip


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pip_requirements = project["dependencies"] + project["optional-dependencies"]["test"]
    conda_names = {"pytorch": "torch"}
    conda = {}
    for item in load_yaml(REPO / "environment.yml")["dependencies"]:
        if isinstance(item, str) and _requirement_name(item) not in ("python", "pip"):
            conda[conda_names.get(_requirement_name(item), _requirement_name(item))] = _normalised_spec(item)
    pip = {_requirement_name(r): _normalised_spec(r) for r in pip_requirements}
    assert conda == pip


def _schema_properties(node, found):
    if isinstance(node, dict):
        found.update(node.get("properties", {}))
        for value in node.values():
            _schema_properties(value, found)
    elif isinstance(node, list):
        for value in node:
            _schema_properties(value, found)
    return found


def test_config_readme_documents_every_key():
    documented = (REPO / "config" / "README.md").read_text()
    missing = [
        key
        for key in sorted(_schema_properties(assemble_schema(load_yaml(SCHEMA)), set()))
        if f"`{key}`" not in documented
    ]
    assert not missing


def test_schema_names_are_the_registries():
    """The names a config may use are generated from the registries (noisyprune.schema)."""
    defs = assemble_schema(load_yaml(SCHEMA))["$defs"]
    assert sorted(defs["dataset"]["properties"]["loader"]["enum"]) == DATASETS.names()
    assert sorted(defs["model"]["properties"]["arch"]["enum"]) == MODELS.names()
    assert sorted(defs["noise_spec"]["properties"]["kind"]["enum"]) == NOISE_MODELS.names()
    assert sorted(defs["training"]["properties"]["learner"]["enum"]) == LEARNERS.names()
    user_pruners = [name for name in PRUNERS.names() if name != REFERENCE_METHOD]
    assert sorted(defs["method"]["properties"]["pruner"]["enum"]) == user_pruners
