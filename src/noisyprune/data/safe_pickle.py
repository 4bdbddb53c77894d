"""Reading pickled numpy data without running arbitrary code.

CIFAR's python batches and the CIFAR-N human label files (torch zip archives holding one pickle)
are pickles. An unrestricted ``pickle.load`` executes whatever callable a file names, so we unpickle
with an allow-list of the few globals numpy arrays need; anything else is refused before it runs.
"""

from __future__ import annotations

import importlib
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from noisyprune.errors import ArtifactError


def _array_reconstructor() -> Any:
    """numpy's array-unpickling helper, from ``numpy._core`` (numpy 2) or ``numpy.core`` (numpy 1)."""
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            return importlib.import_module(module)._reconstruct
        except (ImportError, AttributeError):
            continue
    raise ImportError("numpy has no multiarray._reconstruct")


# (module, name) pairs a pickled dict of numpy arrays may reference. numpy 2 renamed
# numpy.core to numpy._core; files written by numpy 1 still say numpy.core.
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _array_reconstructor(),
    ("numpy._core.multiarray", "_reconstruct"): _array_reconstructor(),
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): __import__("codecs").encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED_GLOBALS` and refuses every other global."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"global {module}.{name} is not allowed in a data file (only numpy arrays are)"
            ) from None


def safe_unpickle(data: bytes, source: str | Path, encoding: str = "latin1") -> Any:
    """Unpickle ``data`` (read from ``source``, named in errors) with the allow-list.

    ``encoding`` decodes Python 2 strings (CIFAR batches need ``bytes`` to keep their keys as
    written; the CIFAR-N files ``latin1``). Raises :class:`ArtifactError` for anything else.
    """
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding=encoding).load()
    except pickle.UnpicklingError as err:
        raise ArtifactError(f"{source}: refused to unpickle: {err}") from None
    except Exception as err:  # truncated or foreign files raise many types
        raise ArtifactError(f"{source}: not a readable pickle ({type(err).__name__}: {err})") from None


def load_pickle_file(path: str | Path, encoding: str = "latin1") -> Any:
    """Read and safely unpickle the plain pickle file ``path``."""
    return safe_unpickle(Path(path).read_bytes(), path, encoding)


def load_torch_pickle(path: str | Path) -> Any:
    """Safely unpickle the object in a torch zip archive (``torch.save`` output holding no
    tensors, e.g. ``CIFAR-10_human.pt``), without torch: the archive's ``*/data.pkl`` member."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = [name for name in archive.namelist() if name.endswith("/data.pkl") or name == "data.pkl"]
            if len(members) != 1:
                raise ArtifactError(f"{path}: expected one data.pkl in the torch archive, found {members}")
            payload = archive.read(members[0])
    except zipfile.BadZipFile:
        raise ArtifactError(f"{path}: not a torch zip archive") from None
    return safe_unpickle(payload, path, "latin1")
