"""The two layers of an MLP: a dense (fully connected) layer, and inverted dropout.

Each layer keeps what its ``backward`` needs from its last ``forward``, so a training step is
``forward`` through all layers, then ``backward`` through them in reverse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from shared.batching import Shard


class Dense:
    """``z = x @ W + b``  with ``x: (n, n_in)``, ``W: (n_in, n_out)``, ``b: (n_out,)``.

    Backward, given ``dz = dL/dz`` of shape ``(n, n_out)``:

    - ``dW = x.T @ dz``   (n_in, n_out): each weight's gradient sums over the batch;
    - ``db = sum_rows dz`` (n_out,): the bias is added to every row;
    - ``dx = dz @ W.T``   (n, n_in): passed on to the layer below.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.W, self.b = W, b
        self.dW = np.zeros_like(W)
        self.db = np.zeros_like(b)
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        z = x @ self.W
        z += self.b  # in place: the same sum as ``x @ W + b`` without a second (n, n_out) array
        return z

    def backward(self, dz: np.ndarray, input_gradient: bool = True) -> np.ndarray | None:
        """The gradients of ``W`` and ``b`` (kept in ``dW``, ``db``), and ``dx`` unless
        ``input_gradient`` is false.

        The first layer's input is the data: nothing below it learns, so its ``dx`` would be
        computed and thrown away. For MNIST's 784 inputs that product is about a quarter of a
        training step, so the model asks the first layer to skip it.
        """
        self.dW = self._x.T @ dz
        self.db = dz.sum(axis=0)
        return dz @ self.W.T if input_gradient else None


class Dropout:
    """Inverted dropout: ``a * mask`` with ``mask_ij = 1/(1-rate)`` kept, ``0`` dropped.

    Each unit is dropped with probability ``rate`` during training; the survivors are scaled by
    ``1/(1-rate)`` so that the expected activation is unchanged, and inference needs no scaling.
    The masks are drawn with NumPy on the host (then moved to the device), so a run draws the
    same masks on the CPU and on a GPU. Backward applies the same mask: ``da = d(out) * mask``.
    """

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._mask: np.ndarray | None = None

    def forward(
        self, a: np.ndarray, rng: np.random.Generator | None, xp=np, shard: Shard | None = None
    ) -> np.ndarray:
        """``a * mask``. A data-parallel replica's ``a`` holds its ``shard`` of the batch's
        rows: it draws the whole batch's mask and keeps its own rows, so that the replicas
        together drop exactly what one process would."""
        if rng is None or self.rate == 0.0:
            self._mask = None
            return a
        shape = a.shape if shard is None else (shard.batch_rows, a.shape[1])
        keep = rng.random(shape) >= self.rate
        if shard is not None:
            keep = keep[shard.rows]
        self._mask = xp.asarray(keep.astype(a.dtype) / a.dtype.type(1 - self.rate))
        return a * self._mask

    def backward(self, da: np.ndarray) -> np.ndarray:
        """``da * mask``, written into ``da`` (which the layer above computed for this step)."""
        if self._mask is not None:
            da *= self._mask
        return da
