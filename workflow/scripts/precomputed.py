"""Rule precomputed_warmup: thin wrapper around noisyprune.stages.precomputed."""

from noisyprune.jobserver import run_stage

if __name__ == "__main__":
    run_stage(
        "noisyprune.stages.precomputed:run_precomputed_stage",
        dict(
            dataset=snakemake.wildcards.dataset,
            dataset_entry=snakemake.params.dataset,
            warmup=snakemake.wildcards.warmup,
            warmup_entry=snakemake.params.warmup,
            labels_path=snakemake.input.labels,
            code_hash=snakemake.params.code,
            features_output=snakemake.output.features,
            history_output=snakemake.output.history,
        ),
        snakemake.log[0],
        threads=snakemake.threads,
    )
