# Shared by every rule: config validation, path templates, wildcard constraints, input/params
# functions and the target list. All logic lives in the noisyprune package.

import functools
import os
import re

from noisyprune.config import (
    fraction_label,
    is_precomputed,
    method_entry,
    model_entry,
    sweep_runs,
    sweep_settings,
    training_entries,
    validate_config,
)
from noisyprune.data.registry import DATASETS
from noisyprune.data.representation import file_sha256
from noisyprune.detection import score_modules
from noisyprune.models.registry import MODELS
from noisyprune.noise.registry import NOISE_MODELS
from noisyprune.provenance import code_hash
from noisyprune.pruners.registry import PRUNERS, REFERENCE_METHOD, build_pruner
from noisyprune.stages.interface import result_settings
from noisyprune.training.learners.registry import LEARNERS, reads_warmup_features

# Fails before any job is scheduled, naming the offending config key.
validate_config(config)

# Output layout (docs/architecture.md#output-layout): one directory per run prefix, named by wildcards only.
RUN = "results/{dataset}/{noise}/seed{seed}"
WARMUP = f"{RUN}/warmup/{{warmup}}"
SELECT = f"{RUN}/select/{{warmup}}/{{method}}/f{{fraction}}"
TRAIN = f"{RUN}/train/{{warmup}}/{{method}}/f{{fraction}}/{{learner}}"
TABLES = "results/tables"

LABELS = f"{RUN}/labels.parquet"
WARMUP_MODEL = f"{WARMUP}/model.pt"
WARMUP_DYNAMICS = f"{WARMUP}/dynamics.parquet"
WARMUP_HISTORY = f"{WARMUP}/history.parquet"
WARMUP_SNAPSHOTS = f"{WARMUP}/snapshots.parquet"
FEATURES = f"{WARMUP}/features.parquet"
DETECTION = f"{WARMUP}/detection.json"
SUBSET = f"{SELECT}/subset.parquet"
SELECT_TIMING = f"{SELECT}/timing.json"
METRICS = f"{TRAIN}/metrics.json"
HISTORY = f"{TRAIN}/history.parquet"
RELABELS = f"{TRAIN}/relabels.parquet"
PLOTS = "results/plots"

# Training jobs ask for a GPU unless the config pins them to the CPU; the default profile caps the
# machine at one GPU job at a time, while CPU-only jobs run side by side up to --cores.
GPU_PER_JOB = 0 if config["device"] == "cpu" else 1


def slurm_partition(gpus):
    """The Slurm partition (profiles/slurm) of a job asking for ``gpus`` GPUs: the GPU partition's
    variable only when it asks for one, so that `device: cpu` sends training jobs to the CPU
    partition. An unset variable stays literal and sbatch refuses it, naming it."""
    variable = "NOISYPRUNE_SLURM_GPU_PARTITION" if gpus else "NOISYPRUNE_SLURM_PARTITION"
    return os.path.expandvars(f"${variable}")


def alternatives(names):
    """A regex matching exactly one of ``names`` (used to constrain wildcards); none: nothing."""
    if not names:
        return "(?!)"
    return "|".join(re.escape(str(name)) for name in sorted(names, key=str))


# Warm-ups that train a network (rules warmup, extract) and warm-ups read from the user's
# representation file (precomputed_warmup); both kinds write the same features.parquet.
PRECOMPUTED_WARMUPS = [name for name, entry in config["warmups"].items() if is_precomputed(entry)]
TRAINED_WARMUPS = [name for name in config["warmups"] if name not in PRECOMPUTED_WARMUPS]


wildcard_constraints:
    dataset=alternatives(config["datasets"]),
    noise=alternatives(config["noise"]),
    warmup=alternatives(config["warmups"]),
    method=alternatives([*config["methods"], REFERENCE_METHOD]),
    learner=alternatives(config["learners"]),
    fraction=alternatives({fraction_label(f) for f in config["sweep"]["fractions"]}),
    seed=r"\d+",


# --- named entries, for params: (a changed entry reruns exactly the jobs that use it) -------------


# The settings that change a training or inference job's numbers (precision, channels_last,
# compile, inference_batch_size): the `execution` param of warmup, extract, retrain, active_train.
RESULT_SETTINGS = result_settings(config)


def dataset_entry(wildcards):
    return config["datasets"][wildcards.dataset]


def noise_entry(wildcards):
    return config["noise"][wildcards.noise]


def warmup_entry(wildcards):
    return config["warmups"][wildcards.warmup]


def learner_entry(wildcards):
    return config["learners"][wildcards.learner]


def selection_entry(wildcards):
    return method_entry(config, wildcards.method)


def precomputed_code(wildcards):
    return hash_of("noisyprune.stages.precomputed")


@functools.lru_cache(maxsize=None)
def checksum_of(path, size, mtime_ns):
    return file_sha256(path)


def precomputed_checksum(wildcards):
    """The representation file's SHA-256, a param: new contents rerun the warm-up's dependants even
    when the file's modification time is older than the outputs (a copy that kept its mtime)."""
    path = warmup_entry(wildcards)["path"]
    if not os.path.isfile(path):
        return "missing"  # the rule's input names the file; Snakemake reports it
    stat = os.stat(path)
    return checksum_of(path, stat.st_size, stat.st_mtime_ns)


def warmup_model(wildcards):
    return model_entry(config, wildcards.dataset, warmup_entry(wildcards))


def learner_model(wildcards):
    return model_entry(config, wildcards.dataset, learner_entry(wildcards))


def warmup_training(wildcards):
    return training_entries(config, wildcards.dataset, "warmups", wildcards.warmup)


def learner_training(wildcards):
    return training_entries(config, wildcards.dataset, "learners", wildcards.learner)


# --- code hashes: the package modules each job can execute (see noisyprune.provenance) -----------


@functools.lru_cache(maxsize=None)
def hash_of(*modules):
    return code_hash(modules)


def noise_code(wildcards):
    return hash_of(
        "noisyprune.stages.noise",
        DATASETS.module_name(dataset_entry(wildcards)["loader"]),
        NOISE_MODELS.module_name(noise_entry(wildcards)["kind"]),
    )


def warmup_code(wildcards):
    return hash_of(
        "noisyprune.stages.warmup",
        DATASETS.module_name(dataset_entry(wildcards)["loader"]),
        MODELS.module_name(warmup_model(wildcards)["arch"]),
        LEARNERS.module_name(warmup_entry(wildcards)["learner"]),
    )


def extract_code(wildcards):
    return hash_of(
        "noisyprune.stages.extract",
        DATASETS.module_name(dataset_entry(wildcards)["loader"]),
        MODELS.module_name(warmup_model(wildcards)["arch"]),
    )


def select_code(wildcards):
    return hash_of("noisyprune.stages.select", PRUNERS.module_name(selection_entry(wildcards)["pruner"]))


def retrain_code(wildcards):
    return hash_of(
        "noisyprune.stages.retrain",
        DATASETS.module_name(dataset_entry(wildcards)["loader"]),
        MODELS.module_name(learner_model(wildcards)["arch"]),
        LEARNERS.module_name(learner_entry(wildcards)["learner"]),
    )


def export_code(wildcards):
    return hash_of("noisyprune.stages.export", DATASETS.module_name(dataset_entry(wildcards)["loader"]))


@functools.lru_cache(maxsize=None)
def method_pruner(method):
    """The pruner of the ``methods`` entry ``method``, built (and its arguments checked) once for all
    the selection jobs of that method that the DAG asks about."""
    return build_pruner(method_entry(config, method))


def select_gpu(wildcards):
    """Selections ask for a GPU only when their pruner says it computes on one (``needs_gpu``:
    prune4rel's torch engine)."""
    return GPU_PER_JOB if method_pruner(wildcards.method).needs_gpu else 0


def select_partition(wildcards):
    return slurm_partition(select_gpu(wildcards))


# --- inputs -------------------------------------------------------------------------------------


def select_inputs(wildcards):
    """Labels always; the warm-up's features/dynamics/snapshots only if the pruner reads them, so e.g.
    uniform selections do not rerun when the warm-up changes."""
    requires = method_pruner(wildcards.method).requires
    inputs = {"labels": LABELS.format(**wildcards)}
    if "features" in requires:
        inputs["features"] = FEATURES.format(**wildcards)
    if "dynamics" in requires:
        inputs["dynamics"] = WARMUP_DYNAMICS.format(**wildcards)
    if "snapshots" in requires:
        inputs["snapshots"] = WARMUP_SNAPSHOTS.format(**wildcards)
    return inputs


def detect_inputs(wildcards):
    """Labels and features; the warm-up's training dynamics (forgetting scores) when it trained."""
    inputs = {"labels": LABELS.format(**wildcards), "features": FEATURES.format(**wildcards)}
    if wildcards.warmup in TRAINED_WARMUPS:
        inputs["dynamics"] = WARMUP_DYNAMICS.format(**wildcards)
    return inputs


def retrain_inputs(wildcards):
    """Labels and subset; the warm-up checkpoint too when the learner starts from it."""
    inputs = {"labels": LABELS.format(**wildcards), "subset": SUBSET.format(**wildcards)}
    if learner_entry(wildcards).get("init") == "warmup":
        inputs["checkpoint"] = WARMUP_MODEL.format(**wildcards)
    if reads_warmup_features(learner_entry(wildcards)["learner"]):
        inputs["features"] = FEATURES.format(**wildcards)  # RDIA's head reads the warm-up embeddings
    return inputs


RUNS = sweep_runs(config)
SETTINGS = sweep_settings(config)


def run_files(run):
    """The files the aggregation reads for one run."""
    wildcards = run.wildcards()
    return {
        "metrics": METRICS.format(**wildcards),
        "subset": SUBSET.format(**wildcards),
        "timing": SELECT_TIMING.format(**wildcards),
        "warmup_history": WARMUP_HISTORY.format(**wildcards),
        "features": FEATURES.format(**wildcards),
        "history": HISTORY.format(**wildcards),
    }


RUN_FILES = [run_files(run) for run in RUNS]
# One noise-detection result per warm-up of the sweep (dataset, noise, seed, warmup).
WARMUP_RUNS = sorted({(r.dataset, r.noise, r.seed, r.warmup) for r in RUNS})
DETECTION_FILES = [
    {"dataset": d, "noise": n, "seed": s, "warmup": w, "path": DETECTION.format(dataset=d, noise=n, seed=s, warmup=w)}
    for d, n, s, w in WARMUP_RUNS
]
# Every table is written as .csv/.md/.tex/.html; the stems are the paths without extension.
TABLE_FORMATS = ("csv", "md", "tex", "html")
PIVOT_STEMS = [f"{TABLES}/pivot/{s['dataset']}__{s['noise']}__{s['warmup']}__{s['learner']}" for s in SETTINGS]
SUMMARY_STEMS = {name: f"{TABLES}/{name}" for name in ("verdict", "ranking", "composition", "detection")}
# The verdict in sentences, then workflow/report/workflow.rst: the report's front page once the
# tables exist (the Snakefile's `report:` reads it; before the first aggregation, the static text).
FRONT_PAGE = f"{TABLES}/report_front_page.rst"
REPORT_INTRO = os.path.join(workflow.basedir, "workflow", "report", "workflow.rst")
FRONT_PAGE_OR_INTRO = os.path.abspath(FRONT_PAGE) if os.path.isfile(FRONT_PAGE) else REPORT_INTRO
PLOT_GROUPS = list(dict.fromkeys((s["dataset"], s["warmup"]) for s in SETTINGS))


def table_files(stem):
    return [f"{stem}.{ext}" for ext in TABLE_FORMATS]


def plot_files(stem):
    return [f"{stem}.png", f"{stem}.pdf"]


TABLE_TARGETS = [
    f"{TABLES}/runs.parquet",
    f"{TABLES}/runs.csv",
    FRONT_PAGE,
    *[path for stem in [*SUMMARY_STEMS.values(), *PIVOT_STEMS] for path in table_files(stem)],
]
