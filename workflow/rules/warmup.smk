rule warmup:
    """Train the scoring model on the full noisy set; record per-sample dynamics (GPU)."""
    input:
        labels=LABELS,
    output:
        model=WARMUP_MODEL,
        dynamics=WARMUP_DYNAMICS,
        history=WARMUP_HISTORY,
        snapshots=WARMUP_SNAPSHOTS,
    log:
        f"{WARMUP}/warmup.log",
    benchmark:
        f"{WARMUP}/warmup.benchmark.tsv"
    wildcard_constraints:
        warmup=alternatives(TRAINED_WARMUPS),
    conda:
        "../envs/noisyprune.yaml"
    threads: config["threads"]
    resources:
        gpu=GPU_PER_JOB,
        slurm_partition=slurm_partition(GPU_PER_JOB),
        mem_mb=config["resources"]["warmup"]["mem_mb"],
        runtime=config["resources"]["warmup"]["runtime"],
    params:
        training=warmup_training,
        code_hash=warmup_code,
        execution=RESULT_SETTINGS,
    script:
        "../scripts/stage.py"


rule precomputed_warmup:
    """The user's own representation (embeddings, class scores) as the warm-up's features (seconds)."""
    input:
        labels=LABELS,
        source=lambda wildcards: warmup_entry(wildcards)["path"],
    output:
        features=FEATURES,
        history=WARMUP_HISTORY,
    log:
        f"{WARMUP}/precomputed.log",
    wildcard_constraints:
        warmup=alternatives(PRECOMPUTED_WARMUPS),
    conda:
        "../envs/noisyprune.yaml"
    resources:
        mem_mb=config["resources"]["extract"]["mem_mb"],
        runtime=config["resources"]["extract"]["runtime"],
    params:
        dataset_entry=dataset_entry,
        warmup_entry=warmup_entry,
        checksum=precomputed_checksum,
        code_hash=precomputed_code,
    script:
        "../scripts/stage.py"
