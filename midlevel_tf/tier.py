"""The TensorFlow tier: one training loop for both flavours, compiled three ways.

A training step, in both flavours:

    with tf.GradientTape() as tape:
        loss = model.objective(x, t, seed)            # the forward pass, recorded
    grads = tape.gradient(loss, model.parameters)      # the backward pass, derived by TensorFlow
    optimizer.apply(grads, model.parameters)

``mode`` decides how that Python function runs:

- ``function`` (the default): ``tf.function`` traces it once into a graph, which TensorFlow runs
  without returning to Python between ops;
- ``eager``: op by op, as written; the slowest, and the easiest to step through in a debugger;
- ``jit``: ``tf.function(jit_compile=True)``: XLA compiles the graph and fuses its ops.

The loop itself (batches from ``shared.batching``, validation, early stopping, checkpoints) is
``shared.loop.LoopTier``, the NumPy tier's loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import numpy as np

from midlevel_tf.runtime import device_name, tf
from shared.errors import UnknownNameError
from shared.frameworks import keras_dtype
from shared.init import Params, check_params
from shared.loop import LoopTier
from shared.spec import ModelSpec, TrainSpec

MODES = ("function", "eager", "jit")


class TFTier(LoopTier):
    """Base of the two flavours; a subclass says how to build its model and optimizer."""

    name = "tf"

    def __init__(
        self, model: ModelSpec, train: TrainSpec, params: Params, mode: str = "function"
    ) -> None:
        super().__init__(model, train, params)
        if mode not in MODES:
            raise UnknownNameError(
                f"unknown TensorFlow execution mode {mode!r}; the modes are {', '.join(MODES)}"
            )
        self.mode = mode
        self.device = device_name(train.device)
        params = [(np.asarray(W, self.dtype), np.asarray(b, self.dtype)) for W, b in params]
        with self._context():
            self.model, self.optimizer = self._build(model, train, params)
            self._seed = tf.constant(train.seed, tf.int64)
        self.slot_names = self.optimizer.slots

        dtype = tf.as_dtype(self.dtype)
        x_spec = tf.TensorSpec([None, model.n_inputs], dtype)
        t_spec = tf.TensorSpec([None, model.n_outputs], dtype)
        rows_spec = tf.TensorSpec([None], tf.int64)
        self._step_fn = self._compile(self._train_on, [x_spec, t_spec])
        self._rows_fn = self._compile(self._train_on_rows, [x_spec, t_spec, rows_spec])
        self._predict_fn = self._compile(self.model.predict, [x_spec])

    def _build(self, model: ModelSpec, train: TrainSpec, params: Params) -> tuple[Any, Any]:
        raise NotImplementedError

    def _context(self) -> AbstractContextManager:
        """Where (and, for Keras objects, with which float type) every TensorFlow call runs."""
        return tf.device(self.device)

    def _compile(self, fn: Callable, signature: list[tf.TensorSpec]) -> Callable:
        if self.mode == "eager":
            return fn
        return tf.function(fn, input_signature=signature, jit_compile=self.mode == "jit")

    # -- the step -------------------------------------------------------------------------------

    def _train_on(self, x: tf.Tensor, t: tf.Tensor) -> tf.Tensor:
        seed = None
        if self.train_spec.dropout:
            # A pure function of (seed, step): resuming draws the same dropout masks.
            seed = tf.stack([self._seed, tf.convert_to_tensor(self.optimizer.iterations)])
        with tf.GradientTape() as tape:
            loss = self.model.objective(x, t, seed)
        grads = tape.gradient(loss, self.model.parameters)
        self.optimizer.apply(grads, self.model.parameters)
        return loss

    def _train_on_rows(self, x: tf.Tensor, t: tf.Tensor, rows: tf.Tensor) -> tf.Tensor:
        return self._train_on(tf.gather(x, rows), tf.gather(t, rows))

    @property
    def step(self) -> int:
        return int(self.optimizer.iterations.numpy())

    def _train_batch(self, x: np.ndarray, t: np.ndarray) -> tf.Tensor:
        with self._context():
            return self._step_fn(tf.constant(x), tf.constant(t))

    def _to_device(self, x: np.ndarray, t: np.ndarray) -> tuple[tf.Tensor, tf.Tensor]:
        with self._context():  # copied once; each step gathers its rows there
            return tf.identity(tf.constant(x)), tf.identity(tf.constant(t))

    def _train_rows(self, x: tf.Tensor, t: tf.Tensor, rows: np.ndarray) -> tf.Tensor:
        with self._context():
            return self._rows_fn(x, t, tf.constant(rows, tf.int64))

    # -- inference, parameters, optimizer state -------------------------------------------------

    def _predict(self, x: np.ndarray) -> np.ndarray:
        with self._context():
            return self._predict_fn(tf.constant(x)).numpy()

    def get_params(self) -> Params:
        return [(W.numpy(), b.numpy()) for W, b in self.model.pairs()]

    def set_params(self, params: Params) -> None:
        check_params(params, self.model_spec)
        for (W, b), (W_new, b_new) in zip(self.model.pairs(), params):
            W.assign(np.asarray(W_new, self.dtype))
            b.assign(np.asarray(b_new, self.dtype))

    def _get_slots(self) -> dict[str, list[np.ndarray]]:
        return {
            name: [v.numpy() for v in variables] for name, variables in self.optimizer.state.items()
        }

    def _set_slots(self, slots: dict[str, list[np.ndarray]], step: int) -> None:
        for name, arrays in slots.items():
            for variable, value in zip(self.optimizer.state[name], arrays):
                variable.assign(value)
        self.optimizer.iterations.assign(step)


class TFNnTier(TFTier):
    """``tf-nn``: ``tf.Variable``s, ``tf.nn`` ops, optimizers written with TensorFlow ops."""

    name = "tf-nn"

    def _build(self, model: ModelSpec, train: TrainSpec, params: Params) -> tuple[Any, Any]:
        from midlevel_tf.nn import NnModel
        from midlevel_tf.optimizers import make_optimizer

        net = NnModel(model, train, params)
        return net, make_optimizer(net.parameters, train)


class TFLayersTier(TFTier):
    """``tf-layers``: Keras ``Dense`` layers, loss and optimizer in a ``GradientTape`` loop."""

    name = "tf-layers"

    def _build(self, model: ModelSpec, train: TrainSpec, params: Params) -> tuple[Any, Any]:
        from midlevel_tf.layers import KerasOptimizer, LayersModel

        net = LayersModel(model, train, params)
        return net, KerasOptimizer(net.parameters, train)

    @contextmanager
    def _context(self) -> Iterator[None]:
        from midlevel_tf.layers import keras

        with tf.device(self.device), keras_dtype(keras, self.dtype):
            yield
