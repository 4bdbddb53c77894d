"""Rule select: thin wrapper around noisyprune.stages.select."""

from noisyprune.jobserver import run_stage

# Guarded: DataLoader workers started by spawn or forkserver (macOS, Python 3.14 on Linux)
# import this script again and must not run the stage a second time.
if __name__ == "__main__":
    run_stage(
        "noisyprune.stages.select:run_select_stage",
        dict(
            dataset=snakemake.wildcards.dataset,
            noise=snakemake.wildcards.noise,
            seed=int(snakemake.wildcards.seed),
            warmup=snakemake.wildcards.warmup,
            method=snakemake.wildcards.method,
            method_entry=snakemake.params.method,
            fraction=snakemake.wildcards.fraction,
            labels_path=snakemake.input.labels,
            features_path=snakemake.input.get("features"),
            dynamics_path=snakemake.input.get("dynamics"),
            snapshots_path=snakemake.input.get("snapshots"),
            code_hash=snakemake.params.code,
            output=snakemake.output.subset,
            timing_output=snakemake.output.timing,
        ),
        snakemake.log[0],
        threads=snakemake.threads,
    )
