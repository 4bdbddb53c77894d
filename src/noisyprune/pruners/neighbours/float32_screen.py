"""Screen sample pairs in float32, decide the few near τ in float64: exact τ-neighbours at the
float32 matrix-product rate.

A pair ``(x, y)`` of float64 unit vectors is a τ-neighbour pair when its float64 similarity
``s64 = 0.5 + 0.5 · fl64(x · y)`` exceeds τ. Computing ``fl32(x32 · y32)`` instead (``x32`` the
float32 rounding of ``x``) errs by at most :func:`cosine_error_bound`, so every pair with
``s64 > τ`` has ``fl32(x32 · y32) > cos_τ − bound``: a float32 product that keeps the pairs above
that lowered threshold (:func:`screen_threshold`) misses none, and :func:`float64_similarity`
decides the survivors with the float64 arithmetic the exact engines always used.

The bound, for ``d``-dimensional rows with ``u32 = 2⁻²⁴``, ``u64 = 2⁻⁵³`` and
``γ_k(u) = k·u / (1 − k·u)`` (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1):

- rounding the inputs: ``|x32_k − x_k| ≤ u32·|x_k|``, so
  ``|x32 · y32 − x · y| ≤ ((1 + u32)² − 1) · Σ|x_k y_k| ≤ (2·u32 + u32²) · ‖x‖‖y‖``;
- the float32 dot product, in *any* summation order (blocked BLAS, FMA, GPU without TF32):
  ``|fl32(x32 · y32) − x32 · y32| ≤ γ_d(u32) · Σ|x32_k y32_k| ≤ γ_d(u32) · (1 + u32)² · ‖x‖‖y‖``;
- the float64 dot product the decision uses: ``|fl64(x · y) − x · y| ≤ γ_d(u64) · ‖x‖‖y‖``;
- the float64 rows are unit only up to their own normalisation error: ``‖x‖ ≤ 1 + (d + 3)·u64``;
- the rescaling ``0.5 + 0.5·c`` rounds once (``≤ u64`` in ``s``, ``2·u64`` in ``c``).

The sum, ≈ ``(d + 2) · 2⁻²⁴`` (3.1e-5 at d = 512), is widened by 1% and an absolute 1e-15 for the
terms of second order. It is a worst case: typical float32 errors are ~√d times smaller, so the
shortlist holds few pairs besides the true neighbours.
"""

from __future__ import annotations

import numpy as np

U32 = 2.0**-24
U64 = 2.0**-53


def _gamma(k: int, unit_roundoff: float) -> float:
    if k * unit_roundoff >= 1:
        raise ValueError(f"dimension {k} too large for a rounding-error bound at u = {unit_roundoff}")
    return k * unit_roundoff / (1 - k * unit_roundoff)


def cosine_error_bound(d: int) -> float:
    """Largest possible ``|fl32(x32 · y32) − fl64(x · y)|`` for float64 unit rows ``x, y`` of
    dimension ``d`` (unitless, cosine units), plus the rescaling's rounding; see the module docstring."""
    norm = (1 + (d + 3) * U64) ** 2  # ‖x‖‖y‖ of the float64 "unit" rows
    inputs = (2 * U32 + U32**2) * norm
    product32 = _gamma(d, U32) * (1 + U32) ** 2 * norm
    product64 = _gamma(d, U64) * norm
    return 1.01 * (inputs + product32 + product64 + 2 * U64) + 1e-15


def screen_threshold(tau: float, d: int) -> np.float32:
    """The float32 cosine threshold for the screen: every pair with float64 similarity ``> tau``
    has float32 cosine ``> screen_threshold(tau, d)``. Rounded down to a float32 (a comparison of a
    float32 array with a Python float would round the threshold to float32 to nearest, maybe up)."""
    threshold = (2.0 * tau - 1.0) - cosine_error_bound(d)
    as32 = np.float32(threshold)
    if float(as32) > threshold:
        as32 = np.nextafter(as32, np.float32(-np.inf))
    return as32


def one_slack(d: int) -> float:
    """How far the computed rescaled similarity ``0.5 + 0.5 · fl64(x · x)`` of a float64 "unit" row
    ``x`` of dimension ``d`` with itself (or with an identical row) can lie from 1: the row's norm
    error and the dot product's rounding (module docstring), halved by the rescaling, plus the
    rescaling's own rounding; doubled for safety (4e-15 at d = 24, 2.3e-13 at d = 2048)."""
    norm = (1 + (d + 3) * U64) ** 2 - 1
    return 2 * (0.5 * (norm + _gamma(d, U64) * (1 + norm)) + U64)


def snap_ones(similarity: np.ndarray, d: int) -> np.ndarray:
    """Set, in place, every rescaled similarity within :func:`one_slack` of 1 to exactly 1 and return
    the array. Two identical embeddings (a sample and itself, or duplicate samples) are similar by
    exactly 1, but each way of computing it (BLAS, einsum, torch on either device) rounds to its own
    last bit; Prune4ReL's gains of duplicates with equal confidence are then equal up to that bit,
    and the tie would go to whichever engine's noise is larger instead of to the lowest sample id."""
    similarity[similarity >= 1.0 - one_slack(d)] = 1.0
    return similarity


def float64_similarity(unit: np.ndarray, rows: np.ndarray, cols: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Rescaled similarity ``0.5 + 0.5 · (unit[rows] · unit[cols])`` of each listed pair, float64
    ``(m,)`` for index arrays ``rows, cols`` ``(m,)``; ``unit`` ``(n, d)`` float64 unit rows.

    One dot product per pair (gathering ``chunk`` pairs at a time bounds the temporary memory to
    ``2 · chunk · d`` float64): cheap when the float32 screen left few candidates.
    """
    out = np.empty(len(rows))
    for start in range(0, len(rows), chunk):
        stop = start + chunk
        out[start:stop] = np.einsum("ij,ij->i", unit[rows[start:stop]], unit[cols[start:stop]])
    return 0.5 + 0.5 * out
