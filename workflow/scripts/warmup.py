"""Rule warmup: thin wrapper around noisyprune.stages.warmup."""

from noisyprune.jobserver import run_stage

# Guarded: DataLoader workers started by spawn or forkserver (macOS, Python 3.14 on Linux)
# import this script again and must not run the stage a second time.
if __name__ == "__main__":
    run_stage(
        "noisyprune.stages.warmup:run_warmup_stage",
        dict(
            dataset=snakemake.wildcards.dataset,
            dataset_entry=snakemake.params.dataset,
            noise=snakemake.wildcards.noise,
            seed=int(snakemake.wildcards.seed),
            warmup=snakemake.wildcards.warmup,
            warmup_entry=snakemake.params.warmup,
            model_entry=snakemake.params.model,
            labels_path=snakemake.input.labels,
            device=snakemake.config["device"],
            threads=snakemake.threads,
            execution={key: snakemake.config[key] for key in ("precision", "channels_last", "compile")},
            inference_batch_size=snakemake.config["inference_batch_size"],
            code_hash=snakemake.params.code,
            model_output=snakemake.output.model,
            dynamics_output=snakemake.output.dynamics,
            history_output=snakemake.output.history,
            snapshots_output=snakemake.output.snapshots,
            resume_every=snakemake.config["resume_every"],
        ),
        snakemake.log[0],
        threads=snakemake.threads,
    )
