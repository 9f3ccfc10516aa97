"""What the Keras tier needs around ``compile`` and ``fit`` that is not the lesson.

- **Batch feeding**: the shared batch order, fed to ``model.fit`` the way each backend takes it
  fastest. ``fit(shuffle=True)`` would draw its own order; here batch ``i`` of epoch ``e`` is
  exactly the rows ``shared.batching.epoch_batches(n, batch_size, seed, e)[i]`` that every tier
  trains on. On TensorFlow, a ``tf.data.Dataset`` of those index batches, gathered inside the
  input pipeline (``tf.gather``) and prefetched while the previous step runs; it covers every
  epoch still to train, so ``fit`` is given ``steps_per_epoch``. On JAX and PyTorch, a
  ``keras.utils.PyDataset`` whose epoch the ``EpochSetter`` callback sets in ``on_epoch_begin``
  (``PyDataset.on_epoch_end`` would not do: Keras also calls it after peeking at a batch to
  learn the data's shapes). Either way ``fit`` runs with ``shuffle=False``.
- **Steps per call**: how many steps ``fit`` runs per call into compiled code.
- **The recorder and early stopping**: a Keras callback that fills the shared ``History`` and
  drives the shared callbacks, and Keras's ``EarlyStopping`` made to survive a resume. Keras's
  rule is the shared one; what differs is bookkeeping: Keras counts epochs from 0 and resets its
  state at the start of every ``fit``.
- **Resume**: a Keras model keeps its training state in several places (the weights, the
  optimizer's variables, the dropout layers' random generators, the ``EarlyStopping`` counters);
  ``keras_checkpoint`` gathers them into a ``shared.checkpoint.Checkpoint`` that any tier reads,
  and ``restore_keras`` puts any tier's checkpoint back, so that training continues exactly as
  if it had never stopped.
- **The parity probe**: the logits, loss and gradients of one batch without training, through
  Keras's public API: the layers called in turn up to the last ``Dense`` (``Dropout`` with
  ``training=False``); ``model.compute_loss`` (the compiled loss plus the L2 losses, what
  ``fit`` minimizes); each backend's own differentiation of it (``tf.GradientTape``,
  ``jax.grad`` of ``model.stateless_call`` and ``model.stateless_compute_loss``, ``backward()``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from adapters.keras_setup import optimizer_slots
from shared.batching import epoch_batches, epoch_permutation
from shared.callbacks import Callback
from shared.checkpoint import Checkpoint, CheckpointFile, pairs
from shared.history import History
from shared.init import Params
from shared.signals import raise_if_requested
from shared.training import check_finite, check_validation

# -- batch feeding ---------------------------------------------------------------------------


def shared_batches(
    keras: Any,
    x: np.ndarray,
    t: np.ndarray,
    batch_size: int,
    seed: int,
    epochs: range,
    replicas: int = 1,
    held: HeldTensors | None = None,
    sources: tuple[np.ndarray, ...] = (),
) -> tuple[Any, list[Any]]:
    """What ``fit`` trains on for ``epochs`` (0-based), and the callbacks it needs; with
    ``replicas``, every batch padded for them (``padded_for_replicas``). On TensorFlow, ``held``
    keeps the training tensors made from ``sources`` (the dataset's arrays ``x`` and ``t`` come
    from) for the next call."""
    if keras.backend.backend() == "tensorflow" and replicas == 1:
        held = held or HeldTensors()
        return tf_dataset(*held.tensors(x, t, sources), batch_size, seed, epochs), []
    batches = make_batches(keras, x, t, batch_size, seed, replicas)
    return batches, [make_epoch_setter(keras, batches)]


def padded_for_replicas(
    x: np.ndarray, t: np.ndarray, replicas: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A batch of ``n`` rows made ready for ``replicas`` even shards: padded with rows of zeros
    to ``m``, the next multiple of ``replicas``, and each row's sample weight: ``m / n`` for a
    real row, 0 for a padded one.

    Keras splits a batch into even shards only (on JAX it refuses any other), and averages a
    loss over all the rows it is given, padding included: over ``m``. The weights turn that
    mean back into the one-device mean, ``sum(w * loss) / m = sum(loss of real rows) / n``, on
    every backend, and keep the padding out of the accuracy."""
    n, x = len(x), padded_rows(x, replicas)
    weights = np.zeros(len(x), dtype=x.dtype)
    weights[:n] = len(x) / n
    return x, padded_rows(t, replicas), weights


def padded_rows(a: np.ndarray, replicas: int) -> np.ndarray:
    """``a (n, k)`` with rows of zeros added up to the next multiple of ``replicas``."""
    return np.pad(a, [(0, -len(a) % replicas), (0, 0)])


class HeldTensors:
    """The training arrays as TensorFlow tensors, kept from one ``fit`` call to the next while
    the same read-only arrays come back, so that a later call (a notebook's next ``fit`` on
    ``run.data``) does not copy the training set into TensorFlow again: 0.13 s for MNIST's
    51,000 rows, a sixth of an epoch. (A resumed run builds a new tier, and the estimators'
    ``partial_fit`` gives new arrays each call: they copy.)

    Only read-only arrays are kept (a run's dataset is: ``Dataset.frozen``), because only they
    cannot change between calls; from writeable arrays the tensors are made anew every call."""

    def __init__(self) -> None:
        self.sources: tuple[np.ndarray, ...] = ()
        self.kept: tuple[Any, Any] | None = None

    def tensors(self, x: np.ndarray, t: np.ndarray, sources: tuple[np.ndarray, ...]) -> Any:
        """``(x, t)`` as tensors: the kept ones when ``sources`` are the same read-only arrays
        as last time."""
        import tensorflow as tf

        frozen = bool(sources) and not any(a.flags.writeable for a in sources)
        same = len(sources) == len(self.sources) and all(
            a is b for a, b in zip(sources, self.sources, strict=True)
        )
        if self.kept is not None and frozen and same:
            return self.kept
        made = tf.constant(x), tf.constant(t)
        self.sources, self.kept = (sources, made) if frozen else ((), None)
        return made


def tf_dataset(x: Any, t: Any, batch_size: int, seed: int, epochs: range) -> Any:
    """The shared batches of ``epochs`` from the tensors ``x`` and ``t``, gathered inside
    TensorFlow."""
    import tensorflow as tf

    orders = np.stack([epoch_permutation(len(x), seed, epoch) for epoch in epochs])
    return (
        tf.data.Dataset.from_tensor_slices(orders)  # one epoch's order at a time ...
        .flat_map(lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size))
        .map(lambda rows: (tf.gather(x, rows), tf.gather(t, rows)))  # ... cut into batches
        .prefetch(tf.data.AUTOTUNE)
    )


def make_batches(
    keras: Any, x: np.ndarray, t: np.ndarray, batch_size: int, seed: int, replicas: int = 1
) -> Any:
    class SharedBatches(keras.utils.PyDataset):
        """Batches of ``(x, t)`` in the shared order for the current epoch (with replicas,
        ``(x, t, sample_weight)``, padded for them)."""

        def __init__(self) -> None:
            super().__init__(workers=1, use_multiprocessing=False)
            self.epoch = 0
            self._rows = epoch_batches(len(x), batch_size, seed, 0)

        def set_epoch(self, epoch: int) -> None:
            self.epoch = epoch
            self._rows = epoch_batches(len(x), batch_size, seed, epoch)

        def __len__(self) -> int:
            return len(self._rows)

        def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
            rows = self._rows[index]
            if replicas > 1:
                return padded_for_replicas(x[rows], t[rows], replicas)
            return x[rows], t[rows]

    return SharedBatches()


def make_epoch_setter(keras: Any, batches: Any) -> Any:
    class EpochSetter(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            batches.set_epoch(epoch)

    return EpochSetter()


# -- steps per call --------------------------------------------------------------------------


def steps_per_execution(steps: int, backend: str, most: int = 16) -> int:
    """How many training steps ``fit`` runs per call into compiled code: the largest divisor of
    an epoch's ``steps`` up to ``most`` (1 on PyTorch, whose Keras backend runs one at a time).

    Between calls Keras returns to Python (callbacks, logs, the progress bar), which on small
    batches costs more than the step itself. The steps, and so the weights, stay the same, and
    callbacks see every k-th batch. A divisor, because a call that ran past the end of an epoch
    would train on the next epoch's first batches before Keras notices the epoch ended.
    """
    if backend == "torch":
        return 1
    return max(k for k in range(1, min(most, steps) + 1) if steps % k == 0)


def use_steps_per_execution(model: Any, steps: int, backend: str, replicas: int = 1) -> None:
    """Set ``compile()``'s ``steps_per_execution`` for an epoch of ``steps`` steps (retracing
    the train function only when it changes). One step per call for replicas on JAX: Keras
    3.15's several-step function there misplaces the metrics' shardings."""
    per_call = 1 if backend == "jax" and replicas > 1 else steps_per_execution(steps, backend)
    if model.steps_per_execution != per_call:
        model.steps_per_execution = per_call
        model.make_train_function(force=True)


# -- the recorder and early stopping ---------------------------------------------------------


def resumable_early_stopping(keras: Any, patience: int | None) -> Any:
    """Keras's ``EarlyStopping`` on ``val_loss`` with the best weights restored, whose state
    carries over to the next ``fit`` (or a resume); None when ``patience`` is not set."""
    if not patience:
        return None

    class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
        carried = False

        def on_train_begin(self, logs: dict | None = None) -> None:
            if not self.carried:
                super().on_train_begin(logs)
                self.carried = True

    return ResumableEarlyStopping(
        monitor="val_loss", patience=patience, mode="min", restore_best_weights=True
    )


def history_recorder(
    keras: Any,
    tier: Any,
    callbacks: Sequence[Callback],
    steps: int,
    checkpoint_file: CheckpointFile | None = None,
) -> Any:
    """A Keras callback that fills ``tier.history``, drives the shared ``callbacks`` and saves
    the checkpoint after every epoch into ``checkpoint_file`` (when given).

    An epoch's ``seconds`` run from ``on_epoch_begin`` to the end of its last train step, the
    span the other tiers time (Keras's validation pass comes after it).
    """

    class Recorder(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict | None = None) -> None:
            raise_if_requested()  # a Ctrl-C that a library caught before the run began
            for callback in callbacks:
                callback.on_train_begin(tier, tier.epoch + 1, tier.train_spec.epochs, steps)

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            # Keras logs the epoch's running mean: it turns NaN at the step that did.
            spec = tier.train_spec
            check_finite(logs["loss"], tier.name, spec.lr, tier.epoch + 1, batch + 1, steps)
            # A Ctrl-C that Keras swallowed (JAX: a bare except in its log conversion) stops here.
            raise_if_requested()
            if batch == steps - 1:
                float(logs["loss"])  # waits for the step to finish
                self.seconds = time.perf_counter() - self.start
            for callback in callbacks:
                callback.on_batch_end(tier, batch, float(logs["loss"]))

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            # the compiled metric's epoch means; none of val_* without a validation split, and
            # no accuracy for a regressor (compiled without the metric)
            record = {
                "epoch": epoch + 1,
                "loss": float(logs["loss"]),
                "accuracy": _logged(logs, "accuracy"),
                "val_loss": _logged(logs, "val_loss"),
                "val_accuracy": _logged(logs, "val_accuracy"),
                "seconds": self.seconds,
            }
            check_validation(record["val_loss"], tier.name, tier.train_spec.lr, epoch + 1)
            tier.epoch = epoch + 1
            tier.history.append(record)
            for callback in callbacks:
                callback.on_epoch_end(tier, record)
            if checkpoint_file is not None:
                checkpoint_file.save(tier.checkpoint())

        def on_train_end(self, logs: dict | None = None) -> None:
            for callback in callbacks:
                callback.on_train_end(tier)

    return Recorder()


def _logged(logs: dict, key: str) -> float | None:
    """Keras's logged value ``key`` as a float; None when it logged none."""
    return float(logs[key]) if key in logs else None


# -- resume ----------------------------------------------------------------------------------


def slot_variables(tier: Any) -> dict[str, list[Any]]:
    """The optimizer's state variables by checkpoint slot name, one per parameter."""
    optimizer = tier.model.optimizer
    return optimizer_slots(
        optimizer, tier.train_spec.optimizer, len(tier.model.trainable_variables)
    )


def keras_checkpoint(tier: Any) -> Checkpoint:
    """The full training state of a ``KerasTier``."""
    to_numpy = tier.keras.ops.convert_to_numpy
    slots = {
        name: [to_numpy(variable.value) for variable in variables]
        for name, variables in slot_variables(tier).items()
    }
    stopper = tier.early_stopping
    return Checkpoint.of(
        tier.name,
        tier.model_spec,
        tier.train_spec,
        tier.get_params(),
        slots,
        tier.step,
        tier.epoch,
        tier.history.records,
        best=None if stopper is None else _best_params(stopper),
        early_stopping=None if stopper is None else _stopper_state(stopper),
    )


def restore_keras(tier: Any, checkpoint: Checkpoint) -> None:
    """Continue a ``KerasTier`` from ``checkpoint``."""
    slots = slot_variables(tier)
    checkpoint.check_fits(tier.model_spec, tier.train_spec.optimizer, slots)
    tier.set_params(checkpoint.params)
    for name, arrays in checkpoint.flat_slots(tier.dtype).items():
        for variable, value in zip(slots[name], arrays):
            variable.assign(value)
    tier.model.optimizer.iterations.assign(checkpoint.step)
    for layer in tier.model.layers:
        if hasattr(layer, "seed_generator"):  # a Dropout layer
            # Keras's dropout generator is (seed, counter), counting one draw per step.
            seed = int(np.asarray(layer.seed_generator.state)[0])
            layer.seed_generator.state.assign(np.array([seed, checkpoint.step], np.uint32))
    tier.epoch = checkpoint.epoch
    tier.history = History(list(checkpoint.history))
    if checkpoint.early_stopping is not None and tier.early_stopping is not None:
        _load_stopper_state(tier.early_stopping, checkpoint.early_stopping, checkpoint.best)


def _best_params(stopper: Any) -> Params | None:
    return None if stopper.best_weights is None else pairs(stopper.best_weights)


def _stopper_state(stopper: Any) -> dict[str, Any]:
    """Keras's counters in the form of ``shared.early_stopping.EarlyStopping.state`` (1-based)."""
    started = stopper.best_weights is not None
    return {
        "patience": stopper.patience,
        "best": None if stopper.best is None else float(stopper.best),
        "best_epoch": stopper.best_epoch + 1 if started else None,
        "wait": stopper.wait,
        "stopped_epoch": stopper.stopped_epoch + 1 if stopper.stopped_epoch else None,
    }


def _load_stopper_state(stopper: Any, state: dict[str, Any], best: Params | None) -> None:
    stopper.carried = True
    stopper.wait = int(state["wait"])
    stopper.best = state["best"]
    stopper.best_epoch = (state["best_epoch"] or 1) - 1
    stopper.stopped_epoch = (state["stopped_epoch"] or 1) - 1
    stopper.best_weights = None if best is None else [a for pair in best for a in pair]


# -- the parity probe ------------------------------------------------------------------------


def probe(tier: Any, x: np.ndarray, t: np.ndarray) -> dict:
    """``{"logits", "loss", "grads"}`` of the batch ``x`` and targets ``t`` (one-hot labels, or a
    regressor's numbers), at the tier's weights."""
    keras, model = tier.keras, tier.model
    to_numpy = keras.ops.convert_to_numpy
    x, t = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(t)

    z = x
    for layer in model.layers:
        if isinstance(layer, keras.layers.Softmax):
            break
        z = layer(z, training=False) if isinstance(layer, keras.layers.Dropout) else layer(z)

    loss, grads = _loss_and_gradients(tier.backend, model, x, t)
    return {
        "logits": to_numpy(z),
        "loss": float(to_numpy(loss)),
        "grads": pairs([to_numpy(g) for g in grads]),
    }


def _loss_and_gradients(backend: str, model: Any, x: Any, t: Any) -> tuple[Any, list[Any]]:
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = model.compute_loss(x, t, model(x, training=False), training=False)
        return loss, tape.gradient(loss, [v.value for v in model.trainable_variables])
    if backend == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        metrics = [v.value for v in model.metrics_variables]

        def total(values: list[Any]) -> Any:
            y_pred, _ = model.stateless_call(values, non_trainable, x, training=False)
            loss, _ = model.stateless_compute_loss(
                values, non_trainable, metrics, x, t, y_pred, training=False
            )
            return loss

        loss, grads = jax.value_and_grad(total)(trainable)
        return loss, grads
    variables = [v.value for v in model.trainable_variables]
    for variable in variables:
        variable.grad = None
    loss = model.compute_loss(x, t, model(x, training=False), training=False)
    loss.backward()
    grads = [variable.grad.detach().clone() for variable in variables]
    for variable in variables:
        variable.grad = None
    return loss.detach(), grads
