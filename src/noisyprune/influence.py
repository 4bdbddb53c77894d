"""Influence-based relabeling (RDIA; Kong, Shen & Huang, "Resolving Training Biases via
Influence-based Data Relabeling", ICLR 2022) for logistic models on fixed features.

The recipe, for a convex model fitted on noisy labels and a clean validation set:

1. fit θ̂ on the (noisy) training labels;
2. g = ∇θ L_va(θ̂), the gradient of the *unregularised* mean validation loss;
3. s = H⁻¹ g, with H the Hessian of the regularised training objective at θ̂, solved by
   preconditioned conjugate gradient on Hessian-vector products (H is never formed);
4. φ_i = −∇θ ℓ_i(θ̂)ᵀ s, the Koh & Liang (2017) "up-weighting" influence of training sample i on
   the validation loss: φ_i > 0 means that giving sample i more weight *raises* the validation
   loss, i.e. the sample is harmful;
5. the harmful set R = {i : φ_i > α} is relabelled (binary: y → 1 − y; multinomial: y → the
   model's argmax prediction) and the model is refitted on the relabelled data.

Scale of the scores and of α (one convention for both functions)
-----------------------------------------------------------------
Both models are written as the *mean* regularised objective

    J(θ) = (1/n) Σ_i ℓ_i(θ) + ‖W‖² / (2·C·n),

which is scikit-learn's objective ``½‖W‖² + C·Σ_i ℓ_i`` divided by C·n: same minimiser, same
meaning of ``C`` (inverse regularisation strength of the *summed* loss), but a Hessian, gradients
and scores that are averages rather than sums. The validation loss L_va is the mean log-loss
(nats) over the validation set. The score is

    φ_i = d L_va(θ̂_ε) / dε at ε = 0,   θ̂_ε = argmin_θ J(θ) + ε·ℓ_i(θ),

i.e. the change of the mean validation log-loss per unit of *training-set mass* moved onto sample
i. Adding one more copy of sample i is ε ≈ 1/n, so φ_i / n ≈ the validation-loss change in nats
from that copy, and removing it changes L_va by ≈ −φ_i / n. Because both losses are means, φ does
not grow with the number of training or validation samples, so one α is meaningful across dataset
sizes (it still depends on the feature scale and on C, like any gradient-based quantity).

The original code (Viperccc/RDIA) uses summed, C-scaled gradients; its scores equal
φ · C · m / n (m validation samples), so its α (default 2e-4) converts with
:func:`alpha_from_original_rdia`.
"""

from __future__ import annotations

import inspect
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.sparse.linalg import LinearOperator, cg
from scipy.special import expit, logsumexp

__all__ = [
    "InfluenceRelabelResult",
    "InfluenceScores",
    "alpha_from_original_rdia",
    "binary_influence_relabel",
    "binary_influence_scores",
    "fit_multinomial_head",
    "multinomial_influence_relabel",
    "multinomial_influence_scores",
]


# --------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class InfluenceScores:
    """Per-sample influence of the training samples on the mean validation loss.

    ``scores`` (n,): φ_i in the up-weighting convention of the module docstring (> 0 = harmful);
    ``inverse_hvp`` (p,): s = H⁻¹ g, p the number of parameters (binary: d; multinomial:
    K·d (+ K with an intercept), laid out as ``W.ravel()`` (row-major K×d) followed by the intercept);
    ``val_grad`` (p,): g = ∇θ L_va(θ̂), same layout; ``cg_iterations``: conjugate-gradient iterations;
    ``cg_relative_residual``: ‖H s − g‖ / ‖g‖ (0 when g = 0).
    """

    scores: np.ndarray
    inverse_hvp: np.ndarray
    val_grad: np.ndarray
    cg_iterations: int
    cg_relative_residual: float


@dataclass(frozen=True)
class InfluenceRelabelResult:
    """Outcome of one RDIA pass.

    ``scores`` (n,) float: φ_i (> 0 = harmful); ``relabel_mask`` (n,) bool: R = {φ_i > α};
    ``new_labels`` (n,) int: the labels after relabeling (equal to the input outside R; in the
    multinomial case a sample in R whose predicted class already equals its label keeps it);
    ``val_loss_before`` / ``val_loss_after``: mean validation log-loss in nats of the model fitted on
    the input labels / on ``new_labels``; ``val_accuracy_before`` / ``val_accuracy_after``: their
    validation accuracy in [0, 1]; ``coef_before`` / ``coef_after``: the fitted weights (binary (d,),
    multinomial (K, d)); ``intercept_before`` / ``intercept_after``: (K,) or None; ``alpha``: the
    threshold used; ``cg_iterations`` / ``cg_relative_residual``: see :class:`InfluenceScores`.
    """

    scores: np.ndarray
    relabel_mask: np.ndarray
    new_labels: np.ndarray
    val_loss_before: float
    val_loss_after: float
    val_accuracy_before: float
    val_accuracy_after: float
    coef_before: np.ndarray
    coef_after: np.ndarray
    intercept_before: np.ndarray | None
    intercept_after: np.ndarray | None
    alpha: float
    cg_iterations: int
    cg_relative_residual: float

    @property
    def n_relabelled(self) -> int:
        """|R|, the number of samples selected as harmful (φ_i > α)."""
        return int(self.relabel_mask.sum())


def alpha_from_original_rdia(alpha: float, n_train: int, n_val: int, C: float) -> float:
    """Convert a threshold of the original RDIA code into this module's α.

    The original scores are −C·∇ℓ_iᵀ (I + C·XᵀDX)⁻¹ (C·Σ_val ∇ℓ_j), which equal φ·C·m/n here
    (n training, m validation samples, C as in scikit-learn), so α_here = α_orig · n / (C·m).
    Dimensionless in, nats per unit of training-set mass out.
    """
    if n_train <= 0 or n_val <= 0 or not C > 0:
        raise ValueError(f"need n_train > 0, n_val > 0 and C > 0, got {n_train}, {n_val}, {C}")
    return float(alpha) * n_train / (C * n_val)


# --------------------------------------------------------------------------------------------------
# Input checks: every public function validates what it is given and names the argument at fault.


def _features(name: str, x, *, allow_sparse: bool) -> np.ndarray | sp.csr_matrix:
    if sp.issparse(x):
        if not allow_sparse:
            raise ValueError(f"{name} must be a dense array, got a scipy sparse matrix")
        x = sp.csr_matrix(x, dtype=np.float64)
        data = x.data
    else:
        try:
            x = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be a numeric array: {exc}") from None
        data = x
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples × features), got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must have at least one sample and one feature, got shape {x.shape}")
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _labels(name: str, y, n: int, num_classes: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {y.shape}")
    if y.shape[0] != n:
        raise ValueError(f"{name} has {y.shape[0]} labels but the features have {n} rows")
    if y.dtype == bool:
        y = y.astype(np.int64)
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise ValueError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if np.issubdtype(y.dtype, np.floating) and not np.all(np.isfinite(y) & (y == np.round(y))):
        raise ValueError(f"{name} must hold integer class labels, got non-integer values")
    y = y.astype(np.int64)
    bad = (y < 0) | (y >= num_classes)
    if bad.any():
        raise ValueError(f"{name} must lie in [0, {num_classes - 1}], got {np.unique(y[bad])[:5].tolist()}")
    return y


def _same_width(name: str, x, d: int) -> None:
    if x.shape[1] != d:
        raise ValueError(f"{name} has {x.shape[1]} features but the training data has {d}")


def _threshold(alpha) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not np.isfinite(alpha):
        raise ValueError(f"alpha must be a finite real number, got {alpha!r}")
    return float(alpha)


def _strength(C) -> float:
    if isinstance(C, bool) or not isinstance(C, numbers.Real) or not (np.isfinite(C) and C > 0):
        raise ValueError(f"C must be a finite positive number, got {C!r}")
    return float(C)


# --------------------------------------------------------------------------------------------------
# Conjugate gradient on a Hessian-vector product


_CG_TOL_KEYWORD = "rtol" if "rtol" in inspect.signature(cg).parameters else "tol"  # scipy < 1.12 says tol


def _solve_hvp(hvp, rhs: np.ndarray, diag: np.ndarray, rtol: float, maxiter: int) -> tuple[np.ndarray, int, float]:
    """s with hvp(s) ≈ rhs by Jacobi-preconditioned CG; returns (s, iterations, ‖H s − rhs‖/‖rhs‖).

    H is symmetric positive definite here (the L2 term makes it so), which is what CG needs; the
    Jacobi preconditioner evens out the very different feature scales and costs one pass over X.
    """
    norm = float(np.linalg.norm(rhs))
    if norm == 0.0:
        return np.zeros_like(rhs), 0, 0.0
    p = rhs.shape[0]
    operator = LinearOperator((p, p), matvec=hvp, dtype=np.float64)
    preconditioner = LinearOperator((p, p), matvec=lambda v: v / diag, dtype=np.float64)
    iterations = 0

    def count(_):
        nonlocal iterations
        iterations += 1

    solution, _ = cg(operator, rhs, M=preconditioner, maxiter=maxiter, callback=count, **{_CG_TOL_KEYWORD: rtol})
    residual = float(np.linalg.norm(hvp(solution) - rhs)) / norm
    if residual > max(10 * rtol, 1e-4):
        warnings.warn(
            f"conjugate gradient stopped after {iterations} iterations with relative residual "
            f"{residual:.2e} (target {rtol:.0e}); influence scores are approximate — raise "
            f"cg_maxiter or C's regularisation",
            RuntimeWarning,
            stacklevel=3,
        )
    return solution, iterations, residual


# --------------------------------------------------------------------------------------------------
# Binary logistic regression (no intercept), as in the original RDIA code


def _binary_log_loss(z: np.ndarray, y: np.ndarray) -> float:
    # −[y log σ(z) + (1−y) log(1−σ(z))] = log(1 + e^z) − y z, computed without overflow
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def _fit_binary(x, y: np.ndarray, C: float, tol: float, max_iter: int) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    if np.unique(y).size < 2:
        raise ValueError(
            "the training labels contain a single class; logistic regression needs both 0 and 1 "
            "(after relabeling: lower the number of flips, i.e. raise alpha)"
        )
    model = LogisticRegression(C=C, fit_intercept=False, solver="liblinear", tol=tol, max_iter=max_iter)
    model.fit(x, y)
    return model.coef_.ravel().astype(np.float64)


def _binary_inputs(x_train, y_train, x_val, y_val):
    """The binary problem's arrays, checked: features (dense or sparse) of equal width, labels in {0, 1}."""
    x_train = _features("x_train", x_train, allow_sparse=True)
    y_train = _labels("y_train", y_train, x_train.shape[0], 2)
    x_val = _features("x_val", x_val, allow_sparse=True)
    _same_width("x_val", x_val, x_train.shape[1])
    y_val = _labels("y_val", y_val, x_val.shape[0], 2)
    return x_train, y_train, x_val, y_val


def binary_influence_scores(
    x_train, y_train, x_val, y_val, coef, C: float = 0.1, *, cg_rtol: float = 1e-8, cg_maxiter: int = 1000
) -> InfluenceScores:
    """Up-weighting influence of each training sample on the mean validation log-loss, for a
    no-intercept binary logistic regression with weights ``coef`` (fitted on ``y_train`` with this C).

    ``x_train`` (n, d) dense or scipy sparse, ``y_train`` (n,) in {0, 1}, ``x_val`` (m, d),
    ``y_val`` (m,) in {0, 1}, ``coef`` (d,). Returns :class:`InfluenceScores` with scores (n,) in the
    module's convention (nats per unit of training mass; > 0 = harmful), s and g of shape (d,).
    The Hessian (1/n)·Xᵀ diag(p(1−p)) X + I/(C·n) is applied as products, never formed.
    """
    C = _strength(C)
    x_train, y_train, x_val, y_val = _binary_inputs(x_train, y_train, x_val, y_val)
    n, d = x_train.shape
    coef = np.asarray(coef, dtype=np.float64).ravel()
    if coef.shape != (d,):
        raise ValueError(f"coef must have {d} entries (one per feature), got shape {coef.shape}")

    p_train = expit(x_train @ coef)
    p_val = expit(x_val @ coef)
    curvature = p_train * (1.0 - p_train)  # d²ℓ/dz² of the log-loss
    ridge = 1.0 / (C * n)

    def hvp(v):
        return x_train.T @ (curvature * (x_train @ v)) / n + ridge * v

    if sp.issparse(x_train):
        diag = np.asarray(x_train.multiply(x_train).T @ curvature).ravel() / n + ridge
    else:
        diag = (x_train**2).T @ curvature / n + ridge
    # mean validation log-loss, no L2: the quantity RDIA wants to lower
    val_grad = np.asarray(x_val.T @ (p_val - y_val)).ravel() / x_val.shape[0]
    s, iterations, residual = _solve_hvp(hvp, val_grad, diag, cg_rtol, cg_maxiter)
    # ∇ℓ_i = (p_i − y_i) x_i, so φ_i = −(p_i − y_i)·x_iᵀs without forming per-sample gradients
    scores = -(p_train - y_train) * np.asarray(x_train @ s).ravel()
    return InfluenceScores(scores, s, val_grad, iterations, residual)


def binary_influence_relabel(
    x_train,
    y_train,
    x_val,
    y_val,
    alpha: float,
    C: float = 0.1,
    *,
    tol: float = 1e-7,
    max_iter: int = 1000,
    cg_rtol: float = 1e-8,
    cg_maxiter: int = 1000,
) -> InfluenceRelabelResult:
    """RDIA for binary logistic regression: flip the labels of harmful training samples and refit.

    ``x_train`` (n, d) dense or scipy sparse features, ``y_train`` (n,) noisy labels in {0, 1},
    ``x_val`` (m, d) / ``y_val`` (m,) a clean validation set, ``alpha`` the threshold on φ (module
    docstring: mean validation nats per unit of training mass; 0 = flip every sample whose
    up-weighting would hurt), ``C`` scikit-learn's inverse regularisation strength (the original's
    0.1). The model is ``LogisticRegression(C, fit_intercept=False, solver="liblinear", tol,
    max_iter)``; features should be standardised. Returns :class:`InfluenceRelabelResult` with
    ``new_labels`` = y with R = {φ > α} flipped (1 − y). Raises ValueError on malformed input or when
    the labels (before or after relabeling) hold a single class.
    """
    alpha = _threshold(alpha)
    C = _strength(C)
    x_train, y_train, x_val, y_val = _binary_inputs(x_train, y_train, x_val, y_val)
    _n, _d = x_train.shape

    coef = _fit_binary(x_train, y_train, C, tol, max_iter)
    influence = binary_influence_scores(x_train, y_train, x_val, y_val, coef, C, cg_rtol=cg_rtol, cg_maxiter=cg_maxiter)
    mask = influence.scores > alpha
    new_labels = np.where(mask, 1 - y_train, y_train)
    coef_after = _fit_binary(x_train, new_labels, C, tol, max_iter)

    z_before, z_after = np.asarray(x_val @ coef).ravel(), np.asarray(x_val @ coef_after).ravel()
    # scikit-learn predicts class 1 only for a strictly positive decision value
    return InfluenceRelabelResult(
        scores=influence.scores,
        relabel_mask=mask,
        new_labels=new_labels,
        val_loss_before=_binary_log_loss(z_before, y_val),
        val_loss_after=_binary_log_loss(z_after, y_val),
        val_accuracy_before=float(np.mean((z_before > 0) == y_val)),
        val_accuracy_after=float(np.mean((z_after > 0) == y_val)),
        coef_before=coef,
        coef_after=coef_after,
        intercept_before=None,
        intercept_after=None,
        alpha=alpha,
        cg_iterations=influence.cg_iterations,
        cg_relative_residual=influence.cg_relative_residual,
    )


# --------------------------------------------------------------------------------------------------
# Multinomial logistic head on frozen embeddings


def _unpack(theta: np.ndarray, K: int, d: int, fit_intercept: bool) -> tuple[np.ndarray, np.ndarray]:
    W = theta[: K * d].reshape(K, d)
    b = theta[K * d :] if fit_intercept else np.zeros(K)
    return W, b


def _softmax_loss(logits: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample cross-entropy (n,) in nats and probabilities (n, K)."""
    log_norm = logsumexp(logits, axis=1)
    probs = np.exp(logits - log_norm[:, None])
    return log_norm - logits[np.arange(y.shape[0]), y], probs


def _num_classes(num_classes, *label_arrays) -> int:
    if num_classes is None:
        top = [int(np.max(np.asarray(y))) for y in label_arrays if np.asarray(y).size]
        num_classes = max(top) + 1 if top else 0
    if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 2:
        raise ValueError(f"num_classes must be an integer ≥ 2, got {num_classes!r}")
    return int(num_classes)


def fit_multinomial_head(
    embeddings,
    labels,
    num_classes: int | None = None,
    C: float = 1.0,
    *,
    fit_intercept: bool = True,
    sample_weight=None,
    tol: float = 1e-10,
    max_iter: int = 5000,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Fit a softmax (multinomial logistic) head by minimising
    (1/n)·Σ_i w_i·CE_i + ‖W‖²/(2·C·n) with L-BFGS (the intercept is not penalised).

    ``embeddings`` (n, d), ``labels`` (n,) in [0, K), ``num_classes`` K (default: max label + 1),
    ``sample_weight`` (n,) non-negative (default ones). Returns (W (K, d), b (K,) or None). Written
    here instead of using scikit-learn so that the objective is exactly the one whose Hessian the
    influence uses, every one of the K classes gets a row even when absent from ``labels``, and K = 2
    stays a 2-row softmax.
    """
    C = _strength(C)
    x = _features("embeddings", embeddings, allow_sparse=False)
    n, d = x.shape
    K = _num_classes(num_classes, labels)
    y = _labels("labels", labels, n, K)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,) or not np.all(np.isfinite(w) & (w >= 0)):
        raise ValueError(f"sample_weight must be {n} finite non-negative numbers, got shape {w.shape}")
    ridge = 1.0 / (C * n)
    onehot = np.eye(K)[y]

    def objective(theta):
        W, b = _unpack(theta, K, d, fit_intercept)
        loss, probs = _softmax_loss(x @ W.T + b, y)
        residual = w[:, None] * (probs - onehot) / n  # ∂J/∂logits
        grad_W = residual.T @ x + ridge * W
        grad = np.concatenate([grad_W.ravel(), residual.sum(0)]) if fit_intercept else grad_W.ravel()
        return float(w @ loss / n + 0.5 * ridge * np.sum(W * W)), grad

    theta0 = np.zeros(K * d + (K if fit_intercept else 0))
    result = minimize(
        objective,
        theta0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "gtol": tol, "ftol": 1e-15, "maxcor": 20},
    )
    W, b = _unpack(result.x, K, d, fit_intercept)
    return W.copy(), (b.copy() if fit_intercept else None)


def multinomial_influence_scores(
    embeddings,
    labels,
    val_embeddings,
    val_labels,
    coef,
    intercept=None,
    C: float = 1.0,
    *,
    cg_rtol: float = 1e-8,
    cg_maxiter: int = 1000,
) -> InfluenceScores:
    """Up-weighting influence of each training sample on the mean validation cross-entropy, for a
    softmax head with weights ``coef`` (K, d) and optional ``intercept`` (K,) fitted with this C.

    ``embeddings`` (n, d), ``labels`` (n,) in [0, K), ``val_embeddings`` (m, d), ``val_labels``
    (m,). Returns :class:`InfluenceScores`: scores (n,) (> 0 = harmful), s and g of length K·d (+K).
    The (K·d)×(K·d) Hessian is applied as products in O(n·K·d) time and memory O(n·K + K·d).
    """
    C = _strength(C)
    W = np.asarray(coef, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] < 2:
        raise ValueError(f"coef must be a (num_classes ≥ 2, d) matrix, got shape {W.shape}")
    K, d = W.shape
    x = _features("embeddings", embeddings, allow_sparse=False)
    n = x.shape[0]
    _same_width("embeddings", x, d)
    y = _labels("labels", labels, n, K)
    xv = _features("val_embeddings", val_embeddings, allow_sparse=False)
    _same_width("val_embeddings", xv, d)
    yv = _labels("val_labels", val_labels, xv.shape[0], K)
    fit_intercept = intercept is not None
    b = np.zeros(K) if intercept is None else np.asarray(intercept, dtype=np.float64).ravel()
    if b.shape != (K,):
        raise ValueError(f"intercept must have {K} entries, got shape {b.shape}")

    _, probs = _softmax_loss(x @ W.T + b, y)
    _, probs_val = _softmax_loss(xv @ W.T + b, yv)
    ridge = 1.0 / (C * n)
    eye = np.eye(K)

    def hvp(v):
        V, vb = _unpack(v, K, d, fit_intercept)
        z = x @ V.T + vb  # directional change of the logits, (n, K)
        # softmax Jacobian (diag(p) − p pᵀ) applied row by row
        a = probs * (z - np.sum(probs * z, axis=1, keepdims=True)) / n
        out_W = a.T @ x + ridge * V
        if not fit_intercept:
            return out_W.ravel()
        # The unpenalised intercept leaves one flat direction (adding c to every b_k changes no
        # probability). Adding the projector onto it makes the operator positive definite without
        # changing the solution: g and every ∇ℓ_i are orthogonal to that direction.
        return np.concatenate([out_W.ravel(), a.sum(0) + vb.mean()])

    curvature = probs * (1.0 - probs)
    diag = (curvature.T @ (x * x) / n + ridge).ravel()
    if fit_intercept:
        diag = np.concatenate([diag, curvature.sum(0) / n + 1.0 / K])

    residual_val = (probs_val - eye[yv]) / xv.shape[0]
    val_grad = (residual_val.T @ xv).ravel()
    if fit_intercept:
        val_grad = np.concatenate([val_grad, residual_val.sum(0)])
    s, iterations, residual = _solve_hvp(hvp, val_grad, diag, cg_rtol, cg_maxiter)
    S, sb = _unpack(s, K, d, fit_intercept)
    # ∇ℓ_i = (p_i − e_{y_i}) ⊗ x_i (and p_i − e_{y_i} for b): φ_i = −(p_i − e_{y_i})ᵀ (S x_i + s_b)
    scores = -np.sum((probs - eye[y]) * (x @ S.T + sb), axis=1)
    return InfluenceScores(scores, s, val_grad, iterations, residual)


RELABEL_TARGETS = ("prediction", "other_class")


def multinomial_influence_relabel(
    embeddings,
    labels,
    val_embeddings,
    val_labels,
    alpha: float,
    C: float = 1.0,
    num_classes: int | None = None,
    *,
    fit_intercept: bool = True,
    tol: float = 1e-10,
    max_iter: int = 5000,
    cg_rtol: float = 1e-8,
    cg_maxiter: int = 1000,
    relabel_to: str = "prediction",
) -> InfluenceRelabelResult:
    """RDIA for a multinomial logistic head on frozen embeddings: relabel harmful samples and refit.

    ``embeddings`` (n, d) and ``labels`` (n,) in [0, K) the noisy training set, ``val_embeddings``
    (m, d) / ``val_labels`` (m,) a clean validation set, ``alpha`` the threshold on φ (module
    docstring convention), ``C`` the inverse regularisation strength of the summed loss (as in
    scikit-learn), ``num_classes`` K (default: largest label in either set + 1). The head
    (:func:`fit_multinomial_head`) has W (K, d) and, with ``fit_intercept``, an unpenalised b (K,).
    Samples with φ_i > α get, from the head fitted on the input labels, ``relabel_to``:
    ``prediction`` argmax_k p_k(x_i) (unchanged where the head agrees with the label), or
    ``other_class`` the most probable class other than the given label (for two classes the
    original's flip y ← 1 − y). Returns :class:`InfluenceRelabelResult`; losses are mean
    cross-entropies in nats.
    """
    if relabel_to not in RELABEL_TARGETS:
        raise ValueError(f"relabel_to must be one of {RELABEL_TARGETS}, got {relabel_to!r}")
    alpha = _threshold(alpha)
    C = _strength(C)
    x = _features("embeddings", embeddings, allow_sparse=False)
    n, d = x.shape
    xv = _features("val_embeddings", val_embeddings, allow_sparse=False)
    _same_width("val_embeddings", xv, d)
    for name, y in (("labels", labels), ("val_labels", val_labels)):
        if np.asarray(y).ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {np.asarray(y).shape}")
    K = _num_classes(num_classes, labels, val_labels)
    y = _labels("labels", labels, n, K)
    yv = _labels("val_labels", val_labels, xv.shape[0], K)

    fit = {"C": C, "fit_intercept": fit_intercept, "tol": tol, "max_iter": max_iter}
    W, b = fit_multinomial_head(x, y, K, **fit)
    influence = multinomial_influence_scores(x, y, xv, yv, W, b, C, cg_rtol=cg_rtol, cg_maxiter=cg_maxiter)
    mask = influence.scores > alpha
    logits = x @ W.T + (0.0 if b is None else b)
    if relabel_to == "other_class":
        logits = np.where(np.arange(K)[None, :] == y[:, None], -np.inf, logits)
    new_labels = np.where(mask, np.argmax(logits, axis=1), y)
    W_after, b_after = fit_multinomial_head(x, new_labels, K, **fit)

    def evaluate(W_, b_):
        logits = xv @ W_.T + (0.0 if b_ is None else b_)
        loss, _ = _softmax_loss(logits, yv)
        return float(loss.mean()), float(np.mean(np.argmax(logits, axis=1) == yv))

    (loss_before, acc_before), (loss_after, acc_after) = evaluate(W, b), evaluate(W_after, b_after)
    return InfluenceRelabelResult(
        scores=influence.scores,
        relabel_mask=mask,
        new_labels=new_labels,
        val_loss_before=loss_before,
        val_loss_after=loss_after,
        val_accuracy_before=acc_before,
        val_accuracy_after=acc_after,
        coef_before=W,
        coef_after=W_after,
        intercept_before=b,
        intercept_after=b_after,
        alpha=alpha,
        cg_iterations=influence.cg_iterations,
        cg_relative_residual=influence.cg_relative_residual,
    )
