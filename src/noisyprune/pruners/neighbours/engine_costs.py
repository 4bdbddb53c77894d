"""How long each exact way to the τ-graph will take here, from rates measured on this machine.

:func:`machine_rates` times a few small kernels once (~0.5 s) and caches the result per machine in
the user cache directory (``$XDG_CACHE_HOME/noisyprune`` or ``~/.cache/noisyprune``). The rates only
choose *how* the exact graph is computed, never *what* it contains: every strategy returns the same
pairs, so a cached or stale calibration can change the speed but not a selection.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from noisyprune.pruners.neighbours.float32_screen import float64_similarity
from noisyprune.pruners.neighbours.streamed_graph import RECTANGLE_DENSITY

# Row blocks of the all-pairs product and column tiles of every streamed product.
ALL_PAIRS_BLOCK_ROWS = 1024
TILE_COLS = 8192


@dataclass(frozen=True)
class Rates:
    """Measured speeds: ``gemm32``/``gemm64`` in flop/s of a float32/float64 matrix product;
    seconds per element of thresholding a float32 product tile (``scan32``) and of rescaling and
    thresholding a float64 one (``scan64``); seconds per pair decided one by one at d = 512
    (``pair``, gathers included); seconds per edge sorted into CSR (``edge``); seconds of fixed cost
    per matrix product (``call``: thread start-up, which grows a lot when other work holds the cores)."""

    gemm32: float
    gemm64: float
    scan32: float
    scan64: float
    pair: float
    edge: float
    call: float


# Rates of the 2-core development machine, for when calibration is switched off.
DEFAULT_RATES = Rates(gemm32=1.2e11, gemm64=5e10, scan32=2e-10, scan64=5e-9, pair=1.5e-6, edge=2e-7, call=2e-4)


def _best_seconds(run, repeats: int = 5) -> float:
    run()  # warm-up: thread pools, page faults
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def measure_rates(rows: int = 1024, cols: int = 8192, d: int = 512) -> Rates:
    """Time each kernel on random data of the given tile shape (about half a second in all)."""
    rng = np.random.default_rng(0)
    a64 = rng.standard_normal((rows, d))
    b64 = rng.standard_normal((cols, d))
    a32, b32 = a64.astype(np.float32), b64.astype(np.float32)
    flops = 2.0 * rows * cols * d
    tile32 = np.empty((rows, cols), dtype=np.float32)
    gemm32 = flops / _best_seconds(lambda: np.matmul(a32, b32.T, out=tile32))  # as NumpyTiles does
    gemm64 = flops / _best_seconds(lambda: a64 @ b64.T)
    tile64 = a64 @ b64.T
    threshold = np.partition(tile32.ravel(), -8)[-8]  # a handful of hits per tile, as in sparse graphs

    def scan():  # NumpyTiles' screen: row maxima, then the few rows above the threshold
        hit_rows = np.flatnonzero(tile32.max(axis=1) > threshold)
        return np.nonzero(tile32[hit_rows] > threshold)

    scan32 = _best_seconds(scan) / tile32.size
    scan64 = _best_seconds(lambda: np.nonzero(0.5 + 0.5 * tile64 > 0.5 + 0.5 * float(threshold))) / tile64.size
    unit = b64 / np.linalg.norm(b64, axis=1, keepdims=True)
    pair_rows, pair_cols = rng.integers(0, cols, (2, 1 << 14))
    pair = _best_seconds(lambda: float64_similarity(unit, pair_rows, pair_cols)) / len(pair_rows) * 512 / d
    keys = rng.integers(0, 1 << 20, (2, 1 << 20))
    edge = _best_seconds(lambda: np.lexsort(keys), repeats=1) / keys.shape[1]
    small = rng.standard_normal((64, d))
    products = 50  # fixed cost per product: many small ones, less their flops at the measured rate
    many = _best_seconds(lambda: [small @ small.T for _ in range(products)])
    call = max(0.0, many / products - 2.0 * 64 * 64 * d / gemm64)
    return Rates(gemm32=gemm32, gemm64=gemm64, scan32=scan32, scan64=scan64, pair=pair, edge=edge, call=call)


def _cache_file() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "noisyprune" / "prune4rel_rates.json"


def _machine_key() -> str:
    threads = os.environ.get("OMP_NUM_THREADS", "")
    return f"{platform.node()}|{platform.machine()}|{os.cpu_count()}|{threads}|numpy {np.__version__}"


def machine_rates(calibrate: bool = True) -> Rates:
    """This machine's :class:`Rates`: cached, or measured and cached; :data:`DEFAULT_RATES` when
    ``calibrate`` is false. A cache that cannot be read or written is ignored."""
    if not calibrate:
        return DEFAULT_RATES
    path, key = _cache_file(), _machine_key()
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        cached = {}
    if key in cached:
        try:
            return Rates(**cached[key])
        except TypeError:  # written by another version: measure again
            pass
    rates = measure_rates()
    cached[key] = asdict(rates)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # atomically: select jobs running side by side read it while another writes
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(cached, indent=1))
        os.replace(temporary, path)
    except OSError:
        pass
    return rates


def streamed_graph_seconds(
    rates: Rates, d: int, multiplied_pairs: float, edges: float, screen: bool, products: float
) -> float:
    """Predicted seconds of :func:`~noisyprune.pruners.neighbours.streamed_graph.build_streamed_graph` that
    multiplies ``multiplied_pairs`` sample pairs (each once) in ``products`` matrix products and
    stores ``edges`` directed edges, with the float32 screen (``screen``) or float64 throughout."""
    flops = 2.0 * d * multiplied_pairs
    if screen:
        # The shortlist is about the undirected neighbour pairs, decided one by one, or, where a
        # tile is dense, by a float64 product of its rectangle: at least the shortlist spread at
        # RECTANGLE_DENSITY, at most every multiplied pair (clusters dense in neighbours).
        pairwise = edges / 2 * rates.pair * d / 512
        rectangles = min(multiplied_pairs, edges / 2 / RECTANGLE_DENSITY) * 2 * d / rates.gemm64
        decide = min(pairwise, rectangles + products * rates.call)
        seconds = flops / rates.gemm32 + multiplied_pairs * rates.scan32 + decide
    else:
        seconds = flops / rates.gemm64 + multiplied_pairs * rates.scan64
    return seconds + products * rates.call + edges * rates.edge


def graph_strategy_seconds(
    rates: Rates, n: int, d: int, pair_fraction: float, gathered_rows: float, edges: float, groups: int
) -> dict[str, float]:
    """Predicted seconds of each exact way to the τ-graph of ``n`` samples in ``d`` dimensions with
    ``edges`` directed edges: ``clustered_float64`` and ``clustered_screened`` multiply the
    ``pair_fraction`` of pairs that cluster pruning leaves, one product per cluster (``groups``) and
    column tile, copying ``gathered_rows`` embedding rows (float64 resp. float32);
    ``all_pairs_screened`` multiplies all pairs in place in blocks of
    :data:`ALL_PAIRS_BLOCK_ROWS` × :data:`TILE_COLS`."""
    multiplied = pair_fraction * n * n / 2
    gather = gathered_rows * rates.pair / 2 * d / 512  # a pair decided ≈ two rows gathered
    clustered_products = groups + gathered_rows / TILE_COLS
    all_pairs_products = multiplied / pair_fraction / (ALL_PAIRS_BLOCK_ROWS * TILE_COLS) + n / ALL_PAIRS_BLOCK_ROWS
    return {
        "clustered_float64": streamed_graph_seconds(rates, d, multiplied, edges, False, clustered_products) + gather,
        "clustered_screened": streamed_graph_seconds(rates, d, multiplied, edges, True, clustered_products)
        + gather / 2,
        "all_pairs_screened": streamed_graph_seconds(rates, d, n * n / 2, edges, True, all_pairs_products),
    }
