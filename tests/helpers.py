"""Small data made in memory, and checks of what this machine has, shared by several test
modules."""

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

    TensorFlow is imported through ``adapters.tensorflow_setup`` (quietly, as the tiers import it), never
    directly: a direct import sets ``TF_CPP_MIN_LOG_LEVEL`` itself, which child processes would
    then read as the user's choice.
    """
    import pytest

    from adapters.tensorflow_setup import import_tensorflow
    from shared.packages import installed

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

    from mlp_tiers.registry import TIERS, process_keras_backend

    if TIERS[tier].conflicts():
        pytest.skip(
            f"{tier} needs Keras on {TIERS[tier].keras_backend}; this process runs Keras on "
            f"{process_keras_backend()} (make test runs each backend in its own pass)"
        )


# The grid of the lockstep parity tests: every optimizer, activation and output-and-loss pair.
OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam", "rmsprop"]
ACTIVATIONS = ["relu", "tanh", "sigmoid", "identity"]
HEADS = [("softmax", "cross_entropy"), ("softmax", "mse"), ("identity", "mse")]
# Hyper-parameters that float32 represents exactly, so that Keras's float32 detour changes nothing.
EXACT = dict(lr=0.125, momentum=0.875, beta1=0.875, beta2=0.998046875, rho=0.875, eps=2.0**-20)


def steps(name, model, train, n=1, **options):
    """Tier ``name`` from the shared initial weights after ``n`` steps on the batches ``0 ..
    n-1`` of ``parity_batch``: the step losses and the parameters."""
    from mlp_tiers.registry import get_tier
    from shared.init import init_params

    tier = get_tier(name)(model, train, init_params(model, 0, train.dtype), **options)
    losses = [tier.train_on_batch(*parity_batch(train.dtype, seed=seed)) for seed in range(n)]
    return losses, tier.get_params()


def parity_batch(dtype, n=16, seed=0):
    """A batch of 16 samples for the 5-input, 3-class parity models."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)).astype(dtype), rng.integers(0, 3, n)


def process_running(pid: int) -> bool:
    """True while process ``pid`` exists and is not a zombie (Linux's /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# The data-parallel tests (tests/*/test_replicas.py). digits: 1,221 training rows; a batch of 90
# leaves a last batch of 51. Neither divides among 2 or 4 replicas (4 replicas take 23, 23, 22,
# 22 rows of a full batch), so every engine meets uneven shares: padded on Keras, uneven slices
# elsewhere. SGD and Adam, each with and without dropout and L2.
REPLICA_SPECS = [
    {"optimizer": optimizer, **regularized}
    for optimizer in ("sgd", "adam")
    for regularized in ({}, {"dropout": 0.2, "l2": 1e-3})
]


def replica_config(replicas: int, train: dict) -> dict:
    """A run config of two float64 epochs of digits on ``replicas`` replicas, ``train`` on top."""
    return {
        "data": {"name": "digits"},
        "model": {"hidden": [32, 16]},
        "train": {"dtype": "float64", "epochs": 2, "batch_size": 90, "replicas": replicas,
                  **train},
    }  # fmt: skip


def gpu_available() -> bool:
    """Whether the NumPy tier can run on a GPU here (CuPy installed, a CUDA GPU seen)."""
    from lowlevel_numpy.backend import array_module
    from shared.errors import DeviceError

    try:
        array_module("gpu")
    except DeviceError:
        return False
    return True
