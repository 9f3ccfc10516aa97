"""The Keras tier: the ``Tier`` protocol around ``compile`` and ``fit``.

What ``fit`` does for you, compared with the loops of the other tiers: it iterates over the
batches, runs the compiled train step (forward pass, loss with the L2 terms, gradients, optimizer
update), averages the loss over the epoch, evaluates on the validation data, and calls the
callbacks (here ``EarlyStopping`` and a recorder that fills the shared ``History``).

The tier keeps Keras's global settings out of the way: every Keras call runs with ``floatx`` and
the dtype policy set to the run's dtype (``shared.frameworks.keras_dtype``) and on the run's
device (``keras.device``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from highlevel_keras.backend import keras_device, load_keras
from highlevel_keras.batches import make_batches, make_epoch_setter
from highlevel_keras.model import build_model, compile_model
from shared.callbacks import Callback
from shared.checkpoint import Checkpoint, pairs
from shared.data import Dataset
from shared.errors import BackendError
from shared.fileio import atomic_path
from shared.frameworks import keras_dtype
from shared.init import Params, check_params
from shared.keras_optimizers import keras_slots
from shared.loop import PREDICT_CHUNK
from shared.metrics import one_hot
from shared.report import History
from shared.spec import ModelSpec, TrainSpec
from shared.tiers import check_batch, check_inputs


class KerasTier:
    """The MLP as a ``keras.Sequential`` on the backend named by ``backend``."""

    name = "keras"
    backend = "tensorflow"
    own_progress_bar = True  # the train script shows Keras's progress bar, not the shared one
    native_file = "model.keras"  # written beside the shared checkpoint in a run folder

    def __init__(
        self,
        model: ModelSpec,
        train: TrainSpec,
        params: Params,
        jit_compile: bool | str = "auto",
        verbose: int | str = 0,
    ) -> None:
        check_params(params, model)
        self.model_spec, self.train_spec, self.dtype = model, train, train.dtype
        self.keras = keras = load_keras(self.backend, train.dtype)
        self.device = keras_device(self.backend, train.device)
        self.verbose = verbose
        with self._scope():
            self.model = build_model(keras, model, train, params)
            compile_model(keras, self.model, model, train, jit_compile)
            self.model.optimizer.build(self.model.trainable_variables)
        self._check_dtypes()
        self.dropouts = [layer for layer in self.model.layers if hasattr(layer, "seed_generator")]
        self.epoch = 0
        self.history = History()
        self.stopper = _early_stopping(keras, train.patience) if train.patience else None

    @contextmanager
    def _scope(self) -> Iterator[None]:
        with keras_dtype(self.keras, self.dtype), self.keras.device(self.device):
            yield

    def _check_dtypes(self) -> None:
        """Never silently float32: every weight and optimizer slot must have the run's dtype."""
        variables = [*self.model.weights, *self.model.optimizer.variables]
        wrong = sorted({str(v.dtype) for v in variables if "float" in str(v.dtype)} - {self.dtype})
        if wrong:
            raise BackendError(
                f"Keras's {self.backend} backend built {', '.join(wrong)} weights for a "
                f"{self.dtype} model"
                + (" (jax_enable_x64 is off)" if self.backend == "jax" else "")
            )

    @property
    def step(self) -> int:
        return int(np.asarray(self.model.optimizer.iterations))

    # -- one step, and fit ----------------------------------------------------------------------

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One optimizer step on one batch through ``model.train_on_batch``; its loss."""
        x, y = np.asarray(x), np.asarray(y)
        check_batch(x, y, self.model_spec, self.dtype)
        t = one_hot(y, self.model_spec.n_outputs, self.dtype)
        with self._scope():
            logs = self.model.train_on_batch(x, t, return_dict=True)
        return float(logs["loss"])

    def fit(self, data: Dataset, callbacks: Sequence[Callback] = ()) -> History:
        """``model.fit`` over the shared batches, from the current epoch to ``train.epochs``."""
        spec, keras = self.train_spec, self.keras
        check_batch(data.x_train, data.y_train, self.model_spec, self.dtype)
        check_batch(data.x_val, data.y_val, self.model_spec, self.dtype)
        n_out = self.model_spec.n_outputs
        batches = make_batches(
            keras,
            data.x_train,
            one_hot(data.y_train, n_out, self.dtype),
            spec.batch_size,
            spec.seed,
        )
        stopped = self.stopper is not None and self.stopper.stopped_epoch > 0
        recorder = _recorder(keras, self, callbacks, len(batches))
        keras_callbacks = [make_epoch_setter(keras, batches)]
        if self.stopper is not None:
            keras_callbacks.append(self.stopper)  # before the recorder: it restores the weights
        keras_callbacks.append(recorder)
        if self.epoch < spec.epochs and not stopped:
            with self._scope():
                self.model.fit(
                    batches,
                    epochs=spec.epochs,
                    initial_epoch=self.epoch,
                    shuffle=False,  # the batches come in the shared order
                    validation_data=(data.x_val, one_hot(data.y_val, n_out, self.dtype)),
                    validation_batch_size=PREDICT_CHUNK,
                    callbacks=keras_callbacks,
                    verbose=self.verbose,
                )
        if self.stopper is not None:
            self.history.best_epoch = self.stopper.best_epoch + 1
            stopped_at = self.stopper.stopped_epoch  # Keras: 0-based, and 0 when it never stopped
            self.history.stopped_epoch = stopped_at + 1 if stopped_at else None
        return self.history

    # -- inference and parameters ---------------------------------------------------------------

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """``model.predict``, then a softmax for a cross-entropy model (which emits logits)."""
        x = np.asarray(x)
        check_inputs(x, self.model_spec, self.dtype)
        if len(x) == 0:
            return np.empty((0, self.model_spec.n_outputs), dtype=self.dtype)
        with self._scope():
            out = self.model.predict(x, batch_size=PREDICT_CHUNK, verbose=0)
            if self.model_spec.loss == "cross_entropy":
                out = self.keras.ops.convert_to_numpy(self.keras.ops.softmax(out, axis=-1))
        return np.asarray(out)

    def get_params(self) -> Params:
        return pairs(self.model.get_weights())

    def set_params(self, params: Params) -> None:
        check_params(params, self.model_spec)
        self.model.set_weights([np.asarray(a, self.dtype) for pair in params for a in pair])

    # -- checkpoints, and the native .keras file ------------------------------------------------

    def _slots(self) -> dict[str, list[Any]]:
        return keras_slots(self.model.optimizer, self.train_spec)

    def checkpoint(self) -> Checkpoint:
        to_numpy = self.keras.ops.convert_to_numpy
        slots = {
            name: [to_numpy(variable.value) for variable in variables]
            for name, variables in self._slots().items()
        }
        stopper = self.stopper
        return Checkpoint.of(
            self,
            slots,
            best=None if stopper is None else _best_params(stopper),
            early_stopping=None if stopper is None else _stopper_state(stopper),
        )

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continue from ``checkpoint``, which any tier may have written."""
        slots = self._slots()
        checkpoint.check_fits(self.model_spec, self.train_spec.optimizer, slots)
        self.set_params(checkpoint.params)
        for name, arrays in checkpoint.flat_slots(self.dtype).items():
            for variable, value in zip(slots[name], arrays):
                variable.assign(value)
        self.model.optimizer.iterations.assign(checkpoint.step)
        for dropout in self.dropouts:
            # Keras's dropout generator is (seed, counter), counting one draw per step.
            seed = int(np.asarray(dropout.seed_generator.state)[0])
            dropout.seed_generator.state.assign(np.array([seed, checkpoint.step], np.uint32))
        self.epoch = checkpoint.epoch
        self.history = History(list(checkpoint.history))
        if checkpoint.early_stopping is not None and self.stopper is not None:
            _load_stopper_state(self.stopper, checkpoint.early_stopping, checkpoint.best)

    def save_native(self, path: str | Path) -> Path:
        """The whole model, optimizer state included, as a native ``.keras`` file (atomic)."""
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"a Keras model file must end in .keras; got {path.name}")
        with atomic_path(path) as temporary:
            self.model.save(temporary)
        return path


class KerasJaxTier(KerasTier):
    name = "keras-jax"
    backend = "jax"


class KerasTorchTier(KerasTier):
    name = "keras-torch"
    backend = "torch"


# -- Keras callbacks: early stopping that survives a resume, and the shared history -------------


def _early_stopping(keras: Any, patience: int) -> Any:
    class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
        """Keras's ``EarlyStopping`` whose state carries over to the next ``fit`` (or resume)."""

        carried = False

        def on_train_begin(self, logs: dict | None = None) -> None:
            if not self.carried:
                super().on_train_begin(logs)
                self.carried = True

    return ResumableEarlyStopping(
        monitor="val_loss", patience=patience, mode="min", restore_best_weights=True
    )


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


def _recorder(keras: Any, tier: KerasTier, callbacks: Sequence[Callback], steps: int) -> Any:
    class Recorder(keras.callbacks.Callback):
        """Fills the tier's ``History`` and drives the shared callbacks from Keras's hooks.

        An epoch's ``seconds`` run from ``on_epoch_begin`` to the end of its last train step,
        the span the other tiers time (Keras's validation pass comes after it).
        """

        def on_train_begin(self, logs: dict | None = None) -> None:
            for callback in callbacks:
                callback.on_train_begin(tier, tier.epoch + 1, tier.train_spec.epochs, steps)

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            if batch == steps - 1:
                float(logs["loss"])  # waits for the step to finish
                self.seconds = time.perf_counter() - self.start
            for callback in callbacks:
                callback.on_batch_end(tier, batch, float(logs["loss"]))

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            tier.epoch = epoch + 1
            record = {
                "epoch": epoch + 1,
                "loss": float(logs["loss"]),
                "val_loss": float(logs["val_loss"]),
                "val_accuracy": float(logs["val_accuracy"]),
                "seconds": self.seconds,
            }
            tier.history.append(record)
            for callback in callbacks:
                callback.on_epoch_end(tier, record)

        def on_train_end(self, logs: dict | None = None) -> None:
            for callback in callbacks:
                callback.on_train_end(tier)

    return Recorder()
