"""Rule active_pool: thin wrapper around noisyprune.stages.active."""

from noisyprune.jobserver import run_stage

# Guarded: DataLoader workers started by spawn or forkserver (macOS, Python 3.14 on Linux)
# import this script again and must not run the stage a second time.
if __name__ == "__main__":
    run_stage(
        "noisyprune.stages.active:run_active_pool_stage",
        dict(
            experiment=snakemake.wildcards.experiment,
            entry=snakemake.params.entry,
            run=snakemake.params.run,
            round_index=int(snakemake.wildcards["round"]),
            labels_path=snakemake.input.labels,
            previous_pool_path=snakemake.input.get("pool"),
            previous_query_path=snakemake.input.get("query"),
            output=snakemake.output.pool,
        ),
        snakemake.log[0],
        threads=snakemake.threads,
    )
