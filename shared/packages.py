"""Which optional packages are installed, and the versions a result depends on."""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import platform

import numpy as np

import shared


def installed(package: str) -> bool:
    """Whether ``package`` can be found, without importing it (a broken install counts as no)."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


# Installed distributions whose versions a result may depend on (read without importing them).
FRAMEWORKS = ("tensorflow", "tensorflow-cpu", "keras", "jax", "jaxlib", "torch",
              "cupy-cuda12x", "cupy-cuda13x")  # fmt: skip


def versions() -> dict[str, str]:
    """The versions a result depends on, recorded in checkpoints, run folders and reports."""
    found = {
        "mlp-tiers": shared.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    for name in FRAMEWORKS:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    return found
