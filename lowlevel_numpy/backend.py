"""The array module: NumPy on the CPU, CuPy on a GPU, chosen once per model.

CuPy arrays implement NumPy's dispatch protocols (``__array_ufunc__`` and
``__array_function__``), so ``np.exp(z)`` or ``np.maximum(z, 0)`` on a CuPy array runs on the GPU
and returns a CuPy array. The math in this package is therefore written once, as plain NumPy.
Only two things need the module itself: moving data onto the device (``xp.asarray``) and back
(``to_numpy``).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from shared.errors import DeviceError


def _cupy_with_gpu() -> ModuleType:
    """CuPy, if it is installed and sees a CUDA GPU; otherwise a ``DeviceError`` saying why."""
    try:
        import cupy
    except ImportError:
        raise DeviceError(
            "--device gpu needs CuPy, which is not installed; install it with "
            "pip install 'mlp-tiers[gpu]' (CUDA 12) or use --device cpu"
        ) from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError, or a missing driver library
        raise DeviceError(
            f"--device gpu found no usable CUDA GPU ({type(exc).__name__}: {exc}); use --device cpu"
        ) from None
    if count < 1:
        raise DeviceError("--device gpu found no CUDA GPU; use --device cpu")
    return cupy


def array_module(device: str) -> ModuleType:
    """``numpy`` for ``cpu``, ``cupy`` for ``gpu``; ``auto`` takes a GPU when one is usable."""
    if device == "cpu":
        return np
    if device == "gpu":
        return _cupy_with_gpu()
    if device == "auto":
        try:
            return _cupy_with_gpu()
        except DeviceError:
            return np
    raise ValueError(f"device must be cpu, gpu or auto; got {device!r}")


def to_numpy(array: Any) -> np.ndarray:
    """A NumPy array with the values of ``array``, copied off the GPU if it lives there."""
    return array.get() if hasattr(array, "get") else np.asarray(array)
