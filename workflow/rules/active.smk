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


def active_run(wildcards):
    return {"dataset": wildcards.dataset, "noise": wildcards.noise, "seed": int(wildcards.seed)}


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


rule active_pool:
    """The labelled pool of one round: the seeded initial pool, or the last pool plus its query (seconds)."""
    input:
        unpack(active_pool_inputs),
    output:
        pool=ACTIVE_POOL,
    params:
        entry=active_entry("pool"),
        run=active_run,
        code=hash_of("noisyprune.stages.active", "noisyprune.active"),
    resources:
        mem_mb=config["resources"]["noise"]["mem_mb"],
        runtime=config["resources"]["noise"]["runtime"],
    log:
        f"{ACTIVE}/pool.log",
    script:
        "../scripts/active_pool.py"


rule active_train:
    """Train the experiment's learner from scratch on one round's pool; test it and predict every
    training sample for the query (GPU)."""
    input:
        labels=LABELS,
        pool=ACTIVE_POOL,
    output:
        metrics=ACTIVE_METRICS,
        history=f"{ACTIVE}/history.parquet",
        predictions=ACTIVE_PREDICTIONS,
    params:
        entry=active_entry("train"),
        run=active_run,
        dataset=dataset_entry,
        learner=active_learner,
        model=active_model,
        code=active_train_code,
    threads: config["threads"]
    resources:
        gpu=GPU_PER_JOB,
        mem_mb=config["resources"]["retrain"]["mem_mb"],
        runtime=config["resources"]["retrain"]["runtime"],
    log:
        f"{ACTIVE}/train.log",
    benchmark:
        f"{ACTIVE}/train.benchmark.tsv"
    script:
        "../scripts/active_train.py"


rule active_query:
    """Pick the next samples to label from the unlabelled ones by the acquisition function (seconds)."""
    input:
        labels=LABELS,
        pool=ACTIVE_POOL,
        predictions=ACTIVE_PREDICTIONS,
    output:
        query=ACTIVE_QUERY,
    params:
        entry=active_entry("query"),
        run=active_run,
        code=hash_of("noisyprune.stages.active", "noisyprune.active"),
    resources:
        mem_mb=config["resources"]["select"]["mem_mb"],
        runtime=config["resources"]["select"]["runtime"],
    log:
        f"{ACTIVE}/query.log",
    script:
        "../scripts/active_query.py"


localrules:
    active_aggregate,


rule active_aggregate:
    """Tidy rows of every round, learning-curve tables and plots per (dataset, noise) (seconds)."""
    input:
        [run["path"] for run in ACTIVE_METRICS_FILES],
    output:
        table=f"{TABLES}/active.parquet",
        csv=f"{TABLES}/active.csv",
        curves=[path for stem in ACTIVE_CURVE_STEMS.values() for path in table_files(stem) if not path.endswith(".html")],
        curves_html=[
            report(f"{stem}.html", caption="../report/active.rst", category="Active learning",
                   labels={"setting": key, "kind": "table"})
            for key, stem in ACTIVE_CURVE_STEMS.items()
        ],
        plots=[
            report(f"{stem}.png", caption="../report/active.rst", category="Active learning",
                   labels={"setting": key, "kind": "plot"})
            for key, stem in ACTIVE_PLOT_STEMS.items()
        ],
        pdfs=[f"{stem}.pdf" for stem in ACTIVE_PLOT_STEMS.values()],
    params:
        metrics_files=ACTIVE_METRICS_FILES,
        experiments=config["sweep"]["active"],
        entries={e: config["active"][e] for e in config["sweep"]["active"]},
        curve_stems=ACTIVE_CURVE_STEMS,
        plot_stems=ACTIVE_PLOT_STEMS,
        code=hash_of("noisyprune.stages.active", "noisyprune.reporting.render", "noisyprune.reporting.plots"),
    log:
        f"{TABLES}/active.log",
    script:
        "../scripts/active_aggregate.py"


rule active_all:
    """Only the active-learning part of the config: `snakemake --cores N active_all`."""
    input:
        ACTIVE_TARGETS,
