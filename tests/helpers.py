"""Small data made in memory, shared by several test modules."""

import gzip

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
