"""The Keras tier: build the ``Sequential``, ``compile`` it, ``fit`` it, ``predict`` with it.

Everything the other tiers write by hand happens inside ``model.fit`` here: it iterates over the
batches, runs the compiled train step (forward pass, loss with the L2 terms, gradients, optimizer
update), averages the loss over the epoch, evaluates on the validation data, and calls the
callbacks (Keras's ``EarlyStopping``, and a recorder that fills the shared ``History``).

The model, as a Keras user writes it (``build_model``, ``compile_model``):

    model = keras.Sequential([
        keras.Input((n_inputs,)),
        keras.layers.Dense(128, activation="relu", kernel_regularizer=L2(l2)),
        keras.layers.Dropout(rate),                        # only when rate > 0
        keras.layers.Dense(64, activation="relu", kernel_regularizer=L2(l2)),
        keras.layers.Dense(n_outputs, kernel_regularizer=L2(l2)),   # logits
    ])
    model.set_weights(shared_initial_weights)
    model.compile(optimizer=Adam(...), loss=CategoricalCrossentropy(from_logits=True))

The last layer emits logits, and cross-entropy is computed from them (``from_logits=True``): a
softmax layer followed by ``from_logits=False`` would clip probabilities on some backends.
For ``mse`` with a softmax output, a ``Softmax`` layer follows the logits, as MSE compares
probabilities with one-hot targets. A regressor is the same ``Sequential`` with one linear
output per target, compiled with ``MeanSquaredError`` and no accuracy metric, and fitted on the
standardized targets.

What is not the lesson sits beside this file: ``backend`` chooses and configures Keras's
backend, and ``support`` feeds the shared batch order, records the history, keeps early
stopping across a resume, reads and writes the framework-neutral checkpoint, and probes one
batch for ``mlp-tiers parity``. Every Keras call runs with ``floatx`` and the dtype policy set
to the run's dtype and on the run's device (``_scope``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from adapters.keras_setup import keras_dtype
from adapters.tensorflow_setup import quiet_tensorflow_startup
from highlevel_keras.backend import check_dtypes, keras_device, load_keras, replica_distribution
from highlevel_keras.support import (
    HeldTensors,
    history_recorder,
    keras_checkpoint,
    padded_for_replicas,
    padded_rows,
    restore_keras,
    resumable_early_stopping,
    shared_batches,
    use_steps_per_execution,
)
from highlevel_keras.support import (
    probe as probe_batch,
)
from shared.batching import n_batches
from shared.callbacks import Callback
from shared.checkpoint import Checkpoint, CheckpointFile, pairs
from shared.contract import check_batch, check_inputs
from shared.errors import SpecError
from shared.fileio import atomic_path
from shared.history import History
from shared.init import Params, check_params
from shared.seeding import stream
from shared.spec import ModelSpec, TrainSpec
from shared.training import PREDICT_CHUNK, has_validation, training_arrays, training_targets

if TYPE_CHECKING:
    from shared.data import Dataset


KERAS_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "identity": "linear"}


def dropout_seed(seed: int, layer: int) -> int:
    """The seed of the ``Dropout`` after hidden layer ``layer``, from the run's seed."""
    return int(stream(seed, "dropout", layer).integers(2**31 - 1))


def build_model(keras: Any, spec: ModelSpec, train: TrainSpec, params: Params) -> Any:
    """The uncompiled ``Sequential``, holding the shared initial weights."""
    regularizer = (lambda: keras.regularizers.L2(train.l2)) if train.l2 else (lambda: None)
    layers: list[Any] = [keras.Input((spec.n_inputs,), dtype=train.dtype)]
    for index, width in enumerate(spec.hidden):
        layers.append(
            keras.layers.Dense(
                width,
                activation=KERAS_ACTIVATIONS[spec.activation],
                kernel_regularizer=regularizer(),
                name=f"dense_{index}",
            )
        )
        if train.dropout:
            layers.append(
                keras.layers.Dropout(
                    train.dropout, seed=dropout_seed(train.seed, index), name=f"dropout_{index}"
                )
            )
    layers.append(
        keras.layers.Dense(
            spec.n_outputs, kernel_regularizer=regularizer(), name=f"dense_{len(spec.hidden)}"
        )
    )
    if spec.loss == "mse" and spec.output == "softmax":
        layers.append(keras.layers.Softmax(name="softmax"))
    model = keras.Sequential(layers, name="mlp")
    model.set_weights([array for pair in params for array in pair])
    return model


def make_optimizer(keras: Any, train: TrainSpec) -> Any:
    """The spec's optimizer, as a Keras user builds one."""
    if train.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=train.lr)
    if train.optimizer in ("momentum", "nesterov"):
        return keras.optimizers.SGD(
            learning_rate=train.lr, momentum=train.momentum, nesterov=train.optimizer == "nesterov"
        )
    if train.optimizer == "adam":
        return keras.optimizers.Adam(
            learning_rate=train.lr, beta_1=train.beta1, beta_2=train.beta2, epsilon=train.eps
        )
    return keras.optimizers.RMSprop(learning_rate=train.lr, rho=train.rho, epsilon=train.eps)


def compile_model(
    keras: Any, model: Any, spec: ModelSpec, train: TrainSpec, jit_compile: bool | str
) -> None:
    """The loss (from logits for cross-entropy), the optimizer and, for a classifier, an
    accuracy metric."""
    if spec.loss == "cross_entropy":
        loss = keras.losses.CategoricalCrossentropy(from_logits=True)
    else:
        loss = keras.losses.MeanSquaredError()
    metrics = [] if spec.is_regression else [keras.metrics.CategoricalAccuracy(name="accuracy")]
    # Replicas get batches padded for them, the padding weighed out (padded_for_replicas): the
    # accuracy must count by those weights too, or it would count the padding.
    weighted = train.replicas > 1
    model.compile(
        optimizer=make_optimizer(keras, train), loss=loss, jit_compile=jit_compile,
        metrics=[] if weighted else metrics, weighted_metrics=metrics if weighted else None,
    )  # fmt: skip


def replica_note(backend: str, train: TrainSpec) -> str | None:
    """What a replicated run on ``backend`` does not share with the one-device run, in a line
    (None: nothing, up to the order of the sums)."""
    if not train.dropout:
        return None
    if backend == "tensorflow":
        return (
            "Keras on TensorFlow draws each replica's dropout mask for its own rows only, from "
            "the same seed on every replica, so this run drops other units than the one-device "
            "run (docs/distributed.md)"
        )
    return None  # JAX draws one mask for the global batch, the one-device mask on its rows


class KerasTier:
    """The MLP as a ``keras.Sequential`` on the backend named by ``backend``."""

    name = "keras"
    backend = "tensorflow"
    native_file = "model.keras"  # written beside the shared checkpoint in a run folder

    def __init__(
        self,
        model_spec: ModelSpec,
        train_spec: TrainSpec,
        params: Params,
        jit_compile: bool | str = "auto",
        verbose: int | str = 0,
    ) -> None:
        check_params(params, model_spec)
        self.model_spec, self.train_spec, self.dtype = model_spec, train_spec, train_spec.dtype
        self.keras = keras = load_keras(self.backend, train_spec.dtype, train_spec.replicas)
        self.device = keras_device(self.backend, train_spec.device)
        # Data parallel: Keras's distribution on JAX, a tf.distribute strategy on TensorFlow.
        self.distribution, self.replica_note = None, None
        if train_spec.replicas > 1:
            if self.backend == "tensorflow" and jit_compile is True:
                raise SpecError(
                    "--replicas on Keras's TensorFlow backend runs without XLA (one compiled "
                    "step cannot be placed on every replica's device); drop --jit-compile on"
                )
            self.distribution = replica_distribution(
                keras, self.backend, train_spec.replicas, train_spec.device
            )
            self.replica_note = replica_note(self.backend, train_spec)
        self.chief = True
        self.verbose = verbose
        with self._scope():
            # the Sequential, holding the shared weights; then its loss and optimizer
            self.model = build_model(keras, model_spec, train_spec, params)
            compile_model(keras, self.model, model_spec, train_spec, jit_compile)
            self.model.optimizer.build(self.model.trainable_variables)
        check_dtypes(self.model, self.backend, self.dtype)  # never silently float32
        self.epoch = 0  # completed epochs
        self.history = History()
        self.early_stopping = resumable_early_stopping(keras, train_spec.patience)
        self.held = HeldTensors()  # the training set in TensorFlow, kept for the next fit call

    @contextmanager
    def _scope(self) -> Iterator[None]:
        # the replicas' devices, or the run's one device
        place = (
            self.keras.device(self.device)
            if self.distribution is None
            else self.distribution.scope()
        )
        with keras_dtype(self.keras, self.dtype), place:
            yield

    def _chunk(self) -> int:
        """Rows per batch of prediction and validation: ``PREDICT_CHUNK``, or with replicas the
        largest multiple of their count below it (even shards, however many rows there are)."""
        return PREDICT_CHUNK // self.train_spec.replicas * self.train_spec.replicas

    @property
    def step(self) -> int:
        """Optimizer steps taken so far."""
        return int(np.asarray(self.model.optimizer.iterations))

    # -- one step, and fit ----------------------------------------------------------------------

    def train_on_batch(self, x: np.ndarray, y: np.ndarray) -> float:
        """One optimizer step on one batch (labels, or a regressor's targets) through
        ``model.train_on_batch``; its loss. Keras's
        own training step (``Model.train_step``) runs inside it, and inside ``fit``."""
        x, y = np.asarray(x), np.asarray(y)
        check_batch(x, y, self.model_spec, self.dtype)
        t = training_targets(y, self.model_spec, self.dtype)
        if self.distribution is None:
            with self._scope():
                logs = self.model.train_on_batch(x, t, return_dict=True)
            return float(logs["loss"])
        batch = padded_for_replicas(x, t, self.train_spec.replicas)  # even shards, pads weighed out
        with self._scope():
            if self.backend == "jax":  # the distribution shards the arrays it is given
                logs = self.model.train_on_batch(*batch, return_dict=True)
                return float(logs["loss"])
            # On TensorFlow, train_on_batch would hand every replica the whole batch; fit
            # shards a dataset among them (here, of this one batch).
            import tensorflow as tf

            one_batch = tf.data.Dataset.from_tensors(batch)
            history = self.model.fit(one_batch, epochs=1, shuffle=False, verbose=0)
        return float(history.history["loss"][-1])

    def fit(
        self,
        data: Dataset,
        callbacks: Sequence[Callback] = (),
        checkpoint_file: CheckpointFile | None = None,
    ) -> History:
        """``model.fit`` over the shared batches, from the current epoch to ``train.epochs``.
        With ``checkpoint_file``, the full state is saved there after every epoch."""
        spec, keras = self.train_spec, self.keras
        x, t = training_arrays(data, self.model_spec, self.dtype, spec.patience)
        steps = n_batches(len(x), spec.batch_size)
        batches, keras_callbacks = shared_batches(
            keras, x, t, spec.batch_size, spec.seed, range(self.epoch, spec.epochs), spec.replicas,
            held=self.held, sources=(data.x_train, data.y_train),
        )  # fmt: skip
        validation: tuple | None = None  # none without validation rows (a fit on all rows)
        if has_validation(data):
            validation = (data.x_val, training_targets(data.y_val, self.model_spec, self.dtype))
            if self.distribution is not None:  # even shards of the validation batch as well
                validation = padded_for_replicas(*validation, spec.replicas)
        if self.early_stopping is not None:
            keras_callbacks.append(self.early_stopping)  # before the recorder: restores weights
        keras_callbacks.append(history_recorder(keras, self, callbacks, steps, checkpoint_file))
        stopped = self.early_stopping is not None and self.early_stopping.stopped_epoch > 0
        if self.epoch < spec.epochs and not stopped:
            with self._scope():
                # several steps per call into compiled code, now that the epoch's length is known
                use_steps_per_execution(self.model, steps, self.backend, spec.replicas)
                self.model.fit(
                    batches,
                    epochs=spec.epochs,
                    initial_epoch=self.epoch,
                    steps_per_epoch=steps,
                    shuffle=False,  # the batches come in the shared order
                    validation_data=validation,
                    validation_batch_size=self._chunk(),
                    callbacks=keras_callbacks,
                    verbose=self.verbose,
                )
        if self.early_stopping is not None:
            self.history.best_epoch = self.early_stopping.best_epoch + 1
            stopped_at = self.early_stopping.stopped_epoch  # 0-based, and 0 when it never stopped
            self.history.stopped_epoch = stopped_at + 1 if stopped_at else None
        return self.history

    def probe(self, x: np.ndarray, y: np.ndarray) -> dict:
        """The logits, loss and gradients of one batch at the current weights, changing nothing:
        what ``mlp-tiers parity`` compares level by level (``highlevel_keras.support``)."""
        if self.distribution is not None:  # under a strategy Keras's losses take a share
            raise SpecError(
                "probe shows one device's step; with replicas, mlp-tiers parity --replicas "
                "compares the replicas with one device"
            )
        x, y = np.asarray(x), np.asarray(y)
        check_batch(x, y, self.model_spec, self.dtype)
        with self._scope():
            return probe_batch(self, x, training_targets(y, self.model_spec, self.dtype))

    # -- inference and parameters ---------------------------------------------------------------

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """``model.predict``, then a softmax for a cross-entropy model (which emits logits)."""
        x = np.asarray(x)
        check_inputs(x, self.model_spec, self.dtype)
        if len(x) == 0:
            return np.empty((0, self.model_spec.n_outputs), dtype=self.dtype)
        n = len(x)
        if self.distribution is not None:  # even shards: rows of zeros added, and dropped after
            x = padded_rows(x, self.train_spec.replicas)
        with self._scope():
            out = self.model.predict(x, batch_size=self._chunk(), verbose=0)[:n]
            if self.model_spec.loss == "cross_entropy":
                out = self.keras.ops.convert_to_numpy(self.keras.ops.softmax(out, axis=-1))
        return np.asarray(out)

    def get_params(self) -> Params:
        """``[(W, b), ...]`` as NumPy copies: ``model.get_weights()`` in pairs."""
        return pairs(self.model.get_weights())

    def set_params(self, params: Params) -> None:
        check_params(params, self.model_spec)
        self.model.set_weights([np.asarray(a, self.dtype) for pair in params for a in pair])

    # -- checkpoints, and the native .keras file ------------------------------------------------

    def checkpoint(self) -> Checkpoint:
        """The full training state in the shared format (``highlevel_keras.support``)."""
        return keras_checkpoint(self)

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continue from ``checkpoint``, which any tier may have written."""
        restore_keras(self, checkpoint)

    def save_native(self, path: str | Path) -> Path:
        """The whole model, optimizer state included, as a native ``.keras`` file (atomic)."""
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"a Keras model file must end in .keras; got {path.name}")
        # Keras's serializer checks for TensorFlow's TensorShape, which imports TensorFlow on
        # every backend when it is installed: quietly, as everywhere else.
        with atomic_path(path) as temporary, quiet_tensorflow_startup():
            self.model.save(temporary)
        return path


class KerasJaxTier(KerasTier):
    name = "keras-jax"
    backend = "jax"


class KerasTorchTier(KerasTier):
    name = "keras-torch"
    backend = "torch"
