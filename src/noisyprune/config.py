"""The workflow configuration: validation with clear messages, named-entry lookup and sweep targets.

Validation runs in three steps before any job is scheduled: the ``plugins`` are imported (they
register their components); ``snakemake.utils.validate`` checks the JSON schema (the static file
``workflow/schemas/config.schema.yaml`` plus one branch per component, generated from its parameter
declarations by :mod:`noisyprune.schema`) and fills its defaults; then the cross-entry checks that a
schema cannot express (a sweep names an undefined entry, …). Every failure raises
:class:`~noisyprune.errors.ConfigError` whose message starts with the dotted key at fault.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from noisyprune.arguments import first_non_finite
from noisyprune.errors import ConfigError
from noisyprune.pruners.registry import PRUNERS, REFERENCE_METHOD
from noisyprune.schema_messages import describe_value_error
from noisyprune.stages.interface import Run

# Sweep list → the section of the config that defines its names.
SWEEP_SECTIONS = {
    "datasets": "datasets",
    "noise": "noise",
    "warmups": "warmups",
    "methods": "methods",
    "learners": "learners",
}
TRAINING_SECTIONS = ("warmups", "learners")


def _dotted(path) -> str:
    return ".".join(str(part) for part in path)


def describe_schema_error(error) -> str:
    """Turn a ``jsonschema.ValidationError`` into a message that starts with the dotted config key."""
    location = _dotted(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        keys = ", ".join(repr(_dotted([*error.absolute_path, key])) for key in unknown)
        return f"unknown config key {keys}; allowed here: {', '.join(allowed)}"
    if "propertyNames" in error.absolute_schema_path:
        return (
            f"config key {location!r}: invalid entry name {error.instance!r}; names start with a "
            f"letter and use letters, digits, '_' or '-', and {REFERENCE_METHOD!r} is reserved"
        )
    return describe_value_error(error, f"config key {location or '<top level>'!r}")


def _schema_error_of(exc: BaseException):
    import jsonschema

    for candidate in (*getattr(exc, "args", ()), exc.__cause__, exc.__context__):
        if isinstance(candidate, jsonschema.ValidationError):
            return candidate
    return None


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Validate ``config`` in place (defaults filled in) and return it; raise :class:`ConfigError`.

    Imports the config's ``plugins`` first, so that the components they register are validated
    (and known to the rest of the process) like the built-in ones.
    """
    from snakemake.utils import validate

    from noisyprune.registry import load_plugins
    from noisyprune.schema import schema_file

    check_finite(config)
    load_plugins(config.get("plugins", []))
    check_precomputed_keys(config)
    try:
        validate(config, str(schema_file()))
    except Exception as exc:  # snakemake wraps the schema error in a WorkflowError
        schema_error = _schema_error_of(exc)
        if schema_error is None:
            raise
        raise ConfigError(describe_schema_error(schema_error)) from None
    check_references(config)
    expand_tau_sweep(config)
    return config


def tau_sweep_name(method: str, tau: float | str) -> str:
    """The name of ``method`` run at ``tau`` by ``sweep.tau_sweep``: ``prune4rel_tau0p95``, ``prune4rel_tauauto``."""
    return f"{method}_tau{str(tau).replace('.', 'p')}"


def expand_tau_sweep(config: dict[str, Any]) -> None:
    """``sweep.tau_sweep``: add, after each method of ``sweep.methods`` whose pruner declares
    ``sweeps_tau`` (Prune4ReL), one method per τ
    (the entry with only ``tau`` changed) to ``methods`` and ``sweep.methods``, in place. A name the
    user already defined is refused rather than overwritten."""
    taus = config["sweep"].get("tau_sweep") or []
    if not taus:
        return
    expanded = []
    methods = config["sweep"]["methods"]
    derived = {tau_sweep_name(name, tau) for name in methods for tau in taus}  # from an earlier expansion
    for name in methods:
        expanded.append(name)
        entry = config["methods"][name]
        if not PRUNERS.get(entry["pruner"]).sweeps_tau or name in derived:
            continue
        for tau in taus:
            variant = tau_sweep_name(name, tau)
            if variant in config["methods"] and config["methods"][variant] != {**entry, "tau": tau}:
                raise ConfigError(
                    f"config key 'methods.{variant}': the name is taken; sweep.tau_sweep would define it "
                    f"as {name!r} at tau {tau}"
                )
            config["methods"][variant] = {**entry, "tau": tau}
            expanded.append(variant)
    config["sweep"]["methods"] = list(dict.fromkeys(expanded))  # a variant the user also listed: once


def check_finite(value: Any, path: tuple = ()) -> None:
    """Refuse NaN and ±inf anywhere in the config, naming the dotted key. JSON-schema bounds are
    comparisons, which NaN passes: a τ of NaN would otherwise stand for the results of the valid τ it
    replaced, and a NaN rate would fail mid-run after Snakemake removed the outputs it replaces."""
    found = first_non_finite(value, path)
    if found is not None:
        raise ConfigError(f"config key {_dotted(list(found[0]))!r}: {found[1]} is not a finite number")


def check_references(config: Mapping[str, Any]) -> None:
    """Cross-entry checks: sweep names exist, model references exist, settings are consistent."""
    sweep = config["sweep"]
    for key, section in SWEEP_SECTIONS.items():
        for index, name in enumerate(sweep[key]):
            if name not in config[section]:
                if key == "methods" and name == REFERENCE_METHOD:
                    raise ConfigError(
                        f"config key 'sweep.methods.{index}': {REFERENCE_METHOD!r} is the built-in "
                        "no-pruning reference; add 1.0 to sweep.fractions instead"
                    )
                raise ConfigError(
                    f"config key 'sweep.{key}.{index}': {name!r} is not defined in '{section}' "
                    f"(defined: {', '.join(sorted(config[section])) or 'none'})"
                )
    baseline = config["report"]["baseline"]
    if baseline not in config["methods"]:
        raise ConfigError(
            f"config key 'report.baseline': {baseline!r} is not defined in 'methods' "
            f"(defined: {', '.join(sorted(config['methods'])) or 'none'})"
        )
    for name, entry in config["datasets"].items():
        if entry["model"] not in config["models"]:
            raise ConfigError(f"config key 'datasets.{name}.model': {entry['model']!r} is not defined in 'models'")
    for section in TRAINING_SECTIONS:
        for name, entry in config[section].items():
            if is_precomputed(entry):
                continue  # trains nothing (check_precomputed_warmups)
            if entry.get("model") is not None and entry["model"] not in config["models"]:
                raise ConfigError(f"config key '{section}.{name}.model': {entry['model']!r} is not defined in 'models'")
            if section == "warmups" and entry.get("init", "scratch") != "scratch":
                raise ConfigError(
                    f"config key 'warmups.{name}.init': a warm-up starts from scratch; only learners can "
                    "start from the warm-up checkpoint"
                )
            if section == "learners" and entry.get("score_epochs"):
                raise ConfigError(
                    f"config key 'learners.{name}.score_epochs': only warm-ups score snapshots for pruners"
                )
            if section == "warmups" and any(e > entry["epochs"] for e in entry.get("score_epochs", [])):
                raise ConfigError(
                    f"config key 'warmups.{name}.score_epochs': {entry['score_epochs']} reaches past "
                    f"the {entry['epochs']} warm-up epochs"
                )
            if entry.get("nesterov") and entry.get("momentum", 0) == 0:
                raise ConfigError(f"config key '{section}.{name}.nesterov': Nesterov momentum needs momentum > 0")
            if entry.get("schedule_epochs") is not None:
                if entry.get("schedule", "cosine") != "cosine":
                    raise ConfigError(
                        f"config key '{section}.{name}.schedule_epochs': the length of the cosine schedule; "
                        f"schedule is {entry['schedule']!r}"
                    )
                if entry["schedule_epochs"] < entry["epochs"]:
                    raise ConfigError(
                        f"config key '{section}.{name}.schedule_epochs': {entry['schedule_epochs']} is below "
                        f"epochs ({entry['epochs']}); the cosine would rise again after schedule_epochs"
                    )
    for name, entry in config["noise"].items():
        fixed = entry["kind"] == "symmetric" and entry.get("fixed_seed") is not None
        if fixed and entry.get("realisation", "exact") != "per_sample":
            raise ConfigError(
                f"config key 'noise.{name}.fixed_seed': the originals' fixed generator draws per sample; "
                f"set realisation: per_sample (it is {entry.get('realisation', 'exact')!r})"
            )
    check_noise_fits_datasets(config)
    check_precomputed_warmups(config)
    check_active(config)
    check_probe_learners(config)


def check_precomputed_keys(config: Mapping[str, Any]) -> None:
    """A precomputed warm-up takes ``source`` and ``path`` only. Snakemake merges the user's config
    file over ``config/config.yaml`` key by key, so a precomputed warm-up named like a default one
    (``ce``) would inherit its training keys: say so rather than list keys the user never wrote."""
    for name, entry in (config.get("warmups") or {}).items():
        if isinstance(entry, Mapping) and is_precomputed(entry):
            extra = sorted(set(entry) - {"source", "path"})
            if extra:
                raise ConfigError(
                    f"config key 'warmups.{name}': a precomputed warm-up takes only source and path, not "
                    f"{', '.join(extra)}. Keys you did not write come from the default config's warm-up of the "
                    f"same name (config/config.yaml), merged under yours: give the precomputed warm-up another name"
                )


def is_precomputed(warmup: Mapping[str, Any]) -> bool:
    """Whether a ``warmups`` entry reads the user's representation file instead of training."""
    return warmup.get("source") == "precomputed"


def check_precomputed_warmups(config: Mapping[str, Any]) -> None:
    """A precomputed warm-up has features and class scores but no training record and no network:
    swept methods that read the per-epoch record (dynamics, snapshots) and learners that start from
    the warm-up checkpoint cannot run on it."""
    from noisyprune.pruners.registry import build_pruner

    sweep = config["sweep"]
    precomputed = [name for name in sweep["warmups"] if is_precomputed(config["warmups"][name])]
    if not precomputed:
        return
    for method in sweep["methods"]:
        reads = sorted({"dynamics", "snapshots"} & set(build_pruner(method_entry(config, method)).requires))
        if reads:
            raise ConfigError(
                f"config key 'methods.{method}': its pruner reads the warm-up's training record "
                f"({', '.join(reads)}), which precomputed warm-up {precomputed[0]!r} does not have; sweep it "
                "with a trained warm-up, or drop it"
            )
    for learner in sweep["learners"]:
        if config["learners"][learner].get("init") == "warmup":
            raise ConfigError(
                f"config key 'learners.{learner}.init': starts from the warm-up checkpoint, which precomputed "
                f"warm-up {precomputed[0]!r} does not have; use init: scratch"
            )


def check_active(config: Mapping[str, Any]) -> None:
    """Active-learning experiments: swept names exist, learners exist, pools fit, clean-label
    queries need clean labels."""
    for index, name in enumerate(config["sweep"].get("active", [])):
        if name not in config.get("active", {}):
            raise ConfigError(
                f"config key 'sweep.active.{index}': {name!r} is not defined in 'active' "
                f"(defined: {', '.join(sorted(config.get('active', {}))) or 'none'})"
            )
    for name, entry in config.get("active", {}).items():
        if entry["learner"] not in config["learners"]:
            raise ConfigError(f"config key 'active.{name}.learner': {entry['learner']!r} is not defined in 'learners'")
        if entry["labels"] == "clean":
            for dataset in config["sweep"]["datasets"]:
                if not config["datasets"][dataset].get("clean_labels", True):
                    raise ConfigError(
                        f"config key 'active.{name}.labels': dataset {dataset!r} has no clean training labels to query"
                    )


def check_probe_learners(config: Mapping[str, Any]) -> None:
    """Learners that train on a clean probe set (L2R, IEG, RDIA: ``needs_probe``) get one only in
    retrain jobs, from a noise entry that holds it out (``probe_per_class``). Anything else would
    fail in its training job, after Snakemake had removed the outputs it replaces."""
    from noisyprune.training.learners.registry import LEARNERS

    sweep = config["sweep"]

    def needs_probe(entry: Mapping[str, Any]) -> bool:
        return not is_precomputed(entry) and bool(getattr(LEARNERS.get(entry["learner"]), "needs_probe", False))

    for name in sweep["warmups"]:
        if needs_probe(config["warmups"][name]):
            raise ConfigError(
                f"config key 'warmups.{name}.learner': {config['warmups'][name]['learner']!r} trains on a clean probe "
                "set, which only retrains get; warm up with a learner that needs none (ce)"
            )
    for name in sweep.get("active", []):
        learner = config["active"][name]["learner"]
        if needs_probe(config["learners"][learner]):
            raise ConfigError(
                f"config key 'active.{name}.learner': {learner!r} trains on a clean probe set, which active "
                "learning does not hold out; use a learner that needs none"
            )
    for name in sweep["learners"]:
        if not needs_probe(config["learners"][name]):
            continue
        for noise in sweep["noise"]:
            if not config["noise"][noise].get("probe_per_class", 0):
                raise ConfigError(
                    f"config key 'noise.{noise}.probe_per_class': learner {name!r} trains on a clean probe set, "
                    f"which noise {noise!r} does not hold out; set probe_per_class (e.g. 10) or sweep {name!r} "
                    "with noises that do"
                )


def loaders_with_label_sets() -> list[str]:
    """The registered loaders whose datasets carry human label sets (they declare them)."""
    from noisyprune.data.capabilities import capabilities_of
    from noisyprune.data.registry import DATASETS

    return [name for name in DATASETS.registered() if capabilities_of(DATASETS.get(name)).label_sets]


def check_noise_fits_datasets(config: Mapping[str, Any]) -> None:
    """Every swept (dataset, noise) pair must make sense: a human label set must be one its loader
    declares (CIFAR-N's, ``given`` for an arrays file, whose noisy_y the preflight checks before any
    job); ``superclass_next`` pairs need a loader that declares class groups (CIFAR-100's)."""
    from noisyprune.data.capabilities import capabilities_of
    from noisyprune.data.registry import DATASETS

    sweep = config["sweep"]
    for dataset in sweep["datasets"]:
        loader = config["datasets"][dataset]["loader"]
        can = capabilities_of(DATASETS.get(loader))
        for noise in sweep["noise"]:
            entry = config["noise"][noise]
            if not config["datasets"][dataset].get("clean_labels", True) and entry["kind"] != "none":
                raise ConfigError(
                    f"config key 'noise.{noise}.kind': dataset {dataset!r} has no clean training labels "
                    f"(clean_labels: false: its noise is intrinsic), so only kind 'none' applies, not {entry['kind']!r}"
                )
            if not config["datasets"][dataset].get("clean_labels", True) and entry.get("probe_per_class", 0):
                raise ConfigError(
                    f"config key 'noise.{noise}.probe_per_class': dataset {dataset!r} has no clean training labels "
                    "(clean_labels: false) to hold out as a clean probe set"
                )
            if entry["kind"] == "human" and entry["labels"] not in can.label_sets:
                holders = " or ".join(loaders_with_label_sets())
                raise ConfigError(
                    f"config key 'noise.{noise}.labels': human label set {entry['labels']!r} does not exist "
                    f"for dataset {dataset!r} (loader {loader}; "
                    f"sets: {', '.join(can.label_sets) or f'none, use loader {holders}'})"
                )
            if entry["kind"] == "asymmetric" and entry.get("pairs") == "superclass_next" and not can.class_groups:
                raise ConfigError(
                    f"config key 'noise.{noise}.pairs': superclass_next needs CIFAR-100's superclasses, "
                    f"dataset {dataset!r} has loader {loader}"
                )


def fraction_label(fraction: float) -> str:
    """The canonical text of a fraction in paths and tables: ``0.2``, ``1.0`` (shortest round-trip)."""
    return repr(float(fraction))


def method_entry(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The method entry called ``name``; ``full`` is the built-in no-pruning reference."""
    if name == REFERENCE_METHOD:
        return {"pruner": REFERENCE_METHOD}
    return dict(config["methods"][name])


def model_entry(config: Mapping[str, Any], dataset: str, training: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The model entry a training entry (from ``warmups``/``learners``) uses on ``dataset``: its
    own ``model`` if set, else the dataset's default model; the name is returned under ``name``."""
    name = (training or {}).get("model") or config["datasets"][dataset]["model"]
    return {"name": name, **config["models"][name]}


def training_entries(config: Mapping[str, Any], dataset: str, section: str, name: str) -> dict[str, Any]:
    """The ``training`` param of a rule that trains entry ``name`` of ``section`` (``warmups`` or
    ``learners``) on ``dataset``: the fields of :class:`~noisyprune.stages.interface.TrainingEntries`
    as plain data (Snakemake compares them to rerun the job when one changes)."""
    trainer = config[section][name]
    return {
        "key": f"{section}.{name}",
        "trainer": trainer,
        "model": model_entry(config, dataset, trainer),
        "dataset": config["datasets"][dataset],
    }


def sweep_runs(config: Mapping[str, Any]) -> list[Run]:
    """Every run the sweep asks for. Fraction 1.0 keeps all samples whatever the pruner, so it is
    run once per (dataset, noise, seed, warm-up, learner) with the ``full`` reference method."""
    sweep = config["sweep"]
    runs = []
    for dataset, noise, seed, warmup, learner, fraction in itertools.product(
        sweep["datasets"],
        sweep["noise"],
        sweep["seeds"],
        sweep["warmups"],
        sweep["learners"],
        sweep["fractions"],
    ):
        methods = [REFERENCE_METHOD] if float(fraction) == 1.0 else sweep["methods"]
        runs.extend(
            Run(dataset, noise, int(seed), warmup, method, fraction_label(fraction), learner) for method in methods
        )
    return sorted(runs)


def sweep_settings(config: Mapping[str, Any]) -> list[dict[str, str]]:
    """The (dataset, noise, warmup, learner) combinations of the sweep: one pivot table each."""
    sweep = config["sweep"]
    return [
        {"dataset": d, "noise": n, "warmup": w, "learner": learner}
        for d, n, w, learner in itertools.product(
            sweep["datasets"], sweep["noise"], sweep["warmups"], sweep["learners"]
        )
    ]
