"""Memory: estimate what a dataset or a model will take before allocating it, and refuse what
cannot fit, with the estimate in the message, instead of failing later with ``MemoryError``.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence

from shared.errors import DataError, SpecError


def available_memory() -> int:
    """Bytes this process can still allocate: ``MemAvailable`` on Linux, else physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**40  # unknown: never refuse for that reason


def size(nbytes: float) -> str:
    """``3.2e9`` -> ``3.0 GiB``."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if nbytes < 1024 or unit == "TiB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"  # pragma: no cover


def require(nbytes: float, what: str, error: type[Exception] = SpecError) -> None:
    """Raise ``error`` naming ``what`` and the estimate when ``nbytes`` exceeds what is free."""
    free = available_memory()
    if nbytes > free:
        raise error(
            f"{what} needs about {size(nbytes)} of memory, and this machine has {size(free)} "
            "free; use a smaller size"
        )


def array_bytes(shape: Sequence[float], itemsize: int = 8) -> float:
    """Bytes of an array of ``shape`` (a float, since the count may be astronomical)."""
    return float(math.prod(float(n) for n in shape)) * itemsize


def training_bytes(
    layer_sizes: Sequence[int], n_samples: int, batch_size: int, itemsize: int, n_slots: int = 2
) -> float:
    """What training a model of ``layer_sizes`` on ``n_samples`` needs, roughly: the parameters
    with their gradients and optimizer slots (and a best-weights copy), the training inputs and
    one-hot targets, and the activations of one batch and one prediction chunk."""
    params = sum(array_bytes((a + 1, b), itemsize) for a, b in itertools.pairwise(layer_sizes))
    data = array_bytes((n_samples, layer_sizes[0] + layer_sizes[-1]), itemsize)
    rows = batch_size + 8192
    activations = array_bytes((rows, 3 * sum(layer_sizes)), itemsize)
    return params * (3 + n_slots) + data + activations


def require_dataset(shape: Sequence[float], what: str) -> None:
    """Refuse a dataset of ``shape`` (float64, with its standardized copy) that cannot fit."""
    require(2 * array_bytes(shape), what, DataError)


# The thread count a command chose for this process and its children (``mlp_tiers.threads``
# sets it beside the BLAS, OpenMP and TensorFlow variables); TensorFlow's set-up reads it.
THREADS_VARIABLE = "MLP_TIERS_THREADS"


def requested_threads() -> int | None:
    """The thread count chosen for this process (``THREADS_VARIABLE``), if any."""
    value = os.environ.get(THREADS_VARIABLE, "")
    return int(value) if value.isdigit() and int(value) >= 1 else None
