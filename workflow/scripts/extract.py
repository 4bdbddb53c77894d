"""Rule extract: thin wrapper around noisyprune.stages.extract."""

from noisyprune.logs import setup_logging
from noisyprune.stages.extract import run_extract_stage

setup_logging(snakemake.log[0])
run_extract_stage(
    dataset=snakemake.wildcards.dataset,
    dataset_entry=snakemake.params.dataset,
    labels_path=snakemake.input.labels,
    model_path=snakemake.input.model,
    device=snakemake.config["device"],
    threads=snakemake.threads,
    inference_batch_size=snakemake.config["inference_batch_size"],
    code_hash=snakemake.params.code,
    output=snakemake.output.features,
)
