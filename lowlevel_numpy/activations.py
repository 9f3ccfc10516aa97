"""Activation functions and their derivatives.

Each activation is a pair: the function ``a = f(z)``, applied elementwise, and its derivative
``da/dz = f'(z)``, which backpropagation multiplies into the incoming gradient:
``dL/dz = dL/da * f'(z)``. The derivative receives both ``z`` and ``a = f(z)`` because for tanh
and sigmoid it is cheapest written in terms of the output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Activation:
    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (z, a) -> f'(z)


def relu(z: np.ndarray) -> np.ndarray:
    """``relu(z) = max(z, 0)``."""
    return np.maximum(z, 0)


def relu_derivative(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``relu'(z) = 1 if z > 0 else 0`` (the kink at 0 gets 0, as in every framework).

    Returned as a boolean array: multiplying by it keeps or zeroes each entry, exactly as
    multiplying by 1.0 or 0.0 would, without building a float array first.
    """
    return z > 0


def tanh(z: np.ndarray) -> np.ndarray:
    """``tanh(z) = (e^z - e^-z) / (e^z + e^-z)``."""
    return np.tanh(z)


def tanh_derivative(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``tanh'(z) = 1 - tanh(z)^2 = 1 - a^2``."""
    return 1 - a * a


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``sigmoid(z) = 1 / (1 + e^-z)``, computed from ``e = e^-|z|``, which never overflows.

    ``sigmoid(z) = 1 / (1 + e)`` for ``z >= 0`` and ``e / (1 + e)`` for ``z < 0`` (multiply the
    top and bottom by ``e^z``). Written as ``1 / (1 + e^-z)``, ``e^-z`` overflows for large
    negative ``z``; written as ``(1 + tanh(z / 2)) / 2``, the sum cancels and loses the relative
    precision of small outputs.
    """
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1, e) / (1 + e)


def sigmoid_derivative(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``sigmoid'(z) = sigmoid(z) * (1 - sigmoid(z)) = a * (1 - a)``."""
    return a * (1 - a)


def identity(z: np.ndarray) -> np.ndarray:
    """``identity(z) = z``: a linear layer."""
    return z


def identity_derivative(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``identity'(z) = 1``."""
    return np.ones_like(z)


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", relu, relu_derivative),
    "tanh": Activation("tanh", tanh, tanh_derivative),
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_derivative),
    "identity": Activation("identity", identity, identity_derivative),
}
