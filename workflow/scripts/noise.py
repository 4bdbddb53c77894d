"""Rule noise: thin wrapper around noisyprune.stages.noise."""

from noisyprune.logs import setup_logging
from noisyprune.stages.noise import run_noise_stage

setup_logging(snakemake.log[0])
run_noise_stage(
    dataset=snakemake.wildcards.dataset,
    dataset_entry=snakemake.params.dataset,
    noise=snakemake.wildcards.noise,
    noise_entry=snakemake.params.noise,
    seed=int(snakemake.wildcards.seed),
    output=snakemake.output.labels,
)
