"""τ-neighbourhoods of embeddings, for Prune4ReL: which samples lie within τ of each other.

One way in, :func:`find_neighbours` (:mod:`~noisyprune.pruners.neighbours.search`), and one trip down
from it, each module using only those below it:

- :mod:`~noisyprune.pruners.neighbours.search` — the engine for the size, the automatic τ, the
  rows on demand or the whole graph, the exact similarity of identical rows;
- :mod:`~noisyprune.pruners.neighbours.engine_costs` — how long each exact way to the graph takes
  here, from rates measured on this machine;
- :mod:`~noisyprune.pruners.neighbours.auto_tau` — τ read from the embeddings;
- :mod:`~noisyprune.pruners.neighbours.sources` — exact and approximate sources of rows (dense,
  cluster-pruned, all pairs on torch, faiss IVF);
- :mod:`~noisyprune.pruners.neighbours.torch_tiles` — the float32-screen / float64-decide tile
  function on a CUDA device;
- :mod:`~noisyprune.pruners.neighbours.streamed_graph` — the whole graph built group by group into
  CSR with a known memory peak, with numpy tiles;
- :mod:`~noisyprune.pruners.neighbours.float32_screen` — the proven float32 rounding bound;
- :mod:`~noisyprune.pruners.neighbours.graph` — the rescaled similarity and the CSR graph.
"""

from noisyprune.pruners.neighbours.graph import NeighbourGraph, Rows
from noisyprune.pruners.neighbours.search import EngineSettings, Neighbours, find_neighbours

__all__ = ["EngineSettings", "NeighbourGraph", "Neighbours", "Rows", "find_neighbours"]
