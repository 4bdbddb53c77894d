"""Rules export_subset and export_relabelled: thin wrapper around noisyprune.stages.export."""

from noisyprune.jobserver import run_stage

if __name__ == "__main__":
    run_stage(
        "noisyprune.stages.export:run_export_stage",
        dict(
            run=dict(snakemake.wildcards.items()),
            dataset_entry=snakemake.params.dataset,
            labels_path=snakemake.input.labels,
            subset_path=snakemake.input.subset,
            relabels_path=snakemake.input.get("relabels"),
            code_hash=snakemake.params.code,
            output=snakemake.output.kept,
        ),
        snakemake.log[0],
        threads=snakemake.threads,
    )
