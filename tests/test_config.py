"""Config validation: schema defaults, and bad values rejected with the key named, before any job."""

import copy
import re

import numpy as np
import pytest
import torch
from conftest import REPO, load_yaml

from noisyprune.config import fraction_label, sweep_runs, validate_config
from noisyprune.errors import ConfigError
from noisyprune.training.learners import build_learner
from noisyprune.training.spec import TrainingSpec


def test_tiny_config_validates_and_gets_defaults(tiny_config):
    config = validate_config(tiny_config)
    assert config["methods"]["uniform"]["balance"] == "none"
    assert config["learners"]["ce"]["momentum"] == 0.9
    assert config["learners"]["ce"]["model"] is None
    assert config["datasets"]["digits"]["test_fraction"] == 0.3
    assert config["noise"]["sym40"]["convention"] == "other_class"
    assert config["inference_batch_size"] == 1024


@pytest.mark.parametrize(
    "mutate, key, detail",
    [
        (lambda c: c["methods"]["uniform"].update(pruner="magic"), "methods.uniform.pruner", "'magic' is not one of"),
        (lambda c: c["sweep"]["fractions"].insert(0, 0), "sweep.fractions.0", "minimum of 0"),
        (lambda c: c["sweep"]["fractions"].append(1.5), "sweep.fractions.2", "maximum of 1"),
        (lambda c: c["learners"]["ce"].update(epochs=-3), "learners.ce.epochs", "minimum of 1"),
        (lambda c: c["warmups"]["ce"].update(epochs=0), "warmups.ce.epochs", "minimum of 1"),
        (lambda c: c["noise"]["sym40"].update(rate=1.2), "noise.sym40.rate", "maximum of 1"),
        (lambda c: c["noise"]["sym40"].update(convention="sometimes"), "noise.sym40.convention", "is not one of"),
        (lambda c: c["learners"]["ce"].update(lr=0), "learners.ce.lr", "less than or equal to the minimum"),
        (lambda c: c.update(device="tpu"), "device", "is not one of"),
        (lambda c: c["sweep"].update(seeds=[0, 0]), "sweep.seeds", "non-unique"),
        (lambda c: c["sweep"].update(methods=[]), "sweep.methods", "should be non-empty"),
        (lambda c: c["noise"].update(bad={"kind": "symmetric"}), "noise.bad", "'rate' is a required property"),
    ],
)
def test_bad_values_name_the_key(tiny_config, mutate, key, detail):
    mutate(tiny_config)
    with pytest.raises(ConfigError) as error:
        validate_config(tiny_config)
    message = str(error.value)
    assert f"config key '{key}'" in message
    assert detail in message


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda c: c.update(epochs=3), "'epochs'"),
        (lambda c: c["learners"]["ce"].update(lrr=0.1), "'learners.ce.lrr'"),
        (lambda c: c["methods"]["small_loss"].update(tau=0.9), "'methods.small_loss.tau'"),
        (lambda c: c["sweep"].update(method=["uniform"]), "'sweep.method'"),
        (lambda c: c["models"]["mlp"].update(channels=[4]), "'models.mlp.channels'"),
    ],
)
def test_unknown_keys_are_named(tiny_config, mutate, key):
    mutate(tiny_config)
    with pytest.raises(ConfigError, match=f"unknown config key {key}"):
        validate_config(tiny_config)


def test_sweep_names_must_be_defined(tiny_config):
    tiny_config["sweep"]["methods"].append("sop_select")
    with pytest.raises(ConfigError, match=r"config key 'sweep.methods.4': 'sop_select' is not defined in 'methods'"):
        validate_config(tiny_config)


def test_the_verdicts_baseline_must_be_a_defined_method(tiny_config):
    tiny_config["report"] = {"baseline": "unifrom"}
    with pytest.raises(ConfigError, match=r"config key 'report.baseline': 'unifrom' is not defined in 'methods'"):
        validate_config(tiny_config)
    tiny_config["report"] = {"confidence": 1.0}
    with pytest.raises(ConfigError, match=r"report.confidence"):
        validate_config(tiny_config)
    tiny_config["report"] = {}
    assert validate_config(tiny_config)["report"] == {
        "metric": "test_acc_last",
        "baseline": "uniform",
        "confidence": 0.95,
    }


def test_full_is_reserved(tiny_config):
    tiny_config["methods"]["full"] = {"pruner": "uniform"}
    with pytest.raises(ConfigError, match=r"config key 'methods': invalid entry name 'full'"):
        validate_config(tiny_config)
    del tiny_config["methods"]["full"]
    tiny_config["sweep"]["methods"].append("full")
    with pytest.raises(ConfigError, match="built-in no-pruning reference"):
        validate_config(tiny_config)


def test_model_references_must_exist(tiny_config):
    tiny_config["learners"]["ce"]["model"] = "vit"
    with pytest.raises(ConfigError, match=r"config key 'learners.ce.model': 'vit' is not defined in 'models'"):
        validate_config(tiny_config)


def test_nesterov_needs_momentum(tiny_config):
    tiny_config["warmups"]["ce"]["momentum"] = 0
    with pytest.raises(ConfigError, match=r"'warmups.ce.nesterov': Nesterov momentum needs momentum > 0"):
        validate_config(tiny_config)


def test_sweep_runs_use_the_reference_method_once_at_fraction_one(tiny_config):
    config = validate_config(tiny_config)
    runs = sweep_runs(config)
    assert [(r.method, r.fraction) for r in runs if r.learner == "ce"] == [
        ("forgetting", "0.5"),
        ("full", "1.0"),
        ("prune4rel", "0.5"),
        ("small_loss", "0.5"),
        ("uniform", "0.5"),
    ]
    assert len(runs) == 10  # the same for the second learner


def test_fraction_labels_are_canonical():
    assert [fraction_label(f) for f in (0.2, 1, 1.0, 0.05)] == ["0.2", "1.0", "1.0", "0.05"]


def test_score_epochs_only_for_warmups_and_within_them(tiny_config):
    tiny_config["learners"]["ce"]["score_epochs"] = [1]
    with pytest.raises(ConfigError, match=r"'learners.ce.score_epochs': only warm-ups"):
        validate_config(tiny_config)
    del tiny_config["learners"]["ce"]["score_epochs"]
    tiny_config["warmups"]["ce"]["score_epochs"] = [1, 9]
    with pytest.raises(ConfigError, match=r"'warmups.ce.score_epochs': \[1, 9\] reaches past the 3 warm-up epochs"):
        validate_config(tiny_config)


@pytest.mark.parametrize("preset", sorted((REPO / "config" / "presets").glob("*.yaml")), ids=lambda p: p.name)
def test_learner_and_noise_presets_merge_into_the_default_and_validate(preset):
    from snakemake.utils import update_config

    config = load_yaml(REPO / "config" / "config.yaml")
    extra = load_yaml(preset)
    assert set(extra) <= {"learners", "noise"} and extra
    update_config(config, extra)  # what `--configfile a.yaml b.yaml` does
    if "learners" in extra:
        config["sweep"]["learners"] = sorted(extra["learners"])
    if "noise" in extra:  # e.g. noise entries with the probe set the meta-learners need
        config["sweep"]["noise"] = sorted(extra["noise"])
    validated = validate_config(config)
    for name in extra.get("noise", {}):  # each entry draws noise on labels of the digits' 10 classes
        from noisyprune.noise import apply_noise

        apply_noise(np.repeat(np.arange(10), 20), 10, validated["noise"][name], np.random.default_rng(0))
    for name in extra.get("learners", {}):
        entry = validated["learners"][name]
        build_learner(entry["learner"], TrainingSpec.learner_params(entry))
        TrainingSpec.from_entry(entry).build_scheduler(
            TrainingSpec.from_entry(entry).build_optimizer([torch.nn.Parameter(torch.zeros(1))])
        )


def test_tau_sweep_adds_one_prune4rel_method_per_tau(tiny_config):
    from noisyprune.config import sweep_runs

    tiny_config["sweep"]["tau_sweep"] = [0.9, 0.975, "auto"]
    validated = validate_config(tiny_config)
    methods = validated["sweep"]["methods"]
    assert methods == ["uniform", "small_loss", "prune4rel", "prune4rel_tau0p9", "prune4rel_tau0p975",
                       "prune4rel_tauauto", "forgetting"]  # fmt: skip
    assert validated["methods"]["prune4rel_tau0p975"] == {**validated["methods"]["prune4rel"], "tau": 0.975}
    assert validated["methods"]["prune4rel_tauauto"]["tau"] == "auto"
    assert {run.method for run in sweep_runs(validated)} >= {"prune4rel_tau0p9", "prune4rel_tauauto"}
    assert validate_config(validated)["sweep"]["methods"] == methods  # validating again adds nothing


def test_tau_sweep_never_overwrites_a_users_method(tiny_config):
    tiny_config["methods"]["prune4rel_tau0p9"] = {"pruner": "uniform"}
    tiny_config["sweep"]["tau_sweep"] = [0.9]
    with pytest.raises(ConfigError, match=r"'methods.prune4rel_tau0p9': the name is taken"):
        validate_config(tiny_config)


@pytest.mark.parametrize(
    "key, value",
    [
        (("methods", "prune4rel", "tau"), float("nan")),
        (("noise", "sym40", "rate"), float("nan")),
        (("learners", "ce", "lr"), float("inf")),
        (("learners", "elr", "lr"), float("-inf")),
        (("sweep", "fractions", 0), float("nan")),
    ],
)
def test_non_finite_numbers_are_refused_naming_the_key(tiny_config, key, value):
    """JSON-schema bounds are comparisons, which NaN passes; validation refuses it by name."""
    node = tiny_config
    for part in key[:-1]:
        node = node[part]
    node[key[-1]] = value
    dotted = ".".join(str(part) for part in key)
    with pytest.raises(ConfigError, match=rf"config key '{re.escape(dotted)}': -?(nan|inf) is not a finite number"):
        validate_config(tiny_config)


def test_schedule_epochs_needs_the_cosine_and_at_least_the_epochs(tiny_config):
    tiny_config["warmups"]["ce"].update(schedule="constant", schedule_epochs=30)
    with pytest.raises(ConfigError, match=r"'warmups.ce.schedule_epochs': the length of the cosine schedule"):
        validate_config(tiny_config)
    tiny_config["warmups"]["ce"].update(schedule="cosine", schedule_epochs=2)
    with pytest.raises(ConfigError, match=r"'warmups.ce.schedule_epochs': 2 is below epochs \(3\)"):
        validate_config(tiny_config)
    tiny_config["warmups"]["ce"]["schedule_epochs"] = 30
    assert validate_config(tiny_config)["learners"]["ce"]["schedule_epochs"] is None


def test_a_fixed_noise_seed_needs_per_sample_draws(tiny_config):
    tiny_config["noise"]["sym40"] = {"kind": "symmetric", "rate": 0.4, "fixed_seed": 0}
    tiny_config["sweep"]["noise"] = ["sym40"]
    with pytest.raises(ConfigError, match=r"'noise.sym40.fixed_seed': .* set realisation: per_sample"):
        validate_config(tiny_config)
    tiny_config["noise"]["sym40"]["realisation"] = "per_sample"
    assert validate_config(tiny_config)["noise"]["sym40"]["fixed_seed"] == 0


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda c: c["methods"]["prune4rel"].update(tau=2.0),
            "config key 'methods.prune4rel.tau': 2.0 is not allowed here; it must be a number in [0, 1) or 'auto'",
        ),
        (
            lambda c: c["methods"]["prune4rel"].update(tau="fast"),
            "config key 'methods.prune4rel.tau': 'fast' is not allowed here; it must be a number in [0, 1) or 'auto'",
        ),
        (
            lambda c: c["methods"].update(g={"pruner": "glister", "validation_size": 0}),
            "config key 'methods.g.validation_size': 0 is not allowed here; it must be an integer ≥ 1 or null",
        ),
    ],
)
def test_a_value_no_alternative_takes_is_refused_with_the_allowed_range(tiny_config, mutate, message):
    """jsonschema says "not valid under any of the given schemas"; the user needs the range."""
    mutate(tiny_config)
    with pytest.raises(ConfigError) as error:
        validate_config(tiny_config)
    assert str(error.value) == message


@pytest.mark.parametrize(
    "key, value, maximum",
    [(("sweep", "seeds"), [0, 2**64], 2**31 - 1), (("datasets", "digits", "split_seed"), 2**32, 2**32 - 1)],
)
def test_seeds_beyond_what_the_pipeline_takes_are_refused_at_validation(tiny_config, key, value, maximum):
    """A base seed reaches int64 table columns and the 31-bit derived seeds; a split seed reaches
    scikit-learn's random_state (< 2³²). Beyond, jobs would fail late (the aggregation's OverflowError)."""
    node = tiny_config
    for part in key[:-1]:
        node = node[part]
    node[key[-1]] = value
    largest = value[-1] if isinstance(value, list) else value
    with pytest.raises(
        ConfigError, match=rf"{re.escape('.'.join(key))}(\.1)?': {largest} is greater than the maximum of {maximum}"
    ):
        validate_config(tiny_config)
    node[key[-1]] = [0, maximum] if isinstance(value, list) else maximum
    validate_config(tiny_config)  # the largest supported value passes


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "learners:\n  ce:\n    lr: 0.05\n    epochs: 3\n    lr: 5.0\n",
            ":5: key 'lr' is written twice in one mapping (first at line 3)",
        ),
        ("a: 1\nb: 2\na: 3\n", ":3: key 'a' is written twice in one mapping (first at line 1)"),
        ('{"a": 1,\n "a": 2}\n', ": key 'a' is written twice in one object"),
        (
            "sweep:\n  seeds: [0, 1\n  fractions: [0.5]\n",
            ":3:12: not valid YAML (while parsing a flow sequence started at line 2",
        ),
        ("a:\n\t- 1\n", ":2:1: not valid YAML"),
    ],
)
def test_config_files_with_a_key_written_twice_or_bad_syntax_name_file_and_line(tmp_path, text, message):
    from noisyprune.config_files import check_config_files

    path = tmp_path / "my.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        check_config_files([path])
    assert str(error.value).startswith(f"{path}{message}"), str(error.value)


def test_yaml_merge_keys_may_override_and_the_projects_config_files_read_strictly(tmp_path):
    from noisyprune.config_files import check_config_files, load_config_file

    merged = tmp_path / "merge.yaml"
    merged.write_text("base: &b {x: 1, y: 2}\nentry:\n  <<: *b\n  x: 3\n")
    assert load_config_file(merged)["entry"] == {"x": 3, "y": 2}
    check_config_files(sorted((REPO / "config").rglob("*.yaml")) + sorted((REPO / "tests" / "configs").glob("*.yaml")))


def test_learners_that_train_on_a_probe_set_need_a_noise_that_holds_one_out(tiny_config):
    """L2R, IEG and RDIA get the clean probe set in retrain jobs only; their training jobs would fail."""
    tiny_config["learners"]["l2r"] = {"learner": "l2r", "epochs": 2}
    tiny_config["sweep"]["learners"].append("l2r")
    with pytest.raises(ConfigError, match=r"config key 'noise.sym40.probe_per_class': learner 'l2r' trains on a clean"):
        validate_config(copy.deepcopy(tiny_config))
    tiny_config["noise"]["sym40"]["probe_per_class"] = 3
    validate_config(copy.deepcopy(tiny_config))
    tiny_config["warmups"]["ce"].update(learner="rdia", score_epochs=[])
    with pytest.raises(ConfigError, match=r"config key 'warmups.ce.learner': 'rdia' trains on a clean probe set"):
        validate_config(tiny_config)
