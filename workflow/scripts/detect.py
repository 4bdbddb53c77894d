"""Rule detect: thin wrapper around noisyprune.stages.detect."""

from noisyprune.jobserver import run_stage

# Guarded: DataLoader workers started by spawn or forkserver (macOS, Python 3.14 on Linux)
# import this script again and must not run the stage a second time.
if __name__ == "__main__":
    run_stage(
        "noisyprune.stages.detect:run_detect_stage",
        dict(
            labels_path=snakemake.input.labels,
            features_path=snakemake.input.features,
            dynamics_path=snakemake.input.get("dynamics"),
            code_hash=snakemake.params.code,
            output=snakemake.output.detection,
        ),
        snakemake.log[0],
        threads=snakemake.threads,
    )
