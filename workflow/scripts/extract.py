"""Rule extract: thin wrapper around noisyprune.stages.extract."""

from noisyprune.jobserver import run_stage

# Guarded: DataLoader workers started by spawn or forkserver (macOS, Python 3.14 on Linux)
# import this script again and must not run the stage a second time.
if __name__ == "__main__":
    run_stage(
        "noisyprune.stages.extract:run_extract_stage",
        dict(
            dataset=snakemake.wildcards.dataset,
            dataset_entry=snakemake.params.dataset,
            labels_path=snakemake.input.labels,
            model_path=snakemake.input.model,
            device=snakemake.config["device"],
            threads=snakemake.threads,
            execution={key: snakemake.config[key] for key in ("precision", "channels_last", "compile")},
            inference_batch_size=snakemake.config["inference_batch_size"],
            code_hash=snakemake.params.code,
            output=snakemake.output.features,
        ),
        snakemake.log[0],
        threads=snakemake.threads,
    )
