"""Small data made in memory, shared by several test modules."""

import gzip
import importlib

import numpy as np


def blobs(n_per_class: int = 40, n_classes: int = 3, n_features: int = 5, seed: int = 0):
    """Gaussian blobs: an easy classification problem, made in memory."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, size=(n_classes, n_features))
    x = np.concatenate([c + rng.normal(size=(n_per_class, n_features)) for c in centres])
    y = np.repeat(np.arange(n_classes), n_per_class)
    return x, y


def write_idx_gz(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def require_framework(package: str, extra: str):
    """Skip the calling test module, with the reason, unless ``package`` is installed.

    TensorFlow is imported through ``shared.frameworks`` (quietly, as the tiers import it), never
    directly: a direct import sets ``TF_CPP_MIN_LOG_LEVEL`` itself, which child processes would
    then read as the user's choice.
    """
    import pytest

    from shared.frameworks import import_tensorflow
    from shared.tiers import installed

    if not installed(package):
        pytest.skip(
            f"needs {package}, which is not installed (pip install -e '.[{extra}]')",
            allow_module_level=True,
        )
    if package == "tensorflow":
        return import_tensorflow()
    return importlib.import_module(package)


def skip_if_other_keras_backend(tier: str) -> None:
    """Skip, with the reason, a tier whose Keras backend is not this test process's.

    Keras fixes its backend once per process; ``make test`` runs the suite once per installed
    backend (``KERAS_BACKEND=jax`` for the second run), so each tier is tested in one of them.
    """
    import pytest

    from shared.tiers import TIERS, process_keras_backend

    if TIERS[tier].conflicts():
        pytest.skip(
            f"{tier} needs Keras on {TIERS[tier].keras_backend}; this process runs Keras on "
            f"{process_keras_backend()} (make test runs each backend in its own pass)"
        )
