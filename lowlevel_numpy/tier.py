"""The NumPy tier: the ``Tier`` protocol around ``MLP`` and an ``Optimizer``.

One training step is the whole algorithm:

    loss, grads = mlp.loss_and_gradients(x, t)   # forward, loss, backward
    optimizer.apply_update(params, grads)         # w <- w - (something) * g

``fit`` (from ``shared.loop.LoopTier``, the loop every hand-written tier shares) repeats it over
the batches of ``shared.batching`` for each epoch, then evaluates on the validation set and
applies early stopping.
"""

from __future__ import annotations

import numpy as np

from lowlevel_numpy.backend import array_module, to_numpy
from lowlevel_numpy.model import MLP
from lowlevel_numpy.optimizers import make_optimizer
from shared.init import Params, check_params
from shared.loop import LoopTier
from shared.seeding import stream
from shared.spec import ModelSpec, TrainSpec


class NumpyTier(LoopTier):
    """The MLP in NumPy (or CuPy on a GPU), trained by the hand-written backward pass."""

    name = "numpy"

    def __init__(self, model: ModelSpec, train: TrainSpec, params: Params) -> None:
        super().__init__(model, train, params)
        self.xp = array_module(train.device)
        # Copies: training updates the weights in place and must not touch the caller's arrays.
        on_device = [
            (self.xp.array(W, dtype=self.dtype), self.xp.array(b, dtype=self.dtype))
            for W, b in params
        ]
        self.mlp = MLP(model, on_device, dropout=train.dropout, l2=train.l2)
        self.optimizer = make_optimizer(self.mlp.parameters(), train)
        self.slot_names = self.optimizer.slots

    @property
    def step(self) -> int:
        """Optimizer steps taken so far."""
        return self.optimizer.iterations

    # -- one step ---------------------------------------------------------------------------

    def _train_batch(self, x: np.ndarray, t: np.ndarray) -> float:
        return self._step(self.xp.asarray(x), self.xp.asarray(t))

    def _to_device(self, x: np.ndarray, t: np.ndarray):
        return self.xp.asarray(x), self.xp.asarray(t)  # moved once, then sliced per batch

    def _train_rows(self, x, t, rows: np.ndarray) -> float:
        rows = self.xp.asarray(rows)
        return self._step(x[rows], t[rows])

    def _step(self, x, t) -> float:
        # Dropout masks come from a stream keyed by the step, so a resumed run draws the same ones.
        rng = (
            stream(self.train_spec.seed, "dropout", self.step) if self.train_spec.dropout else None
        )
        loss, grads = self.mlp.loss_and_gradients(x, t, rng, self.xp)
        self.optimizer.apply_update(self.mlp.parameters(), grads)
        return float(loss)

    # -- inference, parameters and optimizer state ------------------------------------------

    def _predict(self, x: np.ndarray) -> np.ndarray:
        return to_numpy(self.mlp.predict(self.xp.asarray(x)))

    def get_params(self) -> Params:
        return [(to_numpy(layer.W).copy(), to_numpy(layer.b).copy()) for layer in self.mlp.layers]

    def set_params(self, params: Params) -> None:
        """Overwrite the weights in place (the optimizer keeps references to these arrays)."""
        check_params(params, self.model_spec)
        for layer, (W, b) in zip(self.mlp.layers, params):
            layer.W[...] = self.xp.asarray(W, self.dtype)
            layer.b[...] = self.xp.asarray(b, self.dtype)

    def _get_slots(self) -> dict[str, list[np.ndarray]]:
        return {
            name: [to_numpy(a).copy() for a in arrays]
            for name, arrays in self.optimizer.state.items()
        }

    def _set_slots(self, slots: dict[str, list[np.ndarray]], step: int) -> None:
        for name, arrays in slots.items():
            for target, value in zip(self.optimizer.state[name], arrays):
                target[...] = self.xp.asarray(value)
        self.optimizer.iterations = step
