# Active learning (config `active`, swept by `sweep.active`): per (dataset, noise, seed, experiment)
# a chain of rounds — pool r → train r → query r → pool r+1 … The entry's `rounds` is left out of
# every job's params, so raising it schedules only the new rounds.
# Path templates and functions: common_active.smk.


rule active_pool:
    """The labelled pool of one round: the seeded initial pool, or the last pool plus its query (seconds)."""
    input:
        unpack(active_pool_inputs),
    output:
        pool=ACTIVE_POOL,
    log:
        f"{ACTIVE}/pool.log",
    conda:
        "../envs/noisyprune.yaml"
    resources:
        mem_mb=config["resources"]["noise"]["mem_mb"],
        runtime=config["resources"]["noise"]["runtime"],
    params:
        entry=active_entry("pool"),
        code_hash=hash_of("noisyprune.stages.active", "noisyprune.active"),
    script:
        "../scripts/stage.py"


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
    log:
        f"{ACTIVE}/train.log",
    benchmark:
        f"{ACTIVE}/train.benchmark.tsv"
    conda:
        "../envs/noisyprune.yaml"
    threads: config["threads"]
    resources:
        gpu=GPU_PER_JOB,
        slurm_partition=slurm_partition(GPU_PER_JOB),
        mem_mb=config["resources"]["retrain"]["mem_mb"],
        runtime=config["resources"]["retrain"]["runtime"],
    params:
        entry=active_entry("train"),
        training=active_training,
        code_hash=active_train_code,
        execution=RESULT_SETTINGS,
    script:
        "../scripts/stage.py"


rule active_query:
    """Pick the next samples to label from the unlabelled ones by the acquisition function (seconds)."""
    input:
        labels=LABELS,
        pool=ACTIVE_POOL,
        predictions=ACTIVE_PREDICTIONS,
    output:
        query=ACTIVE_QUERY,
    log:
        f"{ACTIVE}/query.log",
    conda:
        "../envs/noisyprune.yaml"
    resources:
        mem_mb=config["resources"]["select"]["mem_mb"],
        runtime=config["resources"]["select"]["runtime"],
    params:
        entry=active_entry("query"),
        code_hash=hash_of("noisyprune.stages.active", "noisyprune.active"),
    script:
        "../scripts/stage.py"


localrules:
    active_aggregate,


rule active_aggregate:
    """Tidy rows of every round, learning-curve tables and plots per (dataset, noise) (seconds)."""
    input:
        [run["path"] for run in ACTIVE_METRICS_FILES],
    output:
        table=f"{TABLES}/active.parquet",
        csv=f"{TABLES}/active.csv",
        curves=[
            path for stem in ACTIVE_CURVE_STEMS.values() for path in table_files(stem) if not path.endswith(".html")
        ],
        curves_html=[
            report(
                f"{stem}.html",
                caption="../report/active.rst",
                category="Active learning",
                labels={"setting": key, "kind": "table"},
            )
            for key, stem in ACTIVE_CURVE_STEMS.items()
        ],
        plots=[
            report(
                f"{stem}.png",
                caption="../report/active.rst",
                category="Active learning",
                labels={"setting": key, "kind": "plot"},
            )
            for key, stem in ACTIVE_PLOT_STEMS.items()
        ],
        pdfs=[f"{stem}.pdf" for stem in ACTIVE_PLOT_STEMS.values()],
    log:
        f"{TABLES}/active.log",
    conda:
        "../envs/noisyprune.yaml"
    params:
        metrics_files=ACTIVE_METRICS_FILES,
        experiments=config["sweep"]["active"],
        entries={e: config["active"][e] for e in config["sweep"]["active"]},
        curve_stems=ACTIVE_CURVE_STEMS,
        plot_stems=ACTIVE_PLOT_STEMS,
        code_hash=hash_of("noisyprune.stages.active", "noisyprune.reporting.render", "noisyprune.reporting.plots"),
    script:
        "../scripts/stage.py"


rule active_all:
    """Only the active-learning part of the config: `snakemake --cores N active_all`."""
    input:
        ACTIVE_TARGETS,
