"""The TensorFlow tier: one training step, compiled three ways, and the training loop around it.

A training step, in both flavours (``TFTier._train_step``):

    with tf.GradientTape() as tape:
        z = model.forward(x, seed)                   # the forward pass, recorded
        loss = model.loss(z, t)                      # data loss + L2, recorded
    grads = tape.gradient(loss, model.parameters)    # the backward pass, derived by TensorFlow
    apply_update(model.parameters, grads)            # tf-nn: our ops; tf-layers: Keras's

``mode`` decides how that Python function runs:

- ``function`` (the default): ``tf.function`` traces it once into a graph, which TensorFlow runs
  without returning to Python between ops;
- ``eager``: op by op, as written; the slowest, and the easiest to step through in a debugger;
- ``jit``: ``tf.function(jit_compile=True)``: XLA compiles the graph and fuses its ops.

``fit`` is the NumPy tier's loop written again around this step, which it calls through
``_train_steps``: a loop of up to ``STEPS_PER_CALL`` steps inside the graph, so that TensorFlow
goes from one step to the next without coming back to Python. The validation loss, early
stopping and checkpoint counters come from the plain helpers of ``shared.training``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from midlevel_tf.runtime import device_name, tf
from shared.batching import epoch_batches, n_batches
from shared.callbacks import Callback, CallbackList
from shared.checkpoint import Checkpoint, pairs
from shared.contract import check_batch
from shared.errors import UnknownNameError
from shared.history import History
from shared.init import Params, check_params
from shared.metrics import one_hot
from shared.spec import ModelSpec, TrainSpec
from shared.training import (
    check_finite,
    checkpoint_of,
    early_stopping_for,
    end_of_epoch,
    epoch_loss,
    predict_in_chunks,
    restore_best_weights,
    resume_counters,
    stopped,
    training_arrays,
)

if TYPE_CHECKING:
    from shared.data import Dataset

MODES = ("function", "eager", "jit")

# Steps per call of the compiled loop (``_train_steps``). Measured with ``mlp-tiers bench`` (see
# docs/benchmarks.md), calling TensorFlow once per step cost a third of the epoch on MNIST's
# shapes; sixteen steps per call make that cost small, and the loop still sees every step's loss.
STEPS_PER_CALL = 16


def steps_per_call(batches: list[np.ndarray], k: int) -> Iterator[tuple[int, list[np.ndarray]]]:
    """``(index of the first batch, up to k consecutive batches of one size)``: one call each.
    The last batch of an epoch may be smaller; it gets a call of its own."""
    first = 0
    while first < len(batches):
        size = len(batches[first])
        last = first + 1
        while last < len(batches) and last - first < k and len(batches[last]) == size:
            last += 1
        yield first, batches[first:last]
        first = last


class TFTier:
    """What both flavours share; each says how to build its model and optimizer, how to apply an
    update, and where its optimizer keeps its state."""

    name = "tf"

    def __init__(
        self, model: ModelSpec, train: TrainSpec, params: Params, mode: str = "function"
    ) -> None:
        check_params(params, model)
        if mode not in MODES:
            raise UnknownNameError(
                f"unknown TensorFlow execution mode {mode!r}; the modes are {', '.join(MODES)}"
            )
        self.model_spec, self.train_spec, self.dtype = model, train, train.dtype
        self.mode = mode
        self.device = device_name(train.device)
        params = [(np.asarray(W, self.dtype), np.asarray(b, self.dtype)) for W, b in params]
        with self._context():
            self.model, self.optimizer = self._build(model, train, params)
            self._seed = tf.constant(train.seed, tf.int64)
        self.epoch = 0  # completed epochs
        self.history = History()
        self.early_stopping = early_stopping_for(train)

        dtype = tf.as_dtype(self.dtype)
        x_spec = tf.TensorSpec([None, model.n_inputs], dtype)
        t_spec = tf.TensorSpec([None, model.n_outputs], dtype)
        # The signatures let the partial last batch reuse the traced graph instead of retracing.
        self._compiled_step = self._compile(self._train_step, [x_spec, t_spec])
        self._compiled_predict = self._compile(self.model.predict_proba, [x_spec])
        # Traced once per shape of its row chunks: (STEPS_PER_CALL, batch), the epoch's rest,
        # and the last, smaller batch. XLA needs those shapes known.
        self._compiled_steps = self._compile(self._train_steps, None)

    # -- what a flavour supplies ----------------------------------------------------------------

    def _build(self, model: ModelSpec, train: TrainSpec, params: Params) -> tuple[Any, Any]:
        raise NotImplementedError

    def apply_update(self, params: list[Any], grads: list[tf.Tensor]) -> None:
        raise NotImplementedError

    def _slot_variables(self) -> dict[str, list[Any]]:
        """The optimizer's state variables by checkpoint slot name, one per parameter."""
        raise NotImplementedError

    def _context(self) -> AbstractContextManager:
        """Where (and, for Keras objects, with which float type) every TensorFlow call runs."""
        return tf.device(self.device)

    def _compile(self, fn: Callable, signature: list[tf.TensorSpec] | None) -> Callable:
        if self.mode == "eager":
            return fn
        return tf.function(fn, input_signature=signature, jit_compile=self.mode == "jit")

    @property
    def step(self) -> int:
        """Optimizer steps taken so far."""
        return int(self.optimizer.iterations.numpy())

    # -- one step -------------------------------------------------------------------------------

    def _train_step(self, x: tf.Tensor, t: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """One optimizer step on ``x (n, n_inputs)`` and one-hot ``t (n, n_outputs)``. Returns
        the loss and how many samples the forward pass got right (the training accuracy,
        counted as Keras counts it: before the update)."""
        seed = None
        if self.train_spec.dropout:
            # A pure function of (seed, step): resuming draws the same dropout masks.
            seed = tf.stack([self._seed, tf.convert_to_tensor(self.optimizer.iterations)])
        with tf.GradientTape() as tape:
            z = self.model.forward(x, seed)
            loss = self.model.loss(z, t)
        grads = tape.gradient(loss, self.model.parameters)
        self.apply_update(self.model.parameters, grads)
        right = tf.equal(tf.argmax(z, axis=1), tf.argmax(t, axis=1))
        return loss, tf.reduce_sum(tf.cast(right, tf.int32))

    def _train_steps(
        self, x: tf.Tensor, t: tf.Tensor, rows: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """``_train_step`` on each batch of ``rows (k, batch)`` in turn, its rows of the training
        arrays gathered inside the graph; the ``k`` losses, and the ``k`` counts of samples
        classified right.

        One call runs ``k`` steps: ``tf.range`` makes the loop part of the graph (AutoGraph), so
        TensorFlow goes from one step to the next without coming back to Python.
        """
        k = tf.shape(rows)[0]
        losses, corrects = tf.TensorArray(x.dtype, size=k), tf.TensorArray(tf.int32, size=k)
        for i in tf.range(k):
            loss, correct = self._train_step(tf.gather(x, rows[i]), tf.gather(t, rows[i]))
            losses, corrects = losses.write(i, loss), corrects.write(i, correct)
        return losses.stack(), corrects.stack()

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One optimizer step on host arrays ``x (n, n_inputs)`` and labels ``y (n,)``."""
        x, y = np.asarray(x), np.asarray(y)
        check_batch(x, y, self.model_spec, self.dtype)
        t = one_hot(y, self.model_spec.n_outputs, self.dtype)
        with self._context():
            loss, _ = self._compiled_step(tf.constant(x), tf.constant(t))
        return float(loss)

    def probe(self, x: np.ndarray, y: np.ndarray) -> dict:
        """The logits, loss and gradients of one batch at the current weights, dropout off,
        changing nothing: what ``mlp-tiers parity`` compares level by level."""
        x, y = np.asarray(x), np.asarray(y)
        check_batch(x, y, self.model_spec, self.dtype)
        t = one_hot(y, self.model_spec.n_outputs, self.dtype)
        with self._context(), tf.GradientTape() as tape:
            z = self.model.forward(tf.constant(x))
            loss = self.model.loss(z, tf.constant(t))
        grads = tape.gradient(loss, self.model.parameters)
        return {
            "logits": z.numpy(),
            "loss": float(loss),
            "grads": pairs([g.numpy() for g in grads]),
        }

    # -- the training loop ----------------------------------------------------------------------
    # The NumPy tier's loop, written again on purpose: each tier's folder shows its whole loop.

    def fit(self, data: Dataset, callbacks: Sequence[Callback] = ()) -> History:
        """Train from the current epoch up to ``train.epochs``; early stopping may end it sooner."""
        spec = self.train_spec
        x, t = training_arrays(data, self.model_spec, self.dtype)
        with self._context():  # onto the device once; each step gathers its rows there
            x, t = tf.identity(tf.constant(x)), tf.identity(tf.constant(t))
        n = len(data.y_train)
        callbacks = CallbackList(callbacks, self)
        steps = n_batches(n, spec.batch_size)
        callbacks.train_begin(self.epoch + 1, spec.epochs, steps)

        while self.epoch < spec.epochs and not stopped(self.early_stopping):
            start = time.perf_counter()
            losses, sizes, correct = [], [], 0
            batches = epoch_batches(n, spec.batch_size, spec.seed, self.epoch)
            # Several steps per call into TensorFlow (STEPS_PER_CALL): each call costs Python
            # time that, on small batches, rivals the step itself. The steps are the same.
            for first, chunk in steps_per_call(batches, STEPS_PER_CALL):
                with self._context():
                    chunk_losses, chunk_correct = self._compiled_steps(
                        x, t, tf.constant(np.stack(chunk))
                    )
                for batch, loss in enumerate(chunk_losses.numpy().tolist(), start=first):
                    check_finite(self, loss, batch + 1, steps)  # the first step that diverged
                    losses.append(loss)
                    sizes.append(len(batches[batch]))
                    callbacks.batch_end(batch, loss)
                correct += int(chunk_correct.numpy().sum())
            train_loss, train_accuracy = epoch_loss(losses, sizes), correct / n
            seconds = time.perf_counter() - start
            self.epoch += 1
            # validation, early stopping
            record = end_of_epoch(self, data, train_loss, train_accuracy, seconds)
            callbacks.epoch_end(record)

        restore_best_weights(self)
        callbacks.train_end()
        return self.history

    # -- inference, parameters, checkpoints -----------------------------------------------------

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Predictions ``(n, n_outputs)`` as NumPy, dropout off; probabilities for softmax."""

        def predict(chunk: np.ndarray) -> np.ndarray:
            with self._context():
                return self._compiled_predict(tf.constant(chunk)).numpy()

        return predict_in_chunks(predict, x, self.model_spec, self.dtype)

    def get_params(self) -> Params:
        """``[(W, b), ...]`` as NumPy copies."""
        return [(W.numpy(), b.numpy()) for W, b in self.model.pairs()]

    def set_params(self, params: Params) -> None:
        check_params(params, self.model_spec)
        for (W, b), (W_new, b_new) in zip(self.model.pairs(), params):
            W.assign(np.asarray(W_new, self.dtype))
            b.assign(np.asarray(b_new, self.dtype))

    def checkpoint(self) -> Checkpoint:
        """The full training state: weights, optimizer slots, counters, history."""
        slots = {
            name: [v.numpy() for v in variables]
            for name, variables in self._slot_variables().items()
        }
        return checkpoint_of(self, slots)

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continue from ``checkpoint``, which any tier may have written."""
        variables = self._slot_variables()
        checkpoint.check_fits(self.model_spec, self.train_spec.optimizer, variables)
        self.set_params(checkpoint.params)
        for name, arrays in checkpoint.flat_slots(self.dtype).items():
            for variable, value in zip(variables[name], arrays):
                variable.assign(value)
        self.optimizer.iterations.assign(checkpoint.step)
        resume_counters(self, checkpoint)


class TFNnTier(TFTier):
    """``tf-nn``: ``tf.Variable``s, ``tf.nn`` ops, optimizers written with TensorFlow ops."""

    name = "tf-nn"

    def _build(self, model: ModelSpec, train: TrainSpec, params: Params) -> tuple[Any, Any]:
        from midlevel_tf.nn import NnModel
        from midlevel_tf.optimizers import make_optimizer

        net = NnModel(model, train, params)
        return net, make_optimizer(net.parameters, train)

    def apply_update(self, params: list[tf.Variable], grads: list[tf.Tensor]) -> None:
        self.optimizer.apply_update(params, grads)  # midlevel_tf.optimizers: the rule as TF ops

    def _slot_variables(self) -> dict[str, list[tf.Variable]]:
        return self.optimizer.state


class TFLayersTier(TFTier):
    """``tf-layers``: Keras ``Dense`` layers, loss and optimizer in a ``GradientTape`` loop."""

    name = "tf-layers"

    def _build(self, model: ModelSpec, train: TrainSpec, params: Params) -> tuple[Any, Any]:
        from midlevel_tf.layers import LayersModel, make_optimizer

        net = LayersModel(model, train, params)
        optimizer = make_optimizer(train)
        optimizer.build(net.parameters)
        return net, optimizer

    def apply_update(self, params: list[Any], grads: list[tf.Tensor]) -> None:
        self.optimizer.apply_gradients(zip(grads, params))  # Keras's optimizer: gradients first

    def _slot_variables(self) -> dict[str, list[Any]]:
        from adapters.keras_setup import optimizer_slots

        return optimizer_slots(
            self.optimizer, self.train_spec.optimizer, len(self.model.parameters)
        )

    @contextmanager
    def _context(self) -> Iterator[None]:
        from adapters.keras_setup import keras_dtype
        from midlevel_tf.layers import keras

        with tf.device(self.device), keras_dtype(keras, self.dtype):
            yield
