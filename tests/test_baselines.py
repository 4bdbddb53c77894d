"""Pruning baselines on tiny data where the right selection is known by construction."""

import numpy as np
import pyarrow as pa
import pytest
import torch
import torch.nn.functional as F
import yaml
from conftest import REPO

from noisyprune.artifacts import Artifact
from noisyprune.pruners import PRUNERS, build_pruner
from noisyprune.pruners.base import PrunerInputs
from noisyprune.pruners.budget import equal_quotas, proportional_quotas
from noisyprune.pruners.ccs import stratified_by_difficulty
from noisyprune.pruners.forgetting import forgetting_counts
from noisyprune.pruners.glister import LastLayerModel
from noisyprune.pruners.grand import grand_scores
from noisyprune.pruners.kcenter_greedy import farthest_first
from noisyprune.pruners.registry import REFERENCE_METHOD
from noisyprune.pruners.uncertainty import uncertainty_scores


def features(probs, embedding=None, loss=None):
    probs = np.asarray(probs, dtype=np.float32)
    n, c = probs.shape
    embedding = np.zeros((n, 2), np.float32) + 1 if embedding is None else np.asarray(embedding, np.float32)
    columns = {
        "sample_id": np.arange(n),
        "probs": pa.FixedSizeListArray.from_arrays(pa.array(probs.reshape(-1)), c),
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(embedding.reshape(-1)), embedding.shape[1]),
        "loss": np.zeros(n, np.float32) if loss is None else np.asarray(loss, np.float32),
    }
    return Artifact(table=pa.table(columns), metadata={}, path=None)


def dynamics(rows):
    """rows: (sample_id, epoch, correct)."""
    ids, epochs, correct = map(np.array, zip(*rows))
    table = pa.table(
        {"sample_id": ids.astype(np.int64), "epoch": epochs.astype(np.int32), "correct": correct.astype(bool)}
    )
    return Artifact(table=table, metadata={}, path="dynamics.parquet")


def inputs(labels, num_classes, feats=None, dyn=None):
    labels = np.asarray(labels)
    return PrunerInputs(
        sample_id=np.arange(len(labels)), noisy_label=labels, num_classes=num_classes, features=feats, dynamics=dyn
    )


def select(entry, data, budget, seed=0):
    return build_pruner(entry).select(data, budget, np.random.default_rng(seed))


# --- uncertainty, EL2N, GraNd ---------------------------------------------------------------------

PROBS = np.array([[0.98, 0.01, 0.01], [0.4, 0.35, 0.25], [0.7, 0.2, 0.1], [0.34, 0.33, 0.33]])


@pytest.mark.parametrize("score", ["least_confidence", "entropy", "margin"])
def test_uncertainty_hard_keeps_uncertain_and_easy_keeps_confident(score):
    data = inputs([0, 1, 2, 0], 3, features(PROBS))
    hard = select({"pruner": "uncertainty", "score": score, "keep": "hard"}, data, 2).positions
    easy = select({"pruner": "uncertainty", "score": score, "keep": "easy"}, data, 2).positions
    assert set(hard.tolist()) == {1, 3}  # the flat distributions
    assert set(easy.tolist()) == {0, 2}  # the peaked ones


def test_uncertainty_scores_on_known_probabilities():
    scores = uncertainty_scores(PROBS, "margin")
    assert np.allclose(scores, -np.array([0.97, 0.05, 0.5, 0.01]))
    assert np.allclose(uncertainty_scores(PROBS, "least_confidence"), 1 - PROBS.max(1))


def test_el2n_hard_keeps_planted_noisy_and_easy_keeps_clean():
    rng = np.random.default_rng(0)
    n, noisy = 60, np.arange(60) % 4 == 0
    clean = rng.integers(0, 3, n)
    labels = np.where(noisy, (clean + 1) % 3, clean)
    probs = np.full((n, 3), 0.05)
    probs[np.arange(n), clean] = 0.9  # the model believes the clean class
    data = inputs(labels, 3, features(probs))
    hard = select({"pruner": "el2n", "keep": "hard"}, data, 15).positions
    easy = select({"pruner": "el2n", "keep": "easy"}, data, 45).positions
    assert noisy[hard].all() and not noisy[easy].any()


def test_grand_closed_form_equals_autograd_last_layer_gradient_norm():
    torch.manual_seed(0)
    embedding = torch.randn(7, 5, dtype=torch.float64)
    head = torch.nn.Linear(5, 4).double()
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2])
    logits = head(embedding)
    expected = []
    for i in range(7):
        head.zero_grad()
        F.cross_entropy(head(embedding[i : i + 1]), labels[i : i + 1]).backward()
        expected.append(torch.cat([head.weight.grad.flatten(), head.bias.grad]).norm().item())
    probs = logits.softmax(1).detach().numpy()
    assert np.allclose(grand_scores(probs, embedding.numpy(), labels.numpy()), expected)


def test_grand_direction():
    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.1, 0.9]])
    data = inputs([0, 0, 0], 2, features(probs, embedding=np.ones((3, 4))))
    assert select({"pruner": "grand"}, data, 1).positions.tolist() == [2]  # confidently wrong
    assert select({"pruner": "grand", "keep": "easy"}, data, 1).positions.tolist() == [0]


# --- forgetting -------------------------------------------------------------------------------------


def planted_dynamics():
    pattern = {
        0: [1, 0, 1, 0],  # learned and forgotten twice
        1: [1, 1, 1, 1],  # unforgettable
        2: [0, 0, 0, 0],  # never learned
        3: [0, 1, 0, 1],  # forgotten once
    }
    return dynamics([(s, e + 1, c) for s, flags in pattern.items() for e, c in enumerate(flags)])


def test_forgetting_counts_correct_to_incorrect_transitions():
    ids = np.arange(4)
    assert forgetting_counts(planted_dynamics(), ids, "zero").tolist() == [2, 0, 0, 1]
    assert forgetting_counts(planted_dynamics(), ids, "most").tolist() == [2, 0, 3, 1]


def test_forgetting_keeps_most_forgotten_first():
    data = inputs([0, 0, 0, 0], 1, dyn=planted_dynamics())
    kept = select({"pruner": "forgetting", "balance": "none"}, data, 2).positions
    assert kept.tolist() == [0, 3]
    kept = select({"pruner": "forgetting", "balance": "none", "never_learned": "most"}, data, 2).positions
    assert kept.tolist() == [2, 0]


# --- moderate, kCenterGreedy -------------------------------------------------------------------------


def test_moderate_keeps_the_middle_band_of_distances():
    embedding = np.c_[np.arange(10.0), np.zeros(10)]  # class median at 4.5: distances 4.5, 3.5, …
    data = inputs(np.zeros(10, int), 1, features(np.full((10, 1), 1.0), embedding))
    kept = select({"pruner": "moderate"}, data, 4).positions
    distance = np.abs(np.arange(10.0) - 4.5)
    # middle ranks of the sorted distances: neither the two nearest nor the farthest
    order = np.lexsort((np.arange(10), distance))
    assert sorted(kept.tolist()) == sorted(order[3:7].tolist())


def test_kcenter_greedy_picks_planted_outliers_first():
    rng = np.random.default_rng(0)
    dense = rng.normal(scale=0.1, size=(200, 4))
    outliers = np.array([[10, 0, 0, 0], [0, 10, 0, 0], [0, 0, 10, 0]], dtype=float)
    embedding = np.vstack([dense, outliers])
    data = inputs(np.zeros(203, int), 1, features(np.ones((203, 1)), embedding))
    kept = select({"pruner": "kcenter_greedy"}, data, 4).positions
    assert {200, 201, 202} <= set(kept.tolist())


def test_farthest_first_matches_brute_force():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(120, 6))
    positions, _ = farthest_first(z, 30, first=7)
    expected = [7]
    for _ in range(29):
        distance = np.min(np.linalg.norm(z[:, None] - z[expected][None], axis=2), axis=1)
        distance[expected] = -1
        expected.append(int(np.argmax(distance)))
    assert positions.tolist() == expected


# --- GLISTER ----------------------------------------------------------------------------------------


def test_last_layer_alignment_equals_autograd():
    torch.manual_seed(1)
    embedding = torch.randn(6, 3, dtype=torch.float64)
    head = torch.nn.Linear(3, 4).double()
    labels = torch.tensor([0, 1, 2, 3, 1, 2])
    grads = []
    for i in range(6):
        head.zero_grad()
        F.cross_entropy(head(embedding[i : i + 1]), labels[i : i + 1]).backward()
        grads.append(torch.cat([head.weight.grad, head.bias.grad[:, None]], dim=1).clone())
    grads = torch.stack(grads)
    model = LastLayerModel(head(embedding).softmax(1).detach().numpy(), embedding.numpy(), labels.numpy())
    residuals = model.residuals(None)
    mean = model.mean_gradient(residuals, np.arange(6))
    assert np.allclose(mean, grads.mean(0).numpy())
    expected = (grads * grads.mean(0)).sum(dim=(1, 2)).numpy()
    assert np.allclose(model.alignment(residuals, mean), expected)


def glister_problem(seed=0):
    rng = np.random.default_rng(seed)
    n = 300
    labels = rng.integers(0, 3, n)
    embedding = rng.normal(size=(n, 5)) + labels[:, None]
    logits = embedding @ rng.normal(size=(5, 3))
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    return inputs(labels, 3, features(probs, embedding))


def test_glister_static_is_top_k_alignment_and_greedy_starts_there():
    data = glister_problem()
    static = select({"pruner": "glister", "variant": "static"}, data, 50)
    model = LastLayerModel(data.features.numpy("probs"), data.features.numpy("embedding"), data.noisy_label)
    residuals = model.residuals(None)
    gains = model.alignment(residuals, model.mean_gradient(residuals, np.arange(300)))
    assert static.positions.tolist() == np.lexsort((np.arange(300), -gains))[:50].tolist()
    one_round = select({"pruner": "glister", "variant": "greedy", "updates": 1}, data, 50)
    assert one_round.positions.tolist() == static.positions.tolist()
    greedy = select({"pruner": "glister", "variant": "greedy", "updates": 10}, data, 50)
    assert greedy.positions[:5].tolist() == static.positions[:5].tolist()  # first round identical
    assert len(set(greedy.positions.tolist())) == 50
    assert set(greedy.positions.tolist()) != set(static.positions.tolist())  # later rounds adapt


# --- CCS ------------------------------------------------------------------------------------------------


def test_ccs_cuts_the_hardest_and_covers_every_stratum():
    difficulty = np.arange(1000, dtype=float)
    kept = stratified_by_difficulty(
        difficulty, np.arange(1000), 100, hard_cutoff=0.1, bins=10, rng=np.random.default_rng(0)
    )
    assert len(set(kept.tolist())) == 100
    assert difficulty[kept].max() < 900  # the hardest 10% are cut
    assert np.bincount((difficulty[kept] // 90).astype(int), minlength=10).tolist() == [10] * 10


def test_ccs_gives_small_strata_all_they_have():
    difficulty = np.r_[np.zeros(5), np.linspace(10, 11, 500)]  # one tiny easy stratum
    kept = stratified_by_difficulty(difficulty, np.arange(505), 50, 0.0, bins=2, rng=np.random.default_rng(0))
    assert set(range(5)) <= set(kept.tolist())


# --- confident learning -------------------------------------------------------------------------------


def test_confident_learning_drops_flagged_label_errors():
    rng = np.random.default_rng(0)
    n, classes = 600, 3
    clean = rng.integers(0, classes, n)
    embedding = rng.normal(scale=0.5, size=(n, 4)) + np.eye(classes, 4)[clean] * 4
    noisy = clean.copy()
    flipped = rng.random(n) < 0.2
    noisy[flipped] = (clean[flipped] + 1) % classes
    data = inputs(noisy, classes, features(np.full((n, classes), 1 / classes), embedding))
    selection = select({"pruner": "confident_learning"}, data, 300)
    assert selection.diagnostics["flagged"] > 0.8 * flipped.sum()
    assert flipped[selection.positions].mean() < 0.03  # vs 20% in the data


# --- shared balance and registry ------------------------------------------------------------------------


def balance_problem():
    rng = np.random.default_rng(2)
    labels = np.repeat([0, 1, 2], [120, 60, 20])
    n = len(labels)
    probs = rng.dirichlet(np.ones(3), size=n)
    embedding = rng.normal(size=(n, 4))
    feats = features(probs, embedding, loss=rng.random(n))
    dyn = dynamics([(s, e, bool(rng.random() < 0.6)) for s in range(n) for e in (1, 2, 3)])
    return inputs(labels, 3, feats, dyn), labels


# Pruners whose balance is tested in a module of their own instead (prune4rel: its `equal` balance
# is the original's round-robin, tests/test_prune4rel.py). Named here, so that a new test module
# never drops a pruner from these tests unnoticed.
TESTED_ON_THEIR_OWN = frozenset({"prune4rel"})
# Every registered pruner but the keep-everything reference and those: a new pruner joins these
# tests by being registered.
BASELINES = [name for name in PRUNERS.registered() if name not in {REFERENCE_METHOD, *TESTED_ON_THEIR_OWN}]


@pytest.mark.parametrize("pruner", BASELINES)
@pytest.mark.parametrize("balance", ["proportional", "equal"])
def test_every_pruner_follows_the_shared_class_balance(pruner, balance):
    data, labels = balance_problem()
    budget = 90
    selection = select({"pruner": pruner, "balance": balance}, data, budget)
    counts = np.bincount(labels[selection.positions], minlength=3)
    sizes = np.bincount(labels)
    quotas = (proportional_quotas if balance == "proportional" else equal_quotas)(sizes, budget)
    assert len(set(selection.positions.tolist())) == budget
    assert np.all(counts >= quotas) and counts.sum() == budget
    if balance == "proportional":
        assert counts.tolist() == quotas.tolist()


# --- GraNd over warm-up checkpoints --------------------------------------------------------------------


def test_grand_average_uses_the_mean_over_snapshots():
    snapshots = Artifact(
        pa.table(
            {
                "sample_id": np.array([0, 1, 2, 0, 1, 2]),
                "epoch": np.array([1, 1, 1, 2, 2, 2], np.int32),
                "grand": np.array([1.0, 5.0, 3.0, 3.0, 1.0, 3.0], np.float32),
            }
        ),
        {},
        "snapshots.parquet",
    )
    data = PrunerInputs(sample_id=np.arange(3), noisy_label=np.zeros(3, int), num_classes=1, snapshots=snapshots)
    pruner = build_pruner({"pruner": "grand", "checkpoints": "average"})
    assert pruner.requires == ("snapshots",)
    assert np.allclose(pruner.score(data, np.random.default_rng(0)), [2.0, 3.0, 3.0])
    assert pruner.select(data, 1, np.random.default_rng(0)).positions.tolist() == [1]  # tie → lower id
    empty = Artifact(
        pa.table(
            {"sample_id": np.zeros(0, np.int64), "epoch": np.zeros(0, np.int32), "grand": np.zeros(0, np.float32)}
        ),
        {},
        "snapshots.parquet",
    )
    with pytest.raises(ValueError, match="set 'score_epochs' in the warm-up entry"):
        pruner.score(PrunerInputs(np.arange(3), np.zeros(3, int), 1, snapshots=empty), np.random.default_rng(0))


def test_snapshot_scores_match_the_closed_form_of_the_final_model():
    from test_training import MLP, SPEC, blob_dataset

    from noisyprune.training.callbacks import SnapshotScorer
    from noisyprune.training.data import TensorData
    from noisyprune.training.inference import embed_and_classify
    from noisyprune.training.job import TrainingJob
    from noisyprune.training.run import train_on_samples

    data = blob_dataset()
    all_samples = TensorData.from_numpy(data.train_x, data.train_y, np.arange(data.num_train), torch.device("cpu"))
    scorer = SnapshotScorer([2, 5], batch_size=64)
    result = train_on_samples(
        TrainingJob(SPEC, MLP, seed=0, inference_batch_size=64),
        data,
        data.train_y,
        np.arange(data.num_train),
        torch.device("cpu"),
        callbacks=[scorer],
    )
    columns = scorer.columns()
    assert sorted(set(columns["epoch"].tolist())) == [2, 5] and len(columns["epoch"]) == 2 * data.num_train
    logits, embedding = embed_and_classify(result.ctx.model, all_samples.x, 64)
    final = columns["epoch"] == 5
    expected = grand_scores(logits.softmax(1).numpy(), embedding.numpy(), data.train_y)
    assert np.allclose(columns["grand"][final], expected, rtol=1e-5)


def test_max_logit_is_deepcores_least_confidence_order():
    """DeepCore / the Prune4ReL fork: scores = max raw output (no softmax), argsort ascending, the
    first budget kept; `score: max_logit, keep: hard` keeps the same samples."""
    from noisyprune.pruners.registry import build_pruner

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 4)) * rng.uniform(0.5, 4, size=(50, 1))  # scales differ per sample
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    table = pa.table(
        {"probs": pa.FixedSizeListArray.from_arrays(pa.array(probs.ravel()), 4), "max_logit": logits.max(1)}
    )
    inputs = PrunerInputs(
        sample_id=np.arange(50), noisy_label=rng.integers(0, 4, 50), num_classes=4,
        features=Artifact(table=table, metadata={}, path=None),
    )  # fmt: skip
    expected = np.argsort(logits.max(1), kind="stable")[:20]
    kept = build_pruner({"pruner": "uncertainty", "score": "max_logit"}).select(inputs, 20, rng).positions
    assert sorted(kept.tolist()) == sorted(expected.tolist())
    by_probability = build_pruner({"pruner": "uncertainty", "score": "least_confidence"}).select(inputs, 20, rng)
    assert sorted(by_probability.positions.tolist()) != sorted(expected.tolist())  # not the same score


@pytest.mark.parametrize("preset", ["cifar10n", "cifar100n", "cifar10n_fast", "cifar100n_fast", "webvision",
                                    "clothing1m", "imagenet"])  # fmt: skip
def test_paper_presets_run_the_scripts_balanced_least_confidence_grand_and_glister(preset):
    """The original scripts pass --uncertainty LeastConfidence --balance True."""
    config = yaml.safe_load((REPO / "config" / f"{preset}.yaml").read_text())
    for name in config["sweep"]["methods"]:
        entry = config["methods"][name]
        if entry["pruner"] == "uncertainty":
            assert (entry["score"], entry.get("balance")) == ("max_logit", "proportional"), name
        if entry["pruner"] in ("grand", "glister"):
            assert entry.get("balance") == "proportional", name
