"""Instance-dependent label noise: the generator of Xia et al. (NeurIPS 2020), used for SOP's
instance-dependent results.

Each sample i draws its own flip rate ``q_i`` from a normal distribution with mean ``rate`` and
standard deviation ``std`` truncated to [0, 1]. Each class c has a random projection
``W_c ∈ R^{d×C}`` (standard normal); the sample's wrong classes get probabilities
``q_i · softmax(x_i W_{y_i})`` over the other classes (its own class masked out), its own class
``1 − q_i``, and the noisy label is drawn from that distribution. Which wrong class a sample gets
therefore depends on its input ``x_i`` (the flattened, normalised image), not only on its class.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from noisyprune.params import declare, param

SCORE_CHUNK = 65536  # training inputs scored at a time


@declare(
    param("rate", "In [0, 1]: the mean per-sample flip probability.", type="number", minimum=0, maximum=1),
    param(
        "std",
        (
            "Standard deviation of the per-sample flip rates. The generator of Xia et al. (2020): each sample's flip "
            "rate is drawn from N(`rate`, `std`²) truncated to [0, 1], and its wrong label from a softmax over a "
            "random per-class projection of its input, so which wrong class it gets depends on the image. Truncation "
            "pulls the realised rate inwards near 0 and 1 (`rate: 0` still flips ~8%)."
        ),
        type="number",
        exclusiveMinimum=0,
    ),
)
def instance_dependent_noise(
    clean: np.ndarray, num_classes: int, rng: np.random.Generator, rate: float, data, std: float = 0.1
) -> np.ndarray:
    """Return noisy labels ``(n,)`` for ``clean`` drawn from the instance-dependent model above.

    ``rate`` is the mean of the normal before truncation: the realised rate is close to it away from
    0 and 1, but truncation pulls it inwards near the ends (``rate: 0`` still flips about
    ``std·√(2/π)`` ≈ 8% with the default std, as in the original generator; use ``kind: none`` for
    clean labels). ``data.train_x`` gives the inputs. Deterministic given ``rng``.
    """
    n = len(clean)
    dimension = int(np.prod(data.train_x.shape[1:]))
    flip_rate = stats.truncnorm((0 - rate) / std, (1 - rate) / std, loc=rate, scale=std).rvs(n, random_state=rng)
    projections = rng.standard_normal((num_classes, dimension, num_classes)).astype(np.float32)
    scores = np.empty((n, num_classes), dtype=np.float64)
    # Inputs are read SCORE_CHUNK rows at a time, so a streamed image set is never in memory whole;
    # sets up to that size (CIFAR, the MNIST family) are one product per class, as before.
    for start in range(0, n, SCORE_CHUNK):
        stop = min(start + SCORE_CHUNK, n)
        features = np.asarray(data.train_x[start:stop], dtype=np.float32).reshape(stop - start, -1)
        for c in range(num_classes):  # one (n_c, d) × (d, C) product per class, never an (n, d, C) tensor
            members = clean[start:stop] == c
            scores[start:stop][members] = features[members] @ projections[c]
    scores[np.arange(n), clean] = -np.inf
    scores -= scores.max(axis=1, keepdims=True)
    probabilities = np.exp(scores)
    probabilities *= (flip_rate / probabilities.sum(axis=1))[:, None]
    probabilities[np.arange(n), clean] = 1.0 - flip_rate
    cumulative = np.cumsum(probabilities, axis=1)
    draws = rng.random(n) * cumulative[:, -1]
    return np.minimum((cumulative < draws[:, None]).sum(axis=1), num_classes - 1).astype(np.int64)
