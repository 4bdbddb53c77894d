"""Rule detect: thin wrapper around noisyprune.stages.detect."""

from noisyprune.logs import setup_logging
from noisyprune.stages.detect import run_detect_stage

setup_logging(snakemake.log[0])
run_detect_stage(
    labels_path=snakemake.input.labels,
    features_path=snakemake.input.features,
    dynamics_path=snakemake.input.dynamics,
    code_hash=snakemake.params.code,
    output=snakemake.output.detection,
)
