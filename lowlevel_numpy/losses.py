"""The output function, the losses, and their gradients with respect to the logits.

The last layer emits logits ``z`` of shape ``(n, k)``; ``t`` are targets of the same shape: one-hot
labels, or a regressor's standardized numbers (its loss is the MSE of the identity output).
Every loss is averaged over the ``n`` samples of the batch (Keras's ``sum_over_batch_size``), so
every gradient below carries a factor ``1 / n``. A data-parallel replica holds only its share of
the batch's rows and passes the whole batch's ``n``: the replicas' sums then add up to the
batch's mean (``lowlevel_numpy.replicas``).
"""

from __future__ import annotations

import numpy as np


def log_softmax(z: np.ndarray) -> np.ndarray:
    """``log softmax(z)_j = z_j - log sum_i e^{z_i}``, row by row.

    Subtracting the row maximum first changes nothing mathematically (it cancels) but keeps every
    exponent <= 0, so ``e^{...}`` cannot overflow: the log-sum-exp trick.
    """
    shifted = z - z.max(axis=1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # in place: no new array
    return shifted


def softmax(z: np.ndarray) -> np.ndarray:
    """``softmax(z)_j = e^{z_j} / sum_i e^{z_i}``: probabilities, each row summing to 1."""
    return np.exp(log_softmax(z))


def softmax_cross_entropy(
    z: np.ndarray, t: np.ndarray, n: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Cross-entropy of ``softmax(z)`` against ``t``, computed from the logits; and ``dL/dz``.

    ``L = -(1/n) sum_rows sum_j t_j log softmax(z)_j``
    ``dL/dz = (softmax(z) - t) / n``

    ``n`` is the batch's row count (``z``'s own rows unless given). The gradient is this simple
    because the softmax's Jacobian and the logarithm's derivative cancel. Working from logits
    avoids ``log(0)``: never take the log of a computed probability.
    """
    n = z.shape[0] if n is None else n
    log_p = log_softmax(z)
    loss = -(t * log_p).sum() / n
    dz = np.exp(log_p)  # softmax(z), from the log-probabilities already at hand
    dz -= t  # in place, then
    dz /= n  # in place: (softmax(z) - t) / n with one array for the whole gradient
    return loss, dz


def mean_squared_error(
    y: np.ndarray, t: np.ndarray, n: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean squared error over samples and outputs (as Keras averages it); and ``dL/dy``.

    ``L = (1/(n k)) sum (y - t)^2``,   ``dL/dy = 2 (y - t) / (n k)``

    ``n`` is the batch's row count (``y``'s own rows unless given), ``k`` the outputs.
    """
    diff = y - t
    size = diff.size if n is None else n * diff.shape[1]
    return (diff * diff).sum() / size, 2 * diff / size


def softmax_backward(p: np.ndarray, dp: np.ndarray) -> np.ndarray:
    """``dL/dz`` from ``dL/dp`` through ``p = softmax(z)``, row by row.

    The softmax's Jacobian is ``dp_i/dz_j = p_i (delta_ij - p_j)``, so
    ``dL/dz_j = sum_i dL/dp_i p_i (delta_ij - p_j) = p_j (dL/dp_j - sum_i dL/dp_i p_i)``.
    """
    return p * (dp - (dp * p).sum(axis=1, keepdims=True))


def output_function(output: str, z: np.ndarray) -> np.ndarray:
    """Predictions from logits: ``softmax(z)`` or ``z`` itself."""
    return softmax(z) if output == "softmax" else z


def loss_and_gradient(
    output: str, loss: str, z: np.ndarray, t: np.ndarray, n: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The batch loss and ``dL/dz`` for an output function and loss pair (see ``ModelSpec``),
    averaged over ``n`` rows (``z``'s own unless given)."""
    if loss == "cross_entropy":
        return softmax_cross_entropy(z, t, n)
    y = output_function(output, z)
    value, dy = mean_squared_error(y, t, n)
    return value, (softmax_backward(y, dy) if output == "softmax" else dy)
