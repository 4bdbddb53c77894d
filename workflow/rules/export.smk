# Export: the kept subsets in the dataset's own terms (paths or row numbers with labels), for
# training elsewhere. Not part of `all`; ask for them with `snakemake --cores N export` or name one
# file (docs/architecture.md#export).

KEPT = f"{SELECT}/kept.txt"
KEPT_RELABELLED = f"{TRAIN}/kept_relabelled.txt"


localrules:
    export,


rule export_subset:
    """The kept samples of one selection, best first, with the noisy labels it saw (seconds)."""
    input:
        labels=LABELS,
        subset=SUBSET,
    output:
        kept=KEPT,
    log:
        f"{SELECT}/export.log",
    conda:
        "../envs/noisyprune.yaml"
    resources:
        mem_mb=config["resources"]["select"]["mem_mb"],
        runtime=config["resources"]["select"]["runtime"],
    params:
        dataset_entry=dataset_entry,
        code_hash=export_code,
    script:
        "../scripts/stage.py"


# The kept samples of one retrain with the learner's corrected labels (seconds).
use rule export_subset as export_relabelled with:
    input:
        labels=LABELS,
        subset=SUBSET,
        relabels=RELABELS,
    output:
        kept=KEPT_RELABELLED,
    log:
        f"{TRAIN}/export.log",


rule export:
    """Every selection's and every retrain's kept list of the sweep."""
    input:
        sorted({KEPT.format(**run.wildcards()) for run in RUNS}),
        [KEPT_RELABELLED.format(**run.wildcards()) for run in RUNS],
