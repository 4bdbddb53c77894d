"""Rule active_train: thin wrapper around noisyprune.stages.active."""

from noisyprune.jobserver import run_stage

# Guarded: DataLoader workers started by spawn or forkserver (macOS, Python 3.14 on Linux)
# import this script again and must not run the stage a second time.
if __name__ == "__main__":
    run_stage(
        "noisyprune.stages.active:run_active_train_stage",
        dict(
            experiment=snakemake.wildcards.experiment,
            entry=snakemake.params.entry,
            run=snakemake.params.run,
            round_index=int(snakemake.wildcards["round"]),
            dataset_entry=snakemake.params.dataset,
            learner_entry=snakemake.params.learner,
            model_entry=snakemake.params.model,
            labels_path=snakemake.input.labels,
            pool_path=snakemake.input.pool,
            device=snakemake.config["device"],
            threads=snakemake.threads,
            execution={key: snakemake.config[key] for key in ("precision", "channels_last", "compile")},
            inference_batch_size=snakemake.config["inference_batch_size"],
            code_hash=snakemake.params.code,
            metrics_output=snakemake.output.metrics,
            history_output=snakemake.output.history,
            predictions_output=snakemake.output.predictions,
        ),
        snakemake.log[0],
        threads=snakemake.threads,
    )
