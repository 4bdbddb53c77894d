"""Where each figure goes (paths without extension), shared by the workflow's target list and the
plot stage. Kept free of matplotlib so the Snakefile can import it cheaply."""

from __future__ import annotations

from collections.abc import Mapping

# Per (dataset, warm-up) figure kinds; learning curves are per setting (dataset, noise, warm-up, learner).
GROUP_KINDS = ("difference", "test_acc", "relabel_acc", "noise_rate", "timing", "detection_roc")


def group_stem(plots_dir: str, dataset: str, warmup: str, kind: str) -> str:
    """Path without extension of one per-(dataset, warm-up) figure of kind ``kind``."""
    return f"{plots_dir}/{dataset}__{warmup}__{kind}"


def curves_stem(plots_dir: str, setting: Mapping[str, str]) -> str:
    """Path without extension of the learning-curve figure of one (dataset, noise, warm-up, learner)."""
    return (
        f"{plots_dir}/{setting['dataset']}__{setting['noise']}__{setting['warmup']}__"
        f"{setting['learner']}__learning_curves"
    )
