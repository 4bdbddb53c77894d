"""Influence-based relabeling (RDIA): sign and scale of the scores against brute force, the CG solve
against a dense one, relabeling quality on planted noise, and input checks."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn.linear_model import LogisticRegression

from noisyprune.influence import (
    alpha_from_original_rdia,
    binary_influence_relabel,
    binary_influence_scores,
    fit_multinomial_head,
    multinomial_influence_relabel,
    multinomial_influence_scores,
)


def binary_blobs(n, rng, d=4, shift=1.2):
    """Two Gaussian blobs along the first axis; the other axes are pure noise."""
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, d))
    x[:, 0] += shift * (2 * y - 1)
    return x, y


def class_blobs(n, rng, centers):
    y = rng.integers(0, centers.shape[0], n)
    return centers[y] + rng.normal(size=(n, centers.shape[1])), y


def fit_binary(x, y, C, sample_weight=None):
    """liblinear at a tolerance tight enough for finite differences."""
    model = LogisticRegression(C=C, fit_intercept=False, solver="liblinear", tol=1e-12, max_iter=10_000)
    return model.fit(x, y, sample_weight=sample_weight).coef_.ravel()


def binary_val_loss(coef, x, y):
    z = x @ coef
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def softmax_val_loss(W, b, x, y):
    logits = x @ W.T + (0.0 if b is None else b)
    return float(np.mean(logsumexp(logits, axis=1) - logits[np.arange(y.shape[0]), y]))


@pytest.fixture(scope="module")
def tiny_binary():
    rng = np.random.default_rng(1)
    x, y = binary_blobs(40, rng, d=3, shift=1.5)
    y[:5] = 1 - y[:5]  # a few wrong labels so that some samples are clearly harmful
    xv, yv = binary_blobs(30, rng, d=3, shift=1.5)
    return x, y, xv, yv, 0.5


# --------------------------------------------------------------------------------------------------
# Binary: sign and scale


def test_binary_scores_match_finite_difference_of_upweighting(tiny_binary):
    """φ_i = dL_va/dε for J + ε ℓ_i; in scikit-learn terms ε = δ/n with sample weight 1 + δ."""
    x, y, xv, yv, C = tiny_binary
    n = x.shape[0]
    scores = binary_influence_scores(x, y, xv, yv, fit_binary(x, y, C), C).scores
    h = 1e-3
    fd = np.empty(n)
    for i in range(n):
        w = np.ones(n)
        w[i] = 1 + h
        up = binary_val_loss(fit_binary(x, y, C, w), xv, yv)
        w[i] = 1 - h
        down = binary_val_loss(fit_binary(x, y, C, w), xv, yv)
        fd[i] = n * (up - down) / (2 * h)
    assert np.abs(scores).max() > 0.3  # the check is not vacuous
    np.testing.assert_allclose(scores, fd, atol=1e-4 * np.abs(fd).max())
    # the mislabelled samples are the harmful ones: positive φ
    assert (scores[:5] > 0).mean() >= 0.8


def test_binary_scores_predict_leave_one_out_change(tiny_binary):
    """Removing sample i changes the validation loss by ≈ −φ_i / n."""
    x, y, xv, yv, C = tiny_binary
    n = x.shape[0]
    coef = fit_binary(x, y, C)
    scores = binary_influence_scores(x, y, xv, yv, coef, C).scores
    base = binary_val_loss(coef, xv, yv)
    loo = np.array(
        [binary_val_loss(fit_binary(np.delete(x, i, 0), np.delete(y, i), C), xv, yv) - base for i in range(n)]
    )
    assert np.corrcoef(loo, -scores / n)[0, 1] > 0.97
    big = np.abs(scores) > 0.2 * np.abs(scores).max()
    assert np.all(np.sign(loo[big]) == np.sign(-scores[big]))


def test_binary_scores_are_the_original_rdia_scores_rescaled(tiny_binary):
    """The original's −C∇ℓ_iᵀ(I + C XᵀDX)⁻¹(C Σ_val ∇ℓ_j) equals φ·C·m/n (alpha_from_original_rdia)."""
    x, y, xv, yv, C = tiny_binary
    n, m = x.shape[0], xv.shape[0]
    coef = fit_binary(x, y, C)
    p, pv = 1 / (1 + np.exp(-x @ coef)), 1 / (1 + np.exp(-xv @ coef))
    hessian = np.eye(x.shape[1]) + C * (x * (p * (1 - p))[:, None]).T @ x
    original = -C * (p - y) * (x @ np.linalg.solve(hessian, C * xv.T @ (pv - yv)))
    scores = binary_influence_scores(x, y, xv, yv, coef, C).scores
    np.testing.assert_allclose(scores, original * n / (C * m), rtol=1e-6, atol=1e-10)
    assert alpha_from_original_rdia(2e-4, n, m, C) == pytest.approx(2e-4 * n / (C * m))


def test_binary_cg_solution_matches_dense_solve_and_sparse_input():
    rng = np.random.default_rng(3)
    x, y = binary_blobs(60, rng, d=8)
    x *= rng.uniform(0.1, 10, size=8)  # badly scaled features: the preconditioner's job
    xv, yv = binary_blobs(25, rng, d=8)
    C = 2.0
    coef = fit_binary(x, y, C)
    result = binary_influence_scores(x, y, xv, yv, coef, C)
    p = 1 / (1 + np.exp(-x @ coef))
    n = x.shape[0]
    hessian = (x * (p * (1 - p))[:, None]).T @ x / n + np.eye(8) / (C * n)
    pv = 1 / (1 + np.exp(-xv @ coef))
    grad = xv.T @ (pv - yv) / xv.shape[0]
    np.testing.assert_allclose(result.val_grad, grad, rtol=1e-10)
    np.testing.assert_allclose(result.inverse_hvp, np.linalg.solve(hessian, grad), rtol=1e-6)
    assert result.cg_relative_residual < 1e-7 and 0 < result.cg_iterations <= 8 + 2
    sparse = binary_influence_scores(sp.csr_matrix(x), y, sp.csr_matrix(xv), yv, coef, C)
    np.testing.assert_allclose(sparse.scores, result.scores, rtol=1e-8, atol=1e-12)


# --------------------------------------------------------------------------------------------------
# Binary: relabeling on planted noise


def test_binary_rdia_relabels_mostly_flipped_samples_and_lowers_validation_loss():
    rng = np.random.default_rng(0)
    x, y_true = binary_blobs(300, rng, d=5, shift=1.5)
    xv, yv = binary_blobs(150, rng, d=5, shift=1.5)
    flipped = rng.random(300) < 0.25
    y_noisy = np.where(flipped, 1 - y_true, y_true)

    result = binary_influence_relabel(x, y_noisy, xv, yv, alpha=0.1, C=0.1)
    mask = result.relabel_mask
    assert mask.dtype == bool and mask.shape == (300,) and result.scores.shape == (300,)
    np.testing.assert_array_equal(mask, result.scores > 0.1)
    np.testing.assert_array_equal(result.new_labels, np.where(mask, 1 - y_noisy, y_noisy))
    assert result.n_relabelled > 0.5 * flipped.sum()
    precision = flipped[mask].mean()
    assert precision > 0.7 > flipped.mean() + 0.4  # clearly above the flip rate
    assert result.val_loss_after < result.val_loss_before
    assert (result.new_labels == y_true).mean() > (y_noisy == y_true).mean()  # re-labeling accuracy

    # a stricter α selects a subset with (here) even higher precision
    strict = binary_influence_relabel(x, y_noisy, xv, yv, alpha=1.0, C=0.1)
    assert not (strict.relabel_mask & ~mask).any()
    assert 0 < strict.n_relabelled < result.n_relabelled
    assert flipped[strict.relabel_mask].mean() >= precision
    np.testing.assert_allclose(strict.scores, result.scores)


# --------------------------------------------------------------------------------------------------
# Multinomial


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_multinomial_scores_match_finite_difference_of_upweighting(fit_intercept):
    rng = np.random.default_rng(2)
    centers = rng.normal(size=(3, 4)) * 2.5
    x, y = class_blobs(30, rng, centers)
    xv, yv = class_blobs(30, rng, centers)
    y[:4] = (y[:4] + 1) % 3
    C, n = 0.3, x.shape[0]
    W, b = fit_multinomial_head(x, y, 3, C, fit_intercept=fit_intercept)
    scores = multinomial_influence_scores(x, y, xv, yv, W, b, C).scores
    h = 1e-4
    checked = np.r_[0:4, np.argsort(-np.abs(scores[4:]))[:4] + 4, np.arange(4, n, 5)]  # the mislabelled,
    fd = np.empty(checked.size)  # the most influential clean ones and a spread of the rest
    for j, i in enumerate(checked):
        w = np.ones(n)
        w[i] = 1 + h
        up = softmax_val_loss(*fit_multinomial_head(x, y, 3, C, fit_intercept=fit_intercept, sample_weight=w), xv, yv)
        w[i] = 1 - h
        down = softmax_val_loss(*fit_multinomial_head(x, y, 3, C, fit_intercept=fit_intercept, sample_weight=w), xv, yv)
        fd[j] = n * (up - down) / (2 * h)
    assert np.abs(scores).max() > 0.5
    np.testing.assert_allclose(scores[checked], fd, atol=1e-3 * np.abs(fd).max())
    assert (scores[:4] > 0).all()  # the mislabelled samples are harmful


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_multinomial_cg_solution_matches_dense_solve(fit_intercept):
    rng = np.random.default_rng(4)
    K, d, n, C = 4, 5, 50, 0.7
    centers = rng.normal(size=(K, d)) * 2
    x, y = class_blobs(n, rng, centers)
    xv, yv = class_blobs(20, rng, centers)
    W, b = fit_multinomial_head(x, y, K, C, fit_intercept=fit_intercept)
    result = multinomial_influence_scores(x, y, xv, yv, W, b, C)

    # dense Hessian of J over (vec W, b): Σ_i (diag p_i − p_i p_iᵀ) ⊗ [x_i; 1][x_i; 1]ᵀ / n + ridge on W
    feats = np.hstack([x, np.ones((n, 1))]) if fit_intercept else x
    probs = np.exp(x @ W.T + (0 if b is None else b))
    probs /= probs.sum(1, keepdims=True)
    q = feats.shape[1]
    H = np.zeros((K * q, K * q))
    for i in range(n):
        H += np.kron(np.diag(probs[i]) - np.outer(probs[i], probs[i]), np.outer(feats[i], feats[i])) / n
    ridge = np.kron(np.eye(K), np.diag([1.0] * d + [0.0] * (q - d))) / (C * n)
    H += ridge
    # reorder from class-major (k, [x, 1]) blocks to the module's layout [vec W, b]
    order = np.concatenate(
        [
            np.add.outer(np.arange(K) * q, np.arange(d)).ravel(),
            np.arange(K) * q + d if fit_intercept else np.array([], int),
        ]
    ).astype(int)
    H = H[np.ix_(order, order)]
    # with an unpenalised intercept H is singular (b + c·1 changes nothing); the pseudo-inverse gives
    # the solution orthogonal to that flat direction, which is the one the module returns
    expected = np.linalg.pinv(H, rcond=1e-10) @ result.val_grad
    np.testing.assert_allclose(H @ expected, result.val_grad, atol=1e-10)
    np.testing.assert_allclose(result.inverse_hvp, expected, rtol=1e-5, atol=1e-7 * np.abs(expected).max())


def test_multinomial_rdia_relabels_flipped_samples_to_their_true_class():
    rng = np.random.default_rng(5)
    centers = rng.normal(size=(3, 4)) * 2.0
    x, y_true = class_blobs(300, rng, centers)
    xv, yv = class_blobs(150, rng, centers)
    flipped = rng.random(300) < 0.25
    y_noisy = np.where(flipped, (y_true + rng.integers(1, 3, 300)) % 3, y_true)

    result = multinomial_influence_relabel(x, y_noisy, xv, yv, alpha=0.0, C=1.0, num_classes=3)
    changed = result.new_labels != y_noisy
    assert not (changed & ~result.relabel_mask).any()
    assert changed.sum() > 0.5 * flipped.sum()
    assert flipped[changed].mean() > 0.85
    assert (result.new_labels[changed] == y_true[changed]).mean() > 0.85
    assert result.val_loss_after < result.val_loss_before
    assert (result.new_labels == y_true).mean() > (y_noisy == y_true).mean() + 0.15
    assert result.coef_before.shape == (3, 4) and result.intercept_after.shape == (3,)


def test_multinomial_other_class_relabeling_flips_every_harmful_binary_label():
    rng = np.random.default_rng(7)
    centers = np.array([[1.5, 0.0], [-1.5, 0.0]])
    x, y_true = class_blobs(200, rng, centers)
    xv, yv = class_blobs(100, rng, centers)
    flipped = rng.random(200) < 0.5  # at 50% the fitted head often agrees with the wrong label
    y_noisy = np.where(flipped, 1 - y_true, y_true)
    by_prediction = multinomial_influence_relabel(x, y_noisy, xv, yv, alpha=0.0, num_classes=2)
    flipping = multinomial_influence_relabel(x, y_noisy, xv, yv, alpha=0.0, num_classes=2, relabel_to="other_class")
    mask = flipping.relabel_mask
    assert np.array_equal(mask, by_prediction.relabel_mask)  # the same harmful set
    assert np.array_equal(flipping.new_labels, np.where(mask, 1 - y_noisy, y_noisy))  # the original's flip
    assert (flipping.new_labels == y_true).mean() > (by_prediction.new_labels == y_true).mean()
    assert flipping.val_loss_after < flipping.val_loss_before
    with pytest.raises(ValueError, match="relabel_to"):
        multinomial_influence_relabel(x, y_noisy, xv, yv, alpha=0.0, num_classes=2, relabel_to="guess")


def test_multinomial_class_absent_from_training_labels_keeps_its_row():
    rng = np.random.default_rng(6)
    centers = rng.normal(size=(3, 2)) * 3
    x, y = class_blobs(60, rng, centers)
    keep = y < 2
    result = multinomial_influence_relabel(x[keep], y[keep], x[:10], np.minimum(y[:10], 1), 0.0, num_classes=4)
    assert result.coef_before.shape == (4, 2) and np.isfinite(result.scores).all()
    assert result.new_labels.max() < 2  # nobody is relabelled into a class with no training sample


def test_multinomial_scores_scale_to_512_dims_and_100_classes_without_forming_the_hessian():
    """K·d = 51,200 parameters: a dense Hessian would take 21 GB. H s = g is checked against central
    differences of the training-objective gradient, which shares no code with the module's HVP."""
    rng = np.random.default_rng(7)
    n, d, K, C = 400, 512, 100, 1.0
    x = rng.normal(size=(n, d)) / np.sqrt(d)
    y = rng.integers(0, K, n)
    xv, yv = rng.normal(size=(50, d)) / np.sqrt(d), rng.integers(0, K, 50)
    W, b = rng.normal(size=(K, d)) * 0.5, rng.normal(size=K) * 0.1  # any point: H is PD everywhere
    result = multinomial_influence_scores(x, y, xv, yv, W, b, C, cg_rtol=1e-8)
    assert result.scores.shape == (n,) and np.isfinite(result.scores).all()
    assert result.cg_relative_residual < 1e-7

    def grad_J(W_, b_):
        logits = x @ W_.T + b_
        p = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
        r = (p - np.eye(K)[y]) / n
        return np.concatenate([(r.T @ x + W_ / (C * n)).ravel(), r.sum(0)])

    s = result.inverse_hvp
    S, sb = s[: K * d].reshape(K, d), s[K * d :]
    eps = 1e-3 / np.abs(s).max()
    hs = (grad_J(W + eps * S, b + eps * sb) - grad_J(W - eps * S, b - eps * sb)) / (2 * eps)
    assert abs(sb.sum()) < 1e-8 * np.abs(s).max()  # orthogonal to the intercept's flat direction
    np.testing.assert_allclose(hs, result.val_grad, atol=1e-5 * np.abs(result.val_grad).max())


# --------------------------------------------------------------------------------------------------
# Bad input


@pytest.fixture
def good():
    rng = np.random.default_rng(8)
    x, y = binary_blobs(20, rng, d=3)
    xv, yv = binary_blobs(10, rng, d=3)
    return x, y, xv, yv


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: {**a, "x_train": a["x_train"][:, 0]}, "x_train must be 2-D"),
        (lambda a: {**a, "x_train": a["x_train"][:0]}, "at least one sample"),
        (lambda a: {**a, "y_train": a["y_train"][:-1]}, "y_train has 19 labels but the features have 20"),
        (lambda a: {**a, "y_train": a["y_train"][:, None]}, "y_train must be 1-D"),
        (lambda a: {**a, "y_train": np.where(np.arange(20) == 3, 2, a["y_train"])}, r"y_train must lie in \[0, 1\]"),
        (lambda a: {**a, "y_train": a["y_train"] * 0.5}, "integer class labels"),
        (lambda a: {**a, "y_val": -a["y_val"] - 1}, r"y_val must lie in \[0, 1\]"),
        (lambda a: {**a, "x_val": a["x_val"][:, :2]}, "x_val has 2 features but the training data has 3"),
        (lambda a: {**a, "x_train": np.where(np.arange(3) == 1, np.nan, a["x_train"])}, "NaN or infinite"),
        (lambda a: {**a, "y_train": np.ones(20, int)}, "single class"),
        (lambda a: {**a, "alpha": float("nan")}, "alpha must be a finite real number"),
        (lambda a: {**a, "alpha": "0.1"}, "alpha must be a finite real number"),
        (lambda a: {**a, "C": 0.0}, "C must be a finite positive number"),
    ],
)
def test_binary_bad_input_raises_value_error(good, change, message):
    x, y, xv, yv = good
    args = change({"x_train": x, "y_train": y, "x_val": xv, "y_val": yv, "alpha": 0.0, "C": 0.1})
    with pytest.raises(ValueError, match=message):
        binary_influence_relabel(**args)


def test_binary_scores_reject_a_coef_of_the_wrong_size(good):
    x, y, xv, yv = good
    with pytest.raises(ValueError, match="coef must have 3 entries"):
        binary_influence_scores(x, y, xv, yv, np.zeros(4))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: {**a, "labels": np.where(np.arange(20) == 0, 3, a["labels"])}, r"labels must lie in \[0, 2\]"),
        (lambda a: {**a, "val_labels": np.full(10, -1)}, r"val_labels must lie in \[0, 2\]"),
        (lambda a: {**a, "val_embeddings": a["val_embeddings"][:, :2]}, "val_embeddings has 2 features"),
        (lambda a: {**a, "labels": a["labels"][:5]}, "labels has 5 labels but the features have 20"),
        (lambda a: {**a, "embeddings": a["embeddings"][None]}, "embeddings must be 2-D"),
        (lambda a: {**a, "num_classes": 1}, "num_classes must be an integer ≥ 2"),
        (lambda a: {**a, "embeddings": sp.csr_matrix(a["embeddings"])}, "must be a dense array"),
    ],
)
def test_multinomial_bad_input_raises_value_error(good, change, message):
    x, y, xv, yv = good
    args = change(
        {"embeddings": x, "labels": y % 3, "val_embeddings": xv, "val_labels": yv, "alpha": 0.0, "num_classes": 3}
    )
    with pytest.raises(ValueError, match=message):
        multinomial_influence_relabel(**args)
