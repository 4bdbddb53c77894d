# Active learning's path templates, input/params functions and targets (the rules: active.smk).
# Active learning (config `active`, swept by `sweep.active`): per (dataset, noise, seed, experiment)
# a chain of rounds — pool r → train r → query r → pool r+1 … The entry's `rounds` is left out of
# every job's params, so raising it schedules only the new rounds.

ACTIVE = f"{RUN}/active/{{experiment}}/round{{round}}"
ACTIVE_POOL = f"{ACTIVE}/pool.parquet"
ACTIVE_PREDICTIONS = f"{ACTIVE}/predictions.parquet"
ACTIVE_QUERY = f"{ACTIVE}/query.parquet"
ACTIVE_METRICS = f"{ACTIVE}/metrics.json"


wildcard_constraints:
    experiment=alternatives(config["active"]) or "(?!)",
    round=r"\d+",


# The keys of an experiment each job reads: a change reruns only the jobs that read it (and, through
# their outputs, the later rounds). `rounds` is read by none of them.
ACTIVE_KEYS = {
    "pool": ("initial", "initial_balance", "labels"),
    "train": ("learner", "labels"),
    "query": ("acquisition", "query", "tau", "eta", "balance"),
}


def active_entry(job):
    def entry(wildcards):
        full = config["active"][wildcards.experiment]
        return {key: full[key] for key in ACTIVE_KEYS[job] if key in full}

    return entry


def active_learner(wildcards):
    return config["learners"][config["active"][wildcards.experiment]["learner"]]


def active_model(wildcards):
    return model_entry(config, wildcards.dataset, active_learner(wildcards))


def active_training(wildcards):
    learner = config["active"][wildcards.experiment]["learner"]
    return training_entries(config, wildcards.dataset, "learners", learner)


def active_pool_inputs(wildcards):
    """Round 0 starts from the labels; round r also reads round r−1's pool and query."""
    inputs = {"labels": LABELS.format(**wildcards)}
    round_index = int(wildcards.round)
    if round_index > 0:
        previous = {**wildcards, "round": round_index - 1}
        inputs["pool"] = ACTIVE_POOL.format(**previous)
        inputs["query"] = ACTIVE_QUERY.format(**previous)
    return inputs


def active_train_code(wildcards):
    return hash_of(
        "noisyprune.stages.active",
        DATASETS.module_name(dataset_entry(wildcards)["loader"]),
        MODELS.module_name(active_model(wildcards)["arch"]),
        LEARNERS.module_name(active_learner(wildcards)["learner"]),
    )


ACTIVE_RUNS = [
    {"dataset": d, "noise": n, "seed": s, "experiment": e, "round": r}
    for d in config["sweep"]["datasets"]
    for n in config["sweep"]["noise"]
    for s in config["sweep"]["seeds"]
    for e in config["sweep"]["active"]
    for r in range(config["active"][e]["rounds"] + 1)
]
ACTIVE_METRICS_FILES = [{**run, "path": ACTIVE_METRICS.format(**run)} for run in ACTIVE_RUNS]
ACTIVE_GROUPS = list(dict.fromkeys(f"{run['dataset']}__{run['noise']}" for run in ACTIVE_RUNS))
ACTIVE_CURVE_STEMS = {key: f"{TABLES}/active/{key}" for key in ACTIVE_GROUPS}
ACTIVE_PLOT_STEMS = {key: f"{PLOTS}/{key}__active" for key in ACTIVE_GROUPS}
ACTIVE_TARGETS = (
    [f"{TABLES}/active.parquet", f"{TABLES}/active.csv"]
    + [path for stem in ACTIVE_CURVE_STEMS.values() for path in table_files(stem)]
    + [path for stem in ACTIVE_PLOT_STEMS.values() for path in plot_files(stem)]
    if ACTIVE_RUNS
    else []
)
