"""The float32-screen / float64-decide tile function in torch, for a CUDA device (or the CPU).

Same contract as :class:`noisyprune.pruners.neighbours.streamed_graph.NumpyTiles` with ``screen=True``: the
float32 product runs on the device with TF32 switched off (TF32 keeps 10 mantissa bits, which the
rounding-error bound of :mod:`noisyprune.pruners.neighbours.float32_screen` does not cover), the shortlisted
pairs are decided on the device in float64, and only the pairs above τ come back to the host.
The same code runs on CPU tensors (``device="cpu"``), which is how the tests check it against the
CPU engines' graphs and selections on machines without a GPU.
"""

from __future__ import annotations

import contextlib

import numpy as np

from noisyprune.pruners.neighbours.float32_screen import screen_threshold
from noisyprune.pruners.neighbours.streamed_graph import ids
from noisyprune.pruners.placement import cuda_allowed


def torch_device() -> str:
    """Where the torch engine computes: ``cuda`` when a GPU may be used (torch sees one and the run's
    ``device`` is not ``cpu``: :mod:`noisyprune.pruners.placement`), else ``cpu``."""
    return "cuda" if cuda_allowed() else "cpu"


@contextlib.contextmanager
def _full_float32(device: str):
    import torch

    on_cuda = torch.device(device).type == "cuda"
    before = torch.get_float32_matmul_precision()
    if on_cuda:  # the CUDA flag only where it applies (tests/test_cuda_guards.py)
        allowed = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        if on_cuda:
            torch.backends.cuda.matmul.allow_tf32 = allowed
        torch.set_float32_matmul_precision(before)


class TorchTiles:
    """Tile function: pairs of ``rows × cols`` (sample ids) with float64 similarity above ``tau``,
    from ``unit`` ``(n, d)`` float64 unit rows held on ``device`` in float32 and float64; columns in
    tiles of ``tile_cols``, decisions in chunks of ``decide_chunk`` pairs."""

    def __init__(self, unit: np.ndarray, tau: float, device: str = "cpu", tile_cols: int = 16384):
        import torch

        self.tau = tau
        self.device = device
        self.tile_cols = tile_cols
        self.z64 = torch.as_tensor(unit, dtype=torch.float64, device=device)
        self.z32 = self.z64.to(torch.float32)
        self.threshold = float(screen_threshold(tau, unit.shape[1]))  # exactly a float32 value
        self.decide_chunk = 1 << 16

    def __call__(self, rows: np.ndarray, cols: np.ndarray | range):
        import torch

        found_rows, found_cols, found_weights = [], [], []
        rows_t = torch.as_tensor(rows, device=self.device)
        with torch.no_grad(), _full_float32(self.device):
            queries = self.z32[rows_t]
            for start in range(0, len(cols), self.tile_cols):
                cols_t = torch.as_tensor(ids(cols[start : start + self.tile_cols]), device=self.device)
                cosine = queries @ self.z32[cols_t].T
                q, c = torch.nonzero(cosine > self.threshold, as_tuple=True)
                del cosine
                for lo in range(0, len(q), self.decide_chunk):
                    r, k = rows_t[q[lo : lo + self.decide_chunk]], cols_t[c[lo : lo + self.decide_chunk]]
                    similarity = 0.5 + 0.5 * (self.z64[r] * self.z64[k]).sum(dim=1)
                    keep = similarity > self.tau
                    found_rows.append(r[keep].cpu().numpy())
                    found_cols.append(k[keep].cpu().numpy())
                    found_weights.append(similarity[keep].cpu().numpy())
        if not found_rows:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
        return np.concatenate(found_rows), np.concatenate(found_cols), np.concatenate(found_weights)
