"""Rule retrain: thin wrapper around noisyprune.stages.retrain."""

from noisyprune.jobserver import run_stage

# Guarded: DataLoader workers started by spawn or forkserver (macOS, Python 3.14 on Linux)
# import this script again and must not run the stage a second time.
if __name__ == "__main__":
    run_stage(
        "noisyprune.stages.retrain:run_retrain_stage",
        dict(
            run={
                key: snakemake.wildcards[key]
                for key in ("dataset", "noise", "seed", "warmup", "method", "fraction", "learner")
            },
            dataset_entry=snakemake.params.dataset,
            learner_entry=snakemake.params.learner,
            model_entry=snakemake.params.model,
            labels_path=snakemake.input.labels,
            subset_path=snakemake.input.subset,
            checkpoint_path=snakemake.input.get("checkpoint"),
            features_path=snakemake.input.get("features"),
            device=snakemake.config["device"],
            threads=snakemake.threads,
            execution={key: snakemake.config[key] for key in ("precision", "channels_last", "compile")},
            inference_batch_size=snakemake.config["inference_batch_size"],
            code_hash=snakemake.params.code,
            metrics_output=snakemake.output.metrics,
            history_output=snakemake.output.history,
            relabels_output=snakemake.output.relabels,
            resume_every=snakemake.config["resume_every"],
        ),
        snakemake.log[0],
        threads=snakemake.threads,
    )
