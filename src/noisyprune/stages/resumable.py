"""The resume file of a training job (kept apart from ``common`` so that stages that never train do
not depend on the training package)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from noisyprune.training.execution import current
from noisyprune.training.resume import ResumeFile


def resume_file(output: str, every: int, *identity: Any):
    """The resume file of the job writing ``output`` (beside it, ``<output>.resume.pt``), or ``None``
    when ``every`` is 0. ``identity`` (entries, seeds, sample ids, code hash) is fingerprinted, so a
    file left by a differently configured job is never resumed; so is this process's resolved
    execution (autocast, memory layout, compilation: set by ``configure_torch`` before this is
    called), whose change reruns the job (its ``execution`` param) and must not resume a state
    trained otherwise."""
    if not every:
        return None
    digest = hashlib.sha256(current().describe().encode())
    for part in identity:
        if isinstance(part, np.ndarray):
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return ResumeFile(f"{output}.resume.pt", digest.hexdigest(), every)
