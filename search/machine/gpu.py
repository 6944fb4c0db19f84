"""GPU memory for a trial that shares its GPU: a cap of its share, so that one trial cannot starve another.

TensorFlow takes nearly all of a GPU's memory by default. With ``--gpus-per-trial 1`` (or more) a
trial grows its memory as it needs; with a fraction, Ray puts several trials on one GPU, and each
gets a logical device of its share of the GPU's memory, less a margin for the CUDA context.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

SHARE_VARIABLE = "SEARCH_GPU_SHARE"
"""Set in a trial's worker: the fraction of a GPU the trial holds."""
CONTEXT_MARGIN_MB = 512
"""Memory left to each process's CUDA context and cuDNN workspace, outside the cap."""


def memory_limit_mb(share: float, total_mb: int) -> int | None:
    """The cap of a trial holding ``share`` of a GPU of ``total_mb``; None for a whole GPU or more."""
    if share <= 0 or share >= 1:
        return None
    return max(256, int(share * total_mb) - CONTEXT_MARGIN_MB)


def total_memory_mb() -> int | None:
    """Memory of the first GPU this process sees, from ``nvidia-smi``; None when it cannot tell."""
    if not shutil.which("nvidia-smi"):
        return None
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    command = ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"]
    if visible:
        command += ["-i", visible]
    try:
        output = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout
        return int(float(output.split()[0]))
    except (subprocess.SubprocessError, OSError, ValueError, IndexError):
        return None


def configure_tensorflow_gpus(tf: Any) -> None:
    """Before TensorFlow's runtime starts: each GPU capped to the trial's share, or growing as needed."""
    share = float(os.environ.get(SHARE_VARIABLE) or 0)
    gpus = tf.config.list_physical_devices("GPU")
    limit = memory_limit_mb(share, total_memory_mb() or 0) if gpus and 0 < share < 1 else None
    for gpu in gpus:
        try:
            if limit:
                capped = tf.config.LogicalDeviceConfiguration(memory_limit=limit)
                tf.config.set_logical_device_configuration(gpu, [capped])
            else:
                tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass  # set by an earlier trial in this reused worker, before its runtime started
