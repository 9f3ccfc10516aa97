"""Initial parameters, made once in NumPy and loaded into every tier.

Parity needs every tier to start from the same numbers, so no tier relies on its framework's
seeded initializers. The formulas are Keras's (``keras.initializers``), with ``fan_in`` and
``fan_out`` the input and output widths of a layer:

- ``glorot_uniform``: ``W ~ U(-limit, limit)``, ``limit = sqrt(6 / (fan_in + fan_out))``
- ``glorot_normal``:  ``W ~ N(0, s^2)`` cut at ``2 s``, ``s = sqrt(2 / (fan_in + fan_out)) / c``
- ``he_uniform``:     ``W ~ U(-limit, limit)``, ``limit = sqrt(6 / fan_in)``
- ``he_normal``:      ``W ~ N(0, s^2)`` cut at ``2 s``, ``s = sqrt(2 / fan_in) / c``

where ``c = 0.87962566103423978`` is the standard deviation of a unit normal truncated at +-2, so
that the truncated draws keep the intended variance. Biases start at zero.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from shared.seeding import stream
from shared.spec import ModelSpec

# A layer's parameters: kernel W of shape (n_in, n_out) and bias b of shape (n_out,).
Params = list[tuple[np.ndarray, np.ndarray]]

TRUNCATED_NORMAL_STD = 0.87962566103423978


def truncated_normal(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    """Normal draws with standard deviation ``std``, redrawn wherever ``|x| > 2 std``."""
    x = rng.standard_normal(shape)
    outside = np.abs(x) > 2.0
    while outside.any():
        x[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(x) > 2.0
    return x * std


def init_kernel(rng: np.random.Generator, init: str, fan_in: int, fan_out: int) -> np.ndarray:
    """One kernel of shape ``(fan_in, fan_out)`` in float64."""
    scale = {"glorot": 2.0 / (fan_in + fan_out), "he": 2.0 / fan_in}[init.split("_")[0]]
    if init.endswith("uniform"):
        limit = np.sqrt(3.0 * scale)  # sqrt(6 / (fan_in + fan_out)) or sqrt(6 / fan_in)
        return rng.uniform(-limit, limit, size=(fan_in, fan_out))
    return truncated_normal(rng, (fan_in, fan_out), np.sqrt(scale) / TRUNCATED_NORMAL_STD)


def init_params(spec: ModelSpec, seed: int, dtype: str = "float64") -> Params:
    """Initial ``[(W, b), ...]`` for a resolved spec, drawn in float64 and cast to ``dtype``.

    Drawing in float64 first means a float32 run starts from the float64 run's weights, rounded.
    """
    rng = stream(seed, "init")
    sizes = spec.layer_sizes
    params = []
    for fan_in, fan_out in pairwise(sizes):
        W = init_kernel(rng, spec.init, fan_in, fan_out)
        params.append((W.astype(dtype), np.zeros(fan_out, dtype=dtype)))
    return params


def check_params(params: Params, spec: ModelSpec, what: str = "parameters") -> None:
    """Raise ``ValueError`` unless ``params`` (named ``what`` in the message) has the shapes
    ``spec`` needs."""
    sizes = spec.layer_sizes
    expected = [((a, b), (b,)) for a, b in pairwise(sizes)]
    actual = [(tuple(W.shape), tuple(b.shape)) for W, b in params]
    if actual != expected:
        raise ValueError(
            f"{what} have shapes {actual}, but the model {'-'.join(map(str, sizes))} "
            f"needs {expected}"
        )
