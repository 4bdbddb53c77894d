"""A slow, obviously faithful dense Prune4ReL, used only to prove the fast engine right.

It follows the original ``k_neighbor_confidence_greedy`` of kaist-dmlab/Prune4Rel step by step
(cossim metric): every pick rescores *all* samples with ``tanh((N + c)/η) − tanh(N/η)``, masks
the selected ones with −1, takes the arg-max (first index on ties, like ``torch.argmax``), then
recomputes the cosine similarity of every sample to the pick from scratch, norms included, and
adds ``sim · [sim > τ] · c_p`` to ``N``. Balance ``equal`` is the original's round-robin loop;
``proportional`` closes a class once it holds its largest-remainder share. Everything in float64.

Also here: a brute-force greedy on the paper's objective and a generator of class-clustered
embeddings with planted structure, shared by the tests and ``benchmarks/prune4rel.py``.
"""

from __future__ import annotations

import numpy as np


def _largest_remainder(sizes: np.ndarray, budget: int) -> np.ndarray:
    exact = budget * sizes / sizes.sum()
    quotas = np.floor(exact).astype(int)
    for c in sorted(range(len(sizes)), key=lambda c: (-(exact[c] - quotas[c]), c))[: budget - quotas.sum()]:
        quotas[c] += 1
    return quotas


def reference_prune4rel(embedding, confidence, budget, tau, eta, labels=None, num_classes=None, balance="none"):
    """Return the selected indices in pick order (and the score of each pick)."""
    z = np.asarray(embedding, dtype=np.float64)
    conf = np.asarray(confidence, dtype=np.float64)
    n = len(z)
    nn_conf = np.zeros(n)
    selected = np.zeros(n, dtype=bool)
    closed = np.zeros(n, dtype=bool)
    picks, scores = [], []
    if balance != "none":
        class_idxs = [np.flatnonzero(labels == c) for c in range(num_classes)]
        num_per_class = [len(idx) for idx in class_idxs]
        init_num_per_class = list(num_per_class)
        available = list(range(num_classes))
        quotas = _largest_remainder(np.array(num_per_class), budget)
        taken = [0] * num_classes
    balance_break = False
    min_balance = None
    for i in range(budget):
        score = np.tanh((nn_conf + conf) / eta) - np.tanh(nn_conf / eta)
        score[selected] = -1
        score[closed & ~selected] = -np.inf
        if balance in ("none", "proportional") or balance_break:
            p = int(np.argmax(score))
        else:
            target = available[i % len(available)]
            while num_per_class[target] == 0:
                if len(available) == num_classes:
                    min_balance = init_num_per_class[target]
                available = [c for c in available if c != target]
                target = available[i % len(available)]
                if init_num_per_class[target] - num_per_class[target] > 1.5 * min_balance:
                    balance_break = True
            p = int(class_idxs[target][np.argmax(score[class_idxs[target]])])
            num_per_class[target] -= 1
        picks.append(p)
        scores.append(score[p])
        selected[p] = True
        if balance == "proportional":
            label = labels[p]
            taken[label] += 1
            if taken[label] == quotas[label]:
                closed[class_idxs[label]] = True
        if i == budget - 1:
            break
        cos = (z @ z[p]) / (np.linalg.norm(z, axis=1) * np.linalg.norm(z[p]))
        sim = 0.5 + 0.5 * cos
        nn_conf += sim * (sim > tau) * conf[p]
    return np.array(picks), np.array(scores)


def similarity_matrix(embedding, tau):
    """Dense ``W[x, i] = sim(x, i) · [sim(x, i) > τ]`` with ``sim = 0.5 + 0.5 cos``."""
    z = np.asarray(embedding, dtype=np.float64)
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    sim = 0.5 + 0.5 * (z @ z.T)
    return sim * (sim > tau)


def brute_force_neighborhood_greedy(embedding, confidence, budget, tau, eta):
    """Greedy on F(S) = Σ_x tanh(N_x/η) evaluating every candidate's full marginal gain each step."""
    weights = similarity_matrix(embedding, tau)
    conf = np.asarray(confidence, dtype=np.float64)
    n = len(conf)
    nn_conf = np.zeros(n)
    selected = np.zeros(n, dtype=bool)
    picks = []
    for _ in range(budget):
        after = np.tanh((nn_conf[:, None] + weights * conf[None, :]) / eta)  # [x, candidate]
        gains = (after - np.tanh(nn_conf / eta)[:, None]).sum(axis=0)
        gains[selected] = -np.inf
        p = int(np.argmax(gains))
        picks.append(p)
        selected[p] = True
        nn_conf += weights[:, p] * conf[p]
    return np.array(picks)


def objective(picks, embedding, confidence, tau, eta):
    """F(S) = Σ_x tanh(N_x/η) computed densely."""
    weights = similarity_matrix(embedding, tau)
    nn_conf = weights[:, picks] @ np.asarray(confidence, dtype=np.float64)[picks]
    return float(np.tanh(nn_conf / eta).sum())


def clustered_embeddings(n, d, classes, seed=0, modes=8, intrinsic=8, mode_spread=0.6, spread=0.12, noise=0.04):
    """Synthetic warm-up features: ``n`` embeddings ``(n, d)`` float32 in ``classes`` classes, each
    class a mixture of ``modes`` low-dimensional blobs around a class direction, plus noisy labels
    (20% flipped) and confidences in (0, 1] rounded to 1e-3 so that ties occur, as with saturated
    float32 softmax outputs. Returns ``(embedding, confidence, noisy_label)``.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    centres = rng.normal(size=(classes, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    mode_dirs = rng.normal(size=(classes, modes, d)) / np.sqrt(d)
    mode = rng.integers(0, modes, n)
    bases = rng.normal(size=(classes, intrinsic, d)) / np.sqrt(d)
    embedding = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, 65536):
        rows = slice(start, min(n, start + 65536))
        lab, mod = labels[rows], mode[rows]
        latent = rng.normal(size=(len(lab), intrinsic))
        low_rank = np.empty((len(lab), d))
        for c in np.unique(lab):  # per class: no (n, intrinsic, d) temporary
            members = lab == c
            low_rank[members] = latent[members] @ bases[c]
        embedding[rows] = (
            centres[lab]
            + mode_spread * mode_dirs[lab, mod]
            + spread * low_rank
            + noise * rng.normal(size=(len(lab), d)) / np.sqrt(d)
        )
    confidence = np.round(rng.beta(4.0, 1.0, n), 3)
    noisy = labels.copy()
    flip = rng.random(n) < 0.2
    noisy[flip] = (labels[flip] + rng.integers(1, classes, flip.sum())) % classes
    return embedding, np.clip(confidence, 1e-3, 1.0), noisy


def unstructured_embeddings(n, d, classes, seed=0, duplicate_share=0.1, max_spread=0.5):
    """Synthetic features without natural groups: ``n`` embeddings ``(n, d)`` float32, i.i.d.
    Gaussian directions (pairwise cosines ~ N(0, 1/d): no τ-neighbours at τ ≥ 0.6 in d = 512) of
    which a ``duplicate_share`` are near-duplicates of an earlier sample, ``x + σ·g/√d`` with
    ``σ ~ U(0, max_spread)`` (cosine ≈ 1/√(1 + σ²), so some land above τ = 0.975 and some below):
    sparse τ-neighbourhoods that no clustering can prune. Labels are uniform over ``classes`` (a
    duplicate keeps its original's), 20% flipped; confidences as in :func:`clustered_embeddings`.
    Returns ``(embedding, confidence, noisy_label)``."""
    rng = np.random.default_rng(seed)
    embedding = rng.standard_normal((n, d), dtype=np.float32)
    labels = rng.integers(0, classes, n)
    duplicates = np.flatnonzero(rng.random(n) < duplicate_share)
    duplicates = duplicates[duplicates > 0]
    originals = (rng.random(len(duplicates)) * duplicates).astype(np.int64)  # an earlier sample
    spread = rng.uniform(0, max_spread, len(duplicates)).astype(np.float32)
    norms = np.linalg.norm(embedding[originals], axis=1) / np.sqrt(d)
    noise = rng.standard_normal((len(duplicates), d), dtype=np.float32)
    embedding[duplicates] = embedding[originals] + (spread * norms)[:, None] * noise
    labels[duplicates] = labels[originals]
    confidence = np.round(rng.beta(4.0, 1.0, n), 3)
    noisy = labels.copy()
    flip = rng.random(n) < 0.2
    noisy[flip] = (labels[flip] + rng.integers(1, classes, flip.sum())) % classes
    return embedding, np.clip(confidence, 1e-3, 1.0), noisy
