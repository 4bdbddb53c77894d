"""Rule noise: thin wrapper around noisyprune.stages.noise."""

from noisyprune.jobserver import run_stage

# Guarded: DataLoader workers started by spawn or forkserver (macOS, Python 3.14 on Linux)
# import this script again and must not run the stage a second time.
if __name__ == "__main__":
    run_stage(
        "noisyprune.stages.noise:run_noise_stage",
        dict(
            dataset=snakemake.wildcards.dataset,
            dataset_entry=snakemake.params.dataset,
            noise=snakemake.wildcards.noise,
            noise_entry=snakemake.params.noise,
            seed=int(snakemake.wildcards.seed),
            output=snakemake.output.labels,
        ),
        snakemake.log[0],
        threads=snakemake.threads,
    )
