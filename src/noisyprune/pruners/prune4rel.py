"""Prune4ReL (Park et al., NeurIPS 2023): keep the samples whose neighbourhoods a re-labeling
learner can fix, by greedily maximising the *reduced neighbourhood confidence*.

Every selected sample ``s`` lends its confidence ``c_s`` to its τ-neighbours (see
:mod:`noisyprune.pruners.neighbours`): ``N_x = Σ_{s ∈ S} sim(x, s) · [sim(x, s) > τ] · c_s``.
The set function is ``F(S) = Σ_x tanh(N_x / η)`` — concave in each ``N_x``, hence monotone and
submodular, so coverage has diminishing returns and the greedy spreads its picks.

Two greedy rules, chosen by ``gain``:

- ``own`` — what the original code (``kaist-dmlab/Prune4Rel``, ``k_neighbor_confidence_greedy``)
  does: a candidate ``i`` is scored by its own term only, ``tanh((N_i + c_i)/η) − tanh(N_i/η)``.
  A pick changes only its neighbours' scores, which we update in place (exact, no rescoring of
  all ``n`` samples per pick).
- ``neighborhood`` — the paper's objective: a candidate's full marginal gain ``F(S ∪ {i}) − F(S)``
  over itself and its τ-neighbours. Gains only shrink as ``S`` grows, so lazy greedy with a heap
  (Minoux) is exact.

Both break ties towards the lowest sample id, like ``torch.argmax`` in the original. Class balance
over noisy labels: ``equal`` is the original's round-robin with its fall-back to global picks once
a class runs out (:class:`RoundRobin`); ``proportional`` closes a class once it holds its share;
``none`` is a global greedy. Direction: the method keeps what it selects — confident samples that
cover many uncovered neighbours — and prunes redundant or isolated low-confidence ones.

Inputs are the warm-up model's probabilities and penultimate embeddings from ``features.parquet``,
computed on the clean (unaugmented) view; the original takes them on one strongly augmented view.
The original stores both in float16 (``prob.half()``, ``embedding.half()``); ``input_precision:
float16`` rounds them the same way before anything is computed from them (the arithmetic after
that stays float64, where the original's continues in float16).
"""

from __future__ import annotations

import heapq
import logging
import math
import time

import numpy as np

from noisyprune.method_inputs import MethodInputs
from noisyprune.params import declare, param
from noisyprune.pruners.base import Pruner, PrunerInputs, Selection
from noisyprune.pruners.budget import class_members, class_quotas
from noisyprune.pruners.neighbours import EngineSettings, NeighbourGraph, Rows, find_neighbours
from noisyprune.pruners.progress import every, report

log = logging.getLogger(__name__)

CONFIDENCES = ("max_prob", "margin", "entropy")
GAINS = ("own", "neighborhood")
ENGINES = ("auto", "dense", "graph", "torch", "ivf")

# From this many samples on, the own-gain greedy tracks its arg-max by blocks.
BLOCK_ARGMAX_MIN = 65_536

PRECISIONS = ("float32", "float16")
FLOAT16_MAX = float(np.finfo(np.float16).max)


def sample_confidence(inputs: PrunerInputs, kind: str) -> np.ndarray:
    """Per-sample confidence ``c`` in [0, 1], float64 ``(n,)``; larger = more confident.

    ``max_prob``: the top softmax probability (the original's misnamed "LeastConfidence");
    ``margin``: top-1 minus top-2 probability; ``entropy``: ``1 − H(p) / log C``, the entropy turned
    the right way round (the original's ``Entropy`` option used raw entropy, which ranks uncertain
    samples as confident). Read from the features' derived columns (:func:`confidence_from_probs`
    computes it from probabilities instead).
    """
    features = inputs.features
    if kind == "max_prob":
        values = features.numpy("confidence")
    elif kind == "margin":
        values = features.numpy("margin")
    elif kind == "entropy":
        values = 1.0 - features.numpy("entropy") / math.log(inputs.num_classes)
    else:
        raise ValueError(f"unknown confidence {kind!r}; use one of {CONFIDENCES}")
    return np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)


def confidence_from_probs(probs: np.ndarray, kind: str, num_classes: int) -> np.ndarray:
    """:func:`sample_confidence`'s ``kind`` computed from class probabilities ``probs`` ``(n, C)``,
    float64 ``(n,)`` (0 · log 0 counts as 0 in the entropy)."""
    probs = np.asarray(probs, dtype=np.float64)
    if kind == "max_prob":
        return probs.max(axis=1)
    if kind == "margin":
        if probs.shape[1] < 2:
            return probs[:, 0].copy()
        top2 = -np.partition(-probs, 1, axis=1)[:, :2]
        return top2[:, 0] - top2[:, 1]
    if kind == "entropy":
        logs = np.log(np.where(probs > 0, probs, 1.0))
        return 1.0 - (-(probs * logs).sum(axis=1)) / math.log(num_classes)
    raise ValueError(f"unknown confidence {kind!r}; use one of {CONFIDENCES}")


def rounded_to_float16(values: np.ndarray, what: str) -> np.ndarray:
    """``values`` rounded to float16 (round to nearest, ties to even, as torch's ``.half()``) and
    returned as float64. A value beyond float16's range (±65,504) would become infinite: an error."""
    values = np.asarray(values)
    if values.size and float(np.abs(values).max()) > FLOAT16_MAX:
        raise ValueError(
            f"prune4rel input_precision float16: {what} holds values beyond float16's range (±{FLOAT16_MAX:g}); "
            f"the original's .half() would make them infinite"
        )
    return values.astype(np.float16).astype(np.float64)


class RoundRobin:
    """The original's ``balance=True`` schedule: pick ``i`` comes from class
    ``available[i mod len(available)]`` of the noisy labels. An exhausted class leaves the
    rotation; the size of the first one to run out is ``min_balance``, and once the class next in
    turn already gave more than ``1.5 · min_balance`` samples, all later picks are global.
    """

    def __init__(self, labels: np.ndarray, num_classes: int):
        self.initial = np.bincount(labels, minlength=num_classes)
        empty = np.flatnonzero(self.initial == 0)
        if len(empty):
            log.warning(
                "prune4rel balance 'equal': noisy class(es) %s have no samples; as in the original, the "
                "first empty class in turn sets min_balance to 0, so picks turn global as soon as a class "
                "runs out (at once when the empty class is last in the rotation)",
                empty.tolist(),
            )
        self.remaining = self.initial.copy()
        self.available = list(range(num_classes))
        self.num_classes = num_classes
        self.min_balance = 0
        self.global_picks = False

    def target(self, i: int) -> int | None:
        """Class of pick ``i``, or ``None`` when picks are global."""
        if self.global_picks:
            return None
        target = self.available[i % len(self.available)]
        while self.remaining[target] == 0:
            if len(self.available) == self.num_classes:
                self.min_balance = int(self.initial[target])
            self.available.remove(target)
            target = self.available[i % len(self.available)]
            if self.initial[target] - self.remaining[target] > 1.5 * self.min_balance:
                self.global_picks = True  # this pick still comes from ``target``, as in the original
        return target

    def picked(self, target: int) -> None:
        """Record a pick from class ``target``."""
        self.remaining[target] -= 1


class GreedyBalance:
    """The class balance of a greedy selection, pick by pick, over the noisy labels ``(n,)``:
    under ``equal`` the class each pick must come from (the original's :class:`RoundRobin`), under
    ``proportional`` the classes whose quota of ``budget`` is full; nothing under ``none``."""

    def __init__(self, labels: np.ndarray, num_classes: int, budget: int, mode: str):
        self.labels = labels
        self.num_classes = num_classes
        self.members = class_members(labels, num_classes) if mode != "none" else []
        self.schedule = RoundRobin(labels, num_classes) if mode == "equal" else None
        self.quota = class_quotas(labels, num_classes, budget, mode) if mode == "proportional" else None
        self.taken = np.zeros(num_classes, dtype=np.int64)

    def target(self, step: int) -> int | None:
        """Class pick ``step`` must come from, or ``None`` when it may come from any class."""
        return self.schedule.target(step) if self.schedule else None

    def take(self, position: int, target: int | None) -> np.ndarray | None:
        """Record the pick of ``position`` (made for class ``target``, as :meth:`target` said); the
        positions of its class ``(n_c,)`` when this pick filled the class's quota, else ``None``."""
        if target is not None:
            self.schedule.picked(target)
        if self.quota is None:
            return None
        label = self.labels[position]
        self.taken[label] += 1
        return self.members[label] if self.taken[label] == self.quota[label] else None


def own_term_gain(neighbour_confidence: np.ndarray, confidence: np.ndarray, eta: float) -> np.ndarray:
    """The original's score ``tanh((N + c)/η) − tanh(N/η)`` (elementwise)."""
    return np.tanh((neighbour_confidence + confidence) / eta) - np.tanh(neighbour_confidence / eta)


class BlockArgmax:
    """Arg-max of an array that changes a few entries at a time, in O(changed blocks · block).

    The array is viewed as rows of ``block`` entries with a cached maximum per row; the answer is
    the first maximum of the first maximal row, i.e. the lowest index among ties, as ``np.argmax``.
    Worth it for large ``n``, where a full ``np.argmax`` per pick dominates.
    """

    def __init__(self, values: np.ndarray, block: int = 1024):
        self.n = len(values)
        padded = np.full(-(-self.n // block) * block, -np.inf)
        padded[: self.n] = values
        self.values = padded[: self.n]  # a view: callers update entries through it
        self.rows = padded.reshape(-1, block)
        self.block = block
        self.row_max = self.rows.max(axis=1)

    def refresh(self, changed: np.ndarray) -> None:
        """Recompute the cached maxima of the blocks holding the ``changed`` indices."""
        blocks = np.unique(changed // self.block)
        self.row_max[blocks] = self.rows[blocks].max(axis=1)

    def argmax(self) -> int:
        """Index of the largest value (lowest index among equal values)."""
        row = int(np.argmax(self.row_max))
        return row * self.block + int(np.argmax(self.rows[row]))


def greedy_own_gain(
    confidence: np.ndarray, rows: Rows, budget: int, eta: float, balance: GreedyBalance, stats: dict | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The original greedy with the own-term score; returns ``(positions, scores at pick)``, pick order.

    Scores are kept in an array and only the picked sample's τ-neighbours are rescored, which gives
    exactly the original's argmax sequence without its O(n·d) work per pick. A ``stats`` dict
    receives ``degrees`` (τ-neighbours of each pick, itself included) and ``covered`` (the final
    ``N_x`` of every sample), for :func:`selection_diagnostics`.
    """
    n = len(confidence)
    covered = np.zeros(n)  # N_x
    tracker = BlockArgmax(own_term_gain(covered, confidence, eta)) if n > BLOCK_ARGMAX_MIN else None
    score = tracker.values if tracker else own_term_gain(covered, confidence, eta)
    blocked = np.zeros(n, dtype=bool)  # selected, or of a class whose quota is full
    positions = np.empty(budget, dtype=np.int64)
    gains = np.empty(budget)
    interval = every(budget)
    for i in range(budget):
        if i % interval == 0:
            report("Prune4ReL greedy picks", i, budget, "pick")
        target = balance.target(i)
        if target is None:
            p = tracker.argmax() if tracker else int(np.argmax(score))
        else:
            candidates = balance.members[target]
            p = int(candidates[np.argmax(score[candidates])])
        positions[i], gains[i] = p, score[p]
        score[p] = -1.0  # the original's mask of selected samples
        blocked[p] = True
        changed = [np.array([p])]
        full_class = balance.take(p, target)
        if full_class is not None:
            closed = full_class[~blocked[full_class]]
            blocked[closed] = True
            score[closed] = -np.inf
            changed.append(closed)
        if i < budget - 1 or stats is not None:
            neighbours, similarity = rows(p)
            covered[neighbours] += similarity * confidence[p]
            if stats is not None:
                stats.setdefault("degrees", []).append(len(neighbours))
            neighbours = neighbours[~blocked[neighbours]]
            score[neighbours] = own_term_gain(covered[neighbours], confidence[neighbours], eta)
            changed.append(neighbours)
        if tracker:
            tracker.refresh(np.concatenate(changed))
    report("Prune4ReL greedy picks", budget, budget, "pick")
    if stats is not None:
        stats["covered"] = covered
    return positions, gains


def greedy_neighborhood_gain(
    confidence: np.ndarray,
    graph: NeighbourGraph,
    budget: int,
    eta: float,
    balance: GreedyBalance,
    stats: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Lazy greedy on ``F(S) = Σ_x tanh(N_x/η)`` with full marginal gains; returns
    ``(positions, gains at pick)`` in pick order. Balance modes and ``stats`` as in
    :func:`greedy_own_gain`.

    Heap entries are ``(−bound, index, step evaluated)``; an entry evaluated at the current step is
    exact, and since gains only shrink, the first exact entry popped is the true arg-max (ties to
    the lowest index, because the heap orders equal bounds by index).
    """
    n = len(confidence)
    covered = np.zeros(n)

    def gain(i: int) -> float:
        neighbours, similarity = graph.row(i)
        before = covered[neighbours]
        return float(np.sum(np.tanh((before + similarity * confidence[i]) / eta) - np.tanh(before / eta)))

    # Initial bounds in one vectorised pass (N = 0), nudged up so rounding can only overestimate;
    # every pick is re-evaluated with ``gain`` before it is taken.
    row_of_edge = np.repeat(np.arange(n), np.diff(graph.indptr))
    initial = np.zeros(n)
    np.add.at(initial, row_of_edge, np.tanh(graph.weights * confidence[row_of_edge] / eta))
    bounds = initial * (1 + 1e-9) + 1e-12

    blocked = np.zeros(n, dtype=bool)
    per_class = balance.schedule is not None
    if per_class:
        heaps = [[(-bounds[i], int(i), -1) for i in balance.members[c]] for c in range(balance.num_classes)]
    else:
        heaps = [[(-bounds[i], i, -1) for i in range(n)]]
    for heap in heaps:
        heapq.heapify(heap)
    global_heap = heaps[0] if not per_class else None

    positions = np.empty(budget, dtype=np.int64)
    gains = np.empty(budget)
    interval = every(budget)
    for step in range(budget):
        if step % interval == 0:
            report("Prune4ReL greedy picks", step, budget, "pick")
        target = balance.target(step)
        if per_class and target is None and global_heap is None:
            global_heap = [entry for heap in heaps for entry in heap]
            heapq.heapify(global_heap)
        heap = heaps[target] if target is not None else global_heap
        while True:
            negative_bound, i, evaluated = heapq.heappop(heap)
            if blocked[i]:
                continue
            if evaluated == step:
                break
            heapq.heappush(heap, (-gain(i), i, step))
        positions[step], gains[step] = i, -negative_bound
        blocked[i] = True
        full_class = balance.take(i, target)
        if full_class is not None:
            blocked[full_class] = True
        neighbours, similarity = graph.row(i)
        covered[neighbours] += similarity * confidence[i]
        if stats is not None:
            stats.setdefault("degrees", []).append(len(neighbours))
    report("Prune4ReL greedy picks", budget, budget, "pick")
    if stats is not None:
        stats["covered"] = covered
    return positions, gains


def selection_diagnostics(
    stats: dict, confidence: np.ndarray, positions: np.ndarray, eta: float, sampled_degrees: np.ndarray
) -> dict:
    """What a user needs to tell the method from its setting (τ for these embeddings), all
    deterministic: the τ-neighbourhood sizes over a fixed random sample of all samples and of the
    picks (itself included), the share of samples covered by at least one pick, the objective per
    sample ``F(S) / n`` in [0, 1], and the mean confidence of the picks against that of all samples."""
    degrees = np.asarray(stats["degrees"], dtype=np.float64)
    covered = stats["covered"]
    return {
        "neighbours_mean": round(float(np.mean(sampled_degrees)), 3),
        "neighbours_median": float(np.median(sampled_degrees)),
        "picked_neighbours_mean": round(float(degrees.mean()), 3) if len(degrees) else None,
        "picked_neighbours_median": float(np.median(degrees)) if len(degrees) else None,
        "coverage": round(float((covered > 0).mean()), 6),
        "objective_per_sample": round(float(np.tanh(covered / eta).mean()), 6),
        "picked_confidence_mean": round(float(confidence[positions].mean()), 6),
        "confidence_mean": round(float(confidence.mean()), 6),
    }


def coverage_objective(positions: np.ndarray, confidence: np.ndarray, rows: Rows, eta: float) -> float:
    """``F(S) = Σ_x tanh(N_x / η)`` of the selected ``positions``."""
    covered = np.zeros(len(confidence))
    for p in positions:
        neighbours, similarity = rows(int(p))
        covered[neighbours] += similarity * confidence[p]
    return float(np.tanh(covered / eta).sum())


@declare(
    param(
        "confidence",
        (
            "`c`: `max_prob` (top softmax probability; the original's misnamed `LeastConfidence`), `margin` (top-1 − "
            "top-2) or `entropy` (`1 − H(p)/log C`, oriented so that larger is more confident, unlike the original's "
            "`Entropy`)."
        ),
        choices=CONFIDENCES,
    ),
    param(
        "tau",
        (
            "Threshold in [0, 1) on the rescaled similarity (0.975 ⇔ cos > 0.95). Paper settings: 0.975 CIFAR-10N, "
            "0.95 CIFAR-100N/WebVision/ImageNet, 0.8 Clothing-1M. `auto` reads τ from the embeddings: the threshold "
            "at which 256 fixed random samples have on average `target_neighbours` τ-neighbours besides themselves "
            "(the chosen τ is in the subset's metadata and the composition table). A τ that suits one network's "
            "embeddings can leave another's with a handful of neighbours or hundreds; the composition table's "
            "`select_neighbours_mean` shows which."
        ),
        oneOf=[{"type": "number", "minimum": 0, "exclusiveMaximum": 1}, {"const": "auto"}],
    ),
    param(
        "target_neighbours",
        (
            "(`tau: auto`) The mean neighbourhood size τ is chosen for; `null` is n / budget (1 / fraction): "
            "neighbourhoods just large enough that the budget's picks, if disjoint, would cover every sample."
        ),
        oneOf=[{"type": "number", "exclusiveMinimum": 0}, {"type": "null"}],
    ),
    param(
        "eta",
        (
            "tanh temperature (> 0). Small values favour coverage; large values (the original's argparse default 100)"
            " make tanh nearly linear, i.e. top confidence."
        ),
        type="number",
        exclusiveMinimum=0,
    ),
    param(
        "gain",
        (
            "`own`: the original code's greedy score `tanh((N_i + c_i)/η) − tanh(N_i/η)` (the candidate's own term "
            "only). `neighborhood`: the paper's full marginal gain over the candidate and its τ-neighbours, by lazy "
            "greedy (exact because the objective is submodular)."
        ),
        choices=GAINS,
    ),
    param(
        "input_precision",
        (
            "`float32`: the probabilities and embeddings of `features.parquet` as stored. `float16`: rounded to "
            "float16 first, as the original stores them (`prob.half()`, `embedding.half()`); the confidence and the "
            "similarities are then computed in float64 from the rounded values (the original computes on in float16)."
            " Rounding alone can move similarities across τ and change picks."
        ),
        choices=PRECISIONS,
    ),
    param(
        "engine",
        (
            "How τ-neighbours are found. `dense` (exact, one mat-vec per pick; small n), `graph` (exact; the whole "
            "sparse τ-graph, or rows on demand when that is predicted cheaper or its construction would exceed "
            "`max_graph_gb`; the graph is built by the way predicted fastest on this machine: cluster-pruned pairs in"
            " float64, or pairs screened in float32 with a proven rounding-error margin and decided in float64 — all "
            "give the same graph), `torch` (exact, all pairs screened in float32 and decided in float64 on a CUDA "
            "device; on a machine without one it runs on the CPU with a warning in the job's log, same selection), "
            "`ivf` (approximate faiss IVF range search; recall reported in the subset metadata). `auto`: "
            "`dense` up to 2,000 samples, `torch` on a CUDA machine above 20,000, `graph` up to `exact_max`, `ivf` "
            "above."
        ),
        choices=ENGINES,
    ),
    param(
        "clusters",
        ("(`graph`) k-means clusters used to rule out far pairs; `null` = √n. Affects speed only, never the result."),
        oneOf=[{"type": "integer", "minimum": 1}, {"type": "null"}],
    ),
    param(
        "ivf_nlist",
        "(`ivf`) Inverted lists; `null` = √n.",
        oneOf=[{"type": "integer", "minimum": 1}, {"type": "null"}],
    ),
    param(
        "ivf_nprobe",
        "(`ivf`) Lists visited per query: more is slower and misses fewer neighbours.",
        type="integer",
        minimum=1,
    ),
    param(
        "recall_sample",
        "(`ivf`) Random queries on which neighbour recall against exact search is measured.",
        type="integer",
        minimum=0,
    ),
    param("exact_max", "(`auto`) Largest n for which an exact engine is chosen.", type="integer", minimum=1),
    param(
        "max_graph_gb",
        (
            "(`graph`, `torch`) Memory building the τ-graph may use at its peak, beyond the embeddings (about 24 "
            "bytes per directed edge, twice the finished graph's 12); above it the own-gain greedy computes rows on "
            "demand, and `neighborhood` stops with an error."
        ),
        type="number",
        exclusiveMinimum=0,
    ),
    param(
        "calibrate",
        (
            "(`graph`) Time a few small kernels once per machine (about a second, more on busy cores; cached in "
            "`$XDG_CACHE_HOME/noisyprune` or `~/.cache/noisyprune`) so the engine predicts which way to the exact "
            "graph is fastest here; `false` uses fixed rates of a 2-core machine. Changes speed only, never the "
            "selection."
        ),
        type="boolean",
    ),
)
class Prune4ReL(Pruner):
    """Prune4ReL selection (see the module docstring); reads ``features.parquet``.

    Parameters: ``confidence`` (``max_prob``, ``margin``, ``entropy``), ``tau`` ∈ [0, 1) on the
    rescaled similarity (0.975 for CIFAR-10N, 0.95 for CIFAR-100N/WebVision, 0.8 for Clothing-1M),
    ``eta`` > 0 the tanh temperature, ``gain`` (``own``/``neighborhood``), ``balance`` (default
    ``equal``, the paper's setting) and the neighbour ``engine``:

    - ``dense``: exact rows by mat-vec, O(n·d) per pick — small problems.
    - ``graph``: exact; the whole sparse τ-graph when its construction fits in ``max_graph_gb`` at
      its peak and is predicted to be cheaper than computing the picked rows one by one, else
      single rows (``own`` gain only). The graph comes from the cheapest of
      :data:`~noisyprune.pruners.neighbours.search.GRAPH_STRATEGIES` as predicted from this
      machine's measured rates (:mod:`~noisyprune.pruners.neighbours.engine_costs`, ``calibrate``):
      cluster-pruned pairs (:class:`~noisyprune.pruners.neighbours.sources.ClusteredExactIndex`,
      ``clusters`` default √n) in float64, or screened in float32 with a proven rounding margin and
      decided in float64 (:mod:`~noisyprune.pruners.neighbours.float32_screen`),
      or all pairs screened. All give the same graph.
    - ``torch``: exact τ-graph from all pairs, screened in float32 and decided in float64, on a
      CUDA device; where torch sees none, the same code on the CPU, with a warning.
    - ``ivf``: approximate faiss IVF range search (``ivf_nlist``, ``ivf_nprobe``); the neighbour
      recall on ``recall_sample`` random queries is reported in the subset's metadata.
    - ``auto``: ``dense`` up to 2,000 samples, ``torch`` on a CUDA machine, ``graph`` up to
      ``exact_max`` samples, ``ivf`` above.
    """

    inputs = MethodInputs(("labels", "features", "probabilities"))

    requires = ("features",)
    sweeps_tau = True
    keeps = (
        "confident samples that cover many neighbours: the samples whose neighbourhoods a re-labeling learner "
        "can correct, not clean ones, so retrain the subset with a re-labeling learner (e.g. ELR, SOP)"
    )

    def __init__(
        self,
        balance: str = "equal",
        confidence: str = "max_prob",
        tau: float | str = 0.975,
        target_neighbours: float | None = None,
        eta: float = 1.0,
        gain: str = "own",
        engine: str = "auto",
        clusters: int | None = None,
        ivf_nlist: int | None = None,
        ivf_nprobe: int = 16,
        recall_sample: int = 256,
        exact_max: int = 200_000,
        max_graph_gb: float = 4.0,
        calibrate: bool = True,
        input_precision: str = "float32",
    ):
        super().__init__(balance=balance)
        self.input_precision = input_precision
        self.tau_setting, self.target_neighbours = tau, target_neighbours
        self.confidence, self.tau, self.eta, self.gain = confidence, tau, eta, gain
        # the engine parameters, as find_neighbours reads them
        self.engine_settings = EngineSettings(
            engine=engine,
            clusters=clusters,
            ivf_nlist=ivf_nlist,
            ivf_nprobe=ivf_nprobe,
            recall_sample=recall_sample,
            exact_max=exact_max,
            max_graph_gb=max_graph_gb,
            calibrate=calibrate,
        )
        self.needs_gpu = engine == "torch"  # auto picks torch only where the job already has a GPU

    def select(self, inputs: PrunerInputs, budget: int, rng: np.random.Generator) -> Selection:
        confidence = self.read_confidence(inputs)
        # the embeddings go straight in (no reference kept here): the search drops them once normalised
        found = find_neighbours(
            self.read_embedding(inputs),
            self.tau_setting,
            budget,
            need_graph=self.gain == "neighborhood",
            settings=self.engine_settings,
            target_neighbours=self.target_neighbours,
        )
        self.tau = found.tau
        diagnostics = {"engine": found.engine, "gain": self.gain, **found.diagnostics}  # stored with the subset
        start = time.perf_counter()
        balance = GreedyBalance(inputs.noisy_label, inputs.num_classes, budget, self.balance)
        stats: dict = {}
        if self.gain == "own":
            positions, gains = greedy_own_gain(confidence, found.rows, budget, self.eta, balance, stats)
        else:
            positions, gains = greedy_neighborhood_gain(confidence, found.graph, budget, self.eta, balance, stats)
        greedy_seconds = time.perf_counter() - start
        sampled_degrees = found.sampled_degrees(self.engine_settings.recall_sample)
        diagnostics.update(selection_diagnostics(stats, confidence, positions, self.eta, sampled_degrees))
        runtime = {**found.runtime, "greedy_seconds": greedy_seconds}  # varies between runs: the timing sidecar
        return Selection(positions=positions, scores=gains, diagnostics=diagnostics, runtime=runtime)

    def read_confidence(self, inputs: PrunerInputs) -> np.ndarray:
        """The confidence ``(n,)`` the selection reads, at ``input_precision``."""
        if self.input_precision == "float32":
            return sample_confidence(inputs, self.confidence)
        rounded = rounded_to_float16(inputs.features.numpy("probs"), "probs")
        return np.clip(confidence_from_probs(rounded, self.confidence, inputs.num_classes), 0.0, 1.0)

    def read_embedding(self, inputs: PrunerInputs) -> np.ndarray:
        """The embeddings ``(n, d)`` the selection reads, at ``input_precision``."""
        embedding = inputs.features.numpy("embedding")
        if self.input_precision == "float32":
            return embedding
        return rounded_to_float16(embedding, "embedding")
