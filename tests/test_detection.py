"""Noise-detection quality: AUROC/AP of oriented scores on planted noise."""

import numpy as np
import pyarrow as pa
import pytest

from noisyprune.artifacts import Artifact
from noisyprune.detection import detection_quality, noise_scores


def planted(n=400, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    clean = rng.integers(0, classes, n)
    noisy_mask = rng.random(n) < 0.3
    noisy = np.where(noisy_mask, (clean + 1) % classes, clean)
    probs = np.full((n, classes), 0.02)
    probs[np.arange(n), clean] = 1 - 0.02 * (classes - 1)  # the model believes the clean label
    loss = -np.log(probs[np.arange(n), noisy])
    embedding = rng.normal(size=(n, 3)).astype(np.float32)
    table = pa.table(
        {
            "sample_id": np.arange(n),
            "loss": loss.astype(np.float32),
            "probs": pa.FixedSizeListArray.from_arrays(pa.array(probs.astype(np.float32).reshape(-1)), classes),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(embedding.reshape(-1)), 3),
        }
    )
    epochs = 3
    dynamics = pa.table(
        {
            "sample_id": np.repeat(np.arange(n), epochs),
            "epoch": np.tile(np.arange(1, epochs + 1), n).astype(np.int32),
            # mislabelled samples flip between right and wrong; clean ones are learnt at once
            "correct": np.where(np.repeat(noisy_mask, epochs), np.tile([True, False, True], n), True),
        }
    )
    return (Artifact(table, {}, None), Artifact(dynamics, {}, None), noisy, noisy_mask, classes)


def test_label_aware_scores_detect_planted_noise_and_label_blind_ones_do_not():
    features, dynamics, noisy, is_noisy, classes = planted()
    rows = {row["score"]: row for row in detection_quality(noise_scores(features, dynamics, noisy, classes), is_noisy)}
    for name in ("loss", "el2n", "grand", "self_confidence", "forgetting"):
        assert rows[name]["auroc"] > 0.99, name
        assert rows[name]["average_precision"] > 0.95, name
    # the model is equally sure of every sample, so uncertainty cannot tell noisy from clean
    assert rows["margin"]["auroc"] == pytest.approx(0.5)
    assert 0.3 < rows["moderate_distance"]["auroc"] < 0.7  # random embeddings


def test_detection_is_missing_without_noise():
    features, _dynamics, noisy, _, classes = planted()
    rows = detection_quality(noise_scores(features, None, noisy, classes), np.zeros(len(noisy), bool))
    assert all(np.isnan(row["auroc"]) and np.isnan(row["average_precision"]) for row in rows)
    assert "forgetting" not in {row["score"] for row in rows}


def test_the_roc_plot_of_a_noise_free_run_shows_undefined_curves_instead_of_failing(tmp_path):
    """Noise that flips nothing (a clean run, or a per-class rate that rounds to 0 on small classes)
    leaves every AUROC undefined: detection.json holds null, and the plots stage drew nothing then
    but a TypeError from nanmean over None."""
    from noisyprune.artifacts import write_json
    from noisyprune.detection import ROC_GRID
    from noisyprune.reporting import plots
    from noisyprune.stages.plot import roc_curves

    features, dynamics, noisy, _, classes = planted()
    rows = detection_quality(noise_scores(features, dynamics, noisy, classes), np.zeros(len(noisy), bool))
    path = tmp_path / "detection.json"
    write_json({"noise_rate": 0.0, "roc_fpr": ROC_GRID.tolist(), "scores": rows}, path)
    entry = {"path": str(path), "dataset": "d", "noise": "none", "seed": 0, "warmup": "ce"}
    curves = roc_curves([entry])
    assert curves and all(np.isnan(curve["auroc"]) for curve in curves)
    with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
        figure = plots.roc_figure(curves, "t")
    labels = [line.get_label() for line in figure.axes[0].get_lines() if not line.get_label().startswith("_")]
    assert labels[0] == "loss (nan)"
