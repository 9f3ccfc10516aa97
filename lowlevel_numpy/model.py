"""The multilayer perceptron: forward pass, loss, and backpropagation.

For layers ``l = 1 .. L``, numbered from the input (the hidden layers ``l < L``, the output
layer ``L``), as in every formula, gradient check and parity message of the project:

    a_0 = x
    z_l = a_{l-1} @ W_l + b_l,    a_l = dropout(f(z_l))          (hidden layers, l < L)
    z   = a_{L-1} @ W_L + b_L                                     (logits, z_L)
    loss = data_loss(z, t) + l2 * sum_l ||W_l||^2                (kernels only)

Backpropagation applies the chain rule from the loss back to the input, layer by layer:

    dz_L = dL/dz from the loss                                    (losses.loss_and_gradient)
    dW_l = a_{l-1}.T @ dz_l + 2 * l2 * W_l,   db_l = sum_rows dz_l        (every layer)
    da_{l-1} = dz_l @ W_l.T,   dz_{l-1} = dropout_mask * da_{l-1} * f'(z_{l-1})
                                                        (down to l = 2: no da_0, x is data)
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from lowlevel_numpy.activations import ACTIVATIONS
from lowlevel_numpy.layers import Dense, Dropout
from lowlevel_numpy.losses import loss_and_gradient, output_function
from shared.spec import ModelSpec

if TYPE_CHECKING:
    from shared.batching import Shard


class MLP:
    """A stack of ``Dense`` layers with an activation (and dropout) between them.

    Args:
        spec: a resolved ``ModelSpec``.
        params: initial ``[(W, b), ...]``, already of the wanted dtype and on the wanted device.
        dropout: drop probability after every hidden activation.
        l2: L2 penalty factor on the kernels.
        xp: the array module the parameters live in (``numpy``, or ``cupy`` on a GPU).
    """

    def __init__(
        self,
        spec: ModelSpec,
        params: list,
        dropout: float = 0.0,
        l2: float = 0.0,
        xp: ModuleType = np,
    ) -> None:
        self.spec = spec
        self.activation = ACTIVATIONS[spec.activation]
        self.layers = [Dense(W, b) for W, b in params]
        self.dropouts = [Dropout(dropout) for _ in self.layers[:-1]]
        self.l2 = l2
        self.xp = xp
        self._hidden: list[tuple[np.ndarray, np.ndarray]] = []  # (z_l, f(z_l)) per hidden layer

    @property
    def parameters(self) -> list[np.ndarray]:
        """The arrays an optimizer updates in place: ``[W_1, b_1, W_2, b_2, ...]``."""
        return [p for layer in self.layers for p in (layer.W, layer.b)]

    def forward(
        self, x: np.ndarray, rng: np.random.Generator | None = None, shard: Shard | None = None
    ) -> np.ndarray:
        """The logits ``(n, n_outputs)`` for inputs ``x (n, n_inputs)``.

        With an ``rng``, dropout is active (training); without one, it is off (inference). A
        data-parallel replica's ``x`` is its ``shard`` of the batch, which dropout needs to
        know (``Dropout.forward``).
        """
        self._hidden = []
        a = x
        for layer, dropout in zip(self.layers[:-1], self.dropouts):
            z = layer.forward(a)
            a = self.activation.forward(z)
            self._hidden.append((z, a))
            a = dropout.forward(a, rng, self.xp, shard)
        return self.layers[-1].forward(a)

    def loss(
        self, z: np.ndarray, t: np.ndarray, n: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The training loss of logits ``z`` against targets ``t`` (one-hot labels, or a
        regressor's standardized numbers), and ``dL/dz``; the data loss is the mean over the
        batch's ``n`` rows (``z``'s own unless given: a data-parallel replica holds a share).

        ``loss = data_loss(z, t) + l2 * sum_l ||W_l||^2``. The L2 term does not depend on ``z``,
        so ``dL/dz`` is the data loss's alone; ``backward`` adds the term's own gradient.
        """
        loss, dz = loss_and_gradient(self.spec.output, self.spec.loss, z, t, n)
        if self.l2:
            loss = loss + self.l2_penalty()
        return loss, dz

    def l2_penalty(self) -> np.ndarray:
        """``l2 * sum_l sum(W_l^2)`` over the kernels."""
        return self.l2 * sum((layer.W * layer.W).sum() for layer in self.layers)

    def backward(self, dz: np.ndarray) -> list[np.ndarray]:
        """Backpropagate ``dz = dL/dz`` from the logits of the last ``forward``.

        Returns the gradients ``[dW_1, db_1, dW_2, db_2, ...]``, in the order of ``parameters``.
        """
        da = self.layers[-1].backward(dz)
        for layer, dropout, (z, a) in zip(
            reversed(self.layers[:-1]), reversed(self.dropouts), reversed(self._hidden)
        ):
            dz = dropout.backward(da)  # da * mask, in place
            dz *= self.activation.derivative(z, a)  # dz_l = da_l * mask * f'(z_l), in place
            # The first layer's dx is the gradient of the data itself: nothing uses it.
            da = layer.backward(dz, input_gradient=layer is not self.layers[0])
        if self.l2:
            for layer in self.layers:
                layer.dW += 2 * self.l2 * layer.W
        return [g for layer in self.layers for g in (layer.dW, layer.db)]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Predictions ``(n, n_outputs)``, dropout off: class probabilities for a softmax output."""
        return output_function(self.spec.output, self.forward(x))
