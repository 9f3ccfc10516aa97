"""The TensorFlow tier: one training step, compiled three ways, and the training loop around it.

A training step, in both flavours (``TFTier.train_step``):

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

With ``--replicas N`` the step is ``replicated_step``: a ``tf.distribute`` strategy runs the
same forward and backward pass on N replicas, each on its rows of the batch, and sums their
gradients before one update of every copy of the weights (``docs/distributed.md``).

``fit`` is the NumPy tier's loop written again around this step: the same lines, but for the
ones that name TensorFlow. A faster loop, several steps per call into TensorFlow, is the variant
``steps16`` (``midlevel_tf.multistep``), which ``mlp-tiers bench`` times beside this one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from midlevel_tf import multistep
from midlevel_tf.runtime import device_name, is_chief, replica_strategy, tf
from shared.batching import epoch_batches, n_batches
from shared.callbacks import Callback, CallbackList
from shared.checkpoint import Checkpoint, CheckpointFile, pairs
from shared.contract import check_batch
from shared.errors import SpecError, UnknownNameError
from shared.history import History
from shared.init import Params, check_params
from shared.spec import ModelSpec, TrainSpec
from shared.training import (
    check_finite,
    check_validation,
    early_stopping_for,
    epoch_record,
    predict_in_chunks,
    resumed_state,
    stopped,
    training_arrays,
    training_targets,
    validate,
)

if TYPE_CHECKING:
    from shared.data import Dataset

MODES = ("function", "eager", "jit")


class TFTier:
    """What both flavours share; each says how to build its model and optimizer, how to apply an
    update, and where its optimizer keeps its state.

    As ``@tf.function`` on a function would, the compiled step takes the name of the method it
    compiles: after ``__init__``, ``self.train_step`` runs ``train_step`` below as ``mode`` says.
    With ``steps_per_call > 1`` (the variant ``steps16``), ``__init__`` binds the faster loop of
    ``midlevel_tf.multistep`` as this instance's ``fit``; the ``fit`` below is the plain one.
    """

    name = "tf"
    # With replicas: whether the flavour's optimizer sums the replicas' gradients itself when
    # each replica applies its own (Keras's does), or is handed their sum (ours).
    optimizer_sums_replicas = False

    def __init__(
        self,
        model_spec: ModelSpec,
        train_spec: TrainSpec,
        params: Params,
        mode: str = "function",
        steps_per_call: int = 1,
    ) -> None:
        check_params(params, model_spec)
        if mode not in MODES:
            raise UnknownNameError(
                f"unknown TensorFlow execution mode {mode!r}; the modes are {', '.join(MODES)}"
            )
        if type(steps_per_call) is not int or steps_per_call < 1:
            raise SpecError(f"steps_per_call must be a whole number >= 1; got {steps_per_call!r}")
        self.model_spec, self.train_spec, self.dtype = model_spec, train_spec, train_spec.dtype
        self.mode = mode
        self.device = device_name(train_spec.device)
        # Data parallel: a tf.distribute strategy over the replicas (None: one device).
        self.strategy = None
        if train_spec.replicas > 1:
            if steps_per_call > 1 or mode == "jit":
                raise SpecError(
                    "--replicas runs one step per call into TensorFlow, as a graph; the "
                    "variants with several steps per call (steps16) or XLA (--jit) take no "
                    "replicas (XLA cannot place one compiled step on every replica's device)"
                )
            self.strategy = replica_strategy(train_spec.replicas, train_spec.device)
        self.chief = self.strategy is None or is_chief(self.strategy)  # the one that writes
        params = [(np.asarray(W, self.dtype), np.asarray(b, self.dtype)) for W, b in params]
        with self._context():
            self.model, self.optimizer = self._build(model_spec, train_spec, params)
            self._seed = tf.constant(train_spec.seed, tf.int64)
        self.epoch = 0  # completed epochs
        self.history = History()
        self.early_stopping = early_stopping_for(train_spec)

        dtype = tf.as_dtype(self.dtype)
        x_spec = tf.TensorSpec([None, model_spec.n_inputs], dtype)
        t_spec = tf.TensorSpec([None, model_spec.n_outputs], dtype)
        # The signatures let the partial last batch reuse the traced graph instead of retracing.
        step = self.train_step if self.strategy is None else self.replicated_step
        self.train_step = self._compile(step, [x_spec, t_spec])  # type: ignore[method-assign]
        self._compiled_predict = self._compile(self.model.predict_proba, [x_spec])
        if steps_per_call > 1:  # the variant steps16: the faster loop of midlevel_tf.multistep
            self._several_steps = self._compile(partial(multistep.train_steps, self), None)
            self.fit = partial(multistep.fit, self, steps_per_call)  # type: ignore[method-assign]

    # -- what a flavour supplies ----------------------------------------------------------------

    def _build(
        self, model_spec: ModelSpec, train_spec: TrainSpec, params: Params
    ) -> tuple[Any, Any]:
        raise NotImplementedError

    def apply_update(self, parameters: list[Any], grads: list[tf.Tensor]) -> None:
        raise NotImplementedError

    def _slot_variables(self) -> dict[str, list[Any]]:
        """The optimizer's state variables by checkpoint slot name, one per parameter."""
        raise NotImplementedError

    def _context(self) -> AbstractContextManager:
        """Where (and, for Keras objects, with which float type) every TensorFlow call runs."""
        return self._placement()

    def _placement(self) -> AbstractContextManager:
        """The run's device, or the replicas' strategy: its variables are mirrored on each."""
        return tf.device(self.device) if self.strategy is None else self.strategy.scope()

    def _compile(self, fn: Callable, signature: list[tf.TensorSpec] | None) -> Callable:
        """``fn`` as ``mode`` runs it, called on the run's device (``_context``)."""
        run = fn if self.mode == "eager" else tf.function(
            fn, input_signature=signature, jit_compile=self.mode == "jit"
        )  # fmt: skip

        def on_device(*args: tf.Tensor) -> Any:
            with self._context():
                return run(*args)

        return on_device

    @property
    def step(self) -> int:
        """Optimizer steps taken so far."""
        return int(self.optimizer.iterations.numpy())

    # -- one step -------------------------------------------------------------------------------

    def train_step(self, x: tf.Tensor, t: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor | None]:
        """One optimizer step on ``x (n, n_inputs)`` and targets ``t (n, n_outputs)`` (one-hot
        labels, or a regressor's standardized numbers). Returns the loss and how many samples
        the forward pass got right (the training accuracy, counted as Keras counts it: before
        the update; None for a regressor)."""
        seed = None
        if self.train_spec.dropout:
            # A pure function of (seed, step): resuming draws the same dropout masks.
            seed = tf.stack([self._seed, tf.convert_to_tensor(self.optimizer.iterations)])
        with tf.GradientTape() as tape:
            z = self.model.forward(x, seed)
            loss = self.model.loss(z, t)
        grads = tape.gradient(loss, self.model.parameters)
        self.apply_update(self.model.parameters, grads)
        if self.model_spec.is_regression:  # a Python if: settled when the step is traced
            return loss, None
        right = tf.equal(tf.argmax(z, axis=1), tf.argmax(t, axis=1))
        return loss, tf.reduce_sum(tf.cast(right, tf.int32))

    def replicated_step(self, x: tf.Tensor, t: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor | None]:
        """``train_step`` data parallel, on the whole batch ``x, t``: each replica of
        ``self.strategy`` takes its rows, computes its share of the batch's loss and the
        gradients of that share; the sums over the replicas (an all-reduce) update the weights,
        every replica's copy alike."""
        strategy, n = self.strategy, tf.shape(x)[0]
        assert strategy is not None  # this step is compiled only for a replicated run
        seed = None
        if self.train_spec.dropout:  # as in train_step: the whole batch's masks, by the step
            seed = tf.stack([self._seed, tf.convert_to_tensor(self.optimizer.iterations)])

        def on_replica(x: tf.Tensor, t: tf.Tensor) -> tuple[Any, ...]:
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            start, stop = shard_bounds(n, strategy.num_replicas_in_sync, replica)
            x, t = x[start:stop], t[start:stop]  # this replica's rows of the batch
            with tf.GradientTape() as tape:
                z = self.model.forward(x, seed, (start, stop, n))
                loss = self.model.loss(z, t, n)  # the rows' sum over n, 1/N of the L2 term
            grads = tape.gradient(loss, self.model.parameters)
            right = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(z, 1), tf.argmax(t, 1)), tf.int32))
            if self.optimizer_sums_replicas:  # Keras's optimizer: it all-reduces the gradients
                self.apply_update(self.model.parameters, grads)
                return loss, right, []
            return loss, right, grads

        losses, right, grads = strategy.run(on_replica, args=(x, t))
        loss = strategy.reduce("SUM", losses, axis=None)  # the all-reduce: sums over replicas
        if grads:  # our optimizer (tf-nn): the sum of the gradients is ours to take
            grads = [strategy.reduce("SUM", g, axis=None) for g in grads]
            self.apply_update(self.model.parameters, grads)  # every replica's copy, alike
        if self.model_spec.is_regression:
            return loss, None
        return loss, strategy.reduce("SUM", right, axis=None)

    def train_on_batch(self, x: np.ndarray, y: np.ndarray) -> float:
        """``train_step`` on host arrays ``x (n, n_inputs)`` and labels ``y (n,)`` (a
        regressor's targets ``(n, n_outputs)``), checked; its loss. What ``mlp-tiers parity``
        drives, step by step, in every tier."""
        x, y = np.asarray(x), np.asarray(y)
        check_batch(x, y, self.model_spec, self.dtype)
        t = training_targets(y, self.model_spec, self.dtype)
        loss, _ = self.train_step(self._on_device(x), self._on_device(t))
        return float(loss)

    def probe(self, x: np.ndarray, y: np.ndarray) -> dict:
        """The logits, loss and gradients of one batch at the current weights, dropout off,
        changing nothing: what ``mlp-tiers parity`` compares level by level."""
        if self.strategy is not None:  # under a strategy Keras's losses take a replica's share
            raise SpecError(
                "probe shows one device's step; with replicas, mlp-tiers parity --replicas "
                "compares the replicas with one device"
            )
        x, y = np.asarray(x), np.asarray(y)
        check_batch(x, y, self.model_spec, self.dtype)
        t = training_targets(y, self.model_spec, self.dtype)
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

    def fit(
        self,
        data: Dataset,
        callbacks: Sequence[Callback] = (),
        checkpoint_file: CheckpointFile | None = None,
    ) -> History:
        """Train from the current epoch up to ``train.epochs``; early stopping may end it sooner.
        With ``checkpoint_file``, the full state is saved there after every epoch."""
        spec = self.train_spec
        x, t = training_arrays(data, self.model_spec, self.dtype, spec.patience)
        with tf.device(self.device):  # onto the device once; each step gathers its rows there
            x, t = tf.identity(x), tf.identity(t)
        n, steps = len(x), n_batches(len(x), spec.batch_size)
        hooks = CallbackList(callbacks, self)
        hooks.train_begin(self.epoch + 1, spec.epochs, steps)

        while self.epoch < spec.epochs and not stopped(self.early_stopping):
            start = time.perf_counter()
            losses, sizes, right = [], [], []  # right: a classifier's count, batch by batch
            for batch, rows in enumerate(epoch_batches(n, spec.batch_size, spec.seed, self.epoch)):
                with tf.device(self.device):  # the batch gathered where the data lives
                    x_batch, t_batch = tf.gather(x, rows), tf.gather(t, rows)
                loss, batch_correct = self.train_step(x_batch, t_batch)
                loss = check_finite(loss, self.name, spec.lr, self.epoch + 1, batch + 1, steps)
                losses.append(loss)
                sizes.append(len(rows))
                if batch_correct is not None:
                    right.append(batch_correct)
                hooks.batch_end(batch, loss)
            seconds = time.perf_counter() - start
            self.epoch += 1
            correct = sum(right) if right else None  # None: a regressor counts nothing

            val_loss, val_accuracy = validate(
                self.predict_proba(data.x_val), data, self.model_spec, self.get_params(), spec.l2
            )
            check_validation(val_loss, self.name, spec.lr, self.epoch)  # diverged: stop here
            record = epoch_record(
                self.epoch, losses, sizes, correct, val_loss, val_accuracy, seconds
            )
            self.history.append(record)
            if self.early_stopping is not None:  # keeps the best weights; may end the loop
                self.early_stopping.update(self.epoch, val_loss, self.get_params)
            hooks.epoch_end(record)
            if checkpoint_file is not None and self.chief:  # workers: the first one saves
                checkpoint_file.save(self.checkpoint())

        stopper = self.early_stopping
        if stopper is not None and stopper.best_params is not None:  # the best epoch's weights
            self.set_params(stopper.best_params)
            self.history.best_epoch = stopper.best_epoch
            self.history.stopped_epoch = stopper.stopped_epoch
        hooks.train_end()
        return self.history

    def _on_device(self, array: np.ndarray) -> tf.Tensor:
        """``array`` as a tensor on the run's device (``tf.identity`` copies it there)."""
        with self._context():
            return tf.identity(tf.constant(array))

    # -- inference, parameters, checkpoints -----------------------------------------------------

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Predictions ``(n, n_outputs)`` as NumPy, dropout off: probabilities for softmax, a
        regressor's standardized numbers for an identity output."""

        def predict(chunk: np.ndarray) -> np.ndarray:
            return self._compiled_predict(self._on_device(chunk)).numpy()

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
        stopper = self.early_stopping
        return Checkpoint.of(
            self.name, self.model_spec, self.train_spec, self.get_params(), slots, self.step,
            self.epoch, self.history.records,
            best=None if stopper is None else stopper.best_params,
            early_stopping=None if stopper is None else stopper.state(),
        )  # fmt: skip

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continue from ``checkpoint``, which any tier may have written."""
        variables = self._slot_variables()
        checkpoint.check_fits(self.model_spec, self.train_spec.optimizer, variables)
        self.set_params(checkpoint.params)
        for name, arrays in checkpoint.flat_slots(self.dtype).items():
            for variable, value in zip(variables[name], arrays):
                variable.assign(value)
        self.optimizer.iterations.assign(checkpoint.step)
        self.epoch, self.history, self.early_stopping = resumed_state(checkpoint, self.train_spec)


def shard_bounds(n: tf.Tensor, replicas: int, replica: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """``start, stop`` of ``replica``'s rows of a batch of ``n``: ``shared.batching.shard`` as
    TensorFlow ops, contiguous, the first ``n % replicas`` replicas one row more."""
    share, extra = n // replicas, n % replicas
    start = replica * share + tf.minimum(replica, extra)
    return start, start + share + tf.cast(replica < extra, n.dtype)


class TFNnTier(TFTier):
    """``tf-nn``: ``tf.Variable``s, ``tf.nn`` ops, optimizers written with TensorFlow ops."""

    name = "tf-nn"

    def _build(
        self, model_spec: ModelSpec, train_spec: TrainSpec, params: Params
    ) -> tuple[Any, Any]:
        from midlevel_tf.nn import NnModel
        from midlevel_tf.optimizers import make_optimizer

        net = NnModel(model_spec, train_spec, params)
        return net, make_optimizer(net.parameters, train_spec)

    def apply_update(self, parameters: list[tf.Variable], grads: list[tf.Tensor]) -> None:
        self.optimizer.apply_update(parameters, grads)  # midlevel_tf.optimizers: the rule as TF ops

    def _slot_variables(self) -> dict[str, list[tf.Variable]]:
        return self.optimizer.state


class TFLayersTier(TFTier):
    """``tf-layers``: Keras ``Dense`` layers, loss and optimizer in a ``GradientTape`` loop."""

    name = "tf-layers"
    optimizer_sums_replicas = True

    def _build(
        self, model_spec: ModelSpec, train_spec: TrainSpec, params: Params
    ) -> tuple[Any, Any]:
        from midlevel_tf.layers import LayersModel, make_optimizer

        net = LayersModel(model_spec, train_spec, params)
        optimizer = make_optimizer(train_spec)
        optimizer.build(net.parameters)
        return net, optimizer

    def apply_update(self, parameters: list[Any], grads: list[tf.Tensor]) -> None:
        self.optimizer.apply_gradients(zip(grads, parameters))  # Keras's optimizer: gradients first

    def _slot_variables(self) -> dict[str, list[Any]]:
        from adapters.keras_setup import optimizer_slots

        return optimizer_slots(
            self.optimizer, self.train_spec.optimizer, len(self.model.parameters)
        )

    @contextmanager
    def _context(self) -> Iterator[None]:
        from adapters.keras_setup import keras_dtype
        from midlevel_tf.layers import keras

        with self._placement(), keras_dtype(keras, self.dtype):
            yield
