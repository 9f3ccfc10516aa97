"""The training loop of the tiers that write their own (NumPy, TensorFlow), written once.

A tier that writes its own loop subclasses ``LoopTier`` and supplies the framework-specific
pieces; ``LoopTier`` supplies what must be identical across tiers: the batch order of
``shared.batching``, the epoch records, the validation loss and early stopping, the callbacks,
and checkpoints (weights, optimizer slots and counters, so that a resumed run continues exactly).

The pieces a subclass writes:

- ``_to_device(x, t)``: the training inputs and one-hot targets, moved to the device once;
- ``_train_rows(x, t, rows)``: one optimizer step on the rows ``rows`` of those arrays; its loss
  as a scalar of the framework (converted to ``float`` only when someone reads it);
- ``_train_batch(x, t)``: one optimizer step on host arrays (``train_step`` calls it);
- ``_predict(x)``: the predictions for one chunk of host inputs, as NumPy;
- ``get_params``, ``set_params``, ``step`` (optimizer steps so far);
- ``slot_names``, ``_get_slots()`` and ``_set_slots(slots, step)``: the optimizer state as
  ``{name: [W0, b0, W1, b1, ...]}`` (NumPy out, NumPy in), and its step counter.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from shared.batching import epoch_batches, n_batches
from shared.callbacks import Callback
from shared.checkpoint import Checkpoint
from shared.data import Dataset
from shared.early_stopping import EarlyStopping
from shared.init import Params, check_params
from shared.metrics import evaluate, l2_penalty, one_hot
from shared.report import History
from shared.spec import ModelSpec, TrainSpec
from shared.tiers import check_batch, check_inputs

PREDICT_CHUNK = 8192  # rows per forward pass in predict_proba, to bound memory


class LoopTier:
    """Base class of the tiers whose ``fit`` is a hand-written loop over ``shared.batching``."""

    name = "loop"
    slot_names: tuple[str, ...] = ()

    def __init__(self, model: ModelSpec, train: TrainSpec, params: Params) -> None:
        check_params(params, model)
        self.model_spec, self.train_spec = model, train
        self.dtype = train.dtype
        self.epoch = 0  # completed epochs
        self.history = History()
        self.early_stopping = EarlyStopping(train.patience) if train.patience else None

    # -- what a subclass writes -----------------------------------------------------------------

    @property
    def step(self) -> int:
        raise NotImplementedError

    def _to_device(self, x: np.ndarray, t: np.ndarray) -> tuple[Any, Any]:
        raise NotImplementedError

    def _train_rows(self, x: Any, t: Any, rows: np.ndarray) -> Any:
        raise NotImplementedError

    def _train_batch(self, x: np.ndarray, t: np.ndarray) -> Any:
        raise NotImplementedError

    def _predict(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def get_params(self) -> Params:
        raise NotImplementedError

    def set_params(self, params: Params) -> None:
        raise NotImplementedError

    def _get_slots(self) -> dict[str, list[np.ndarray]]:
        raise NotImplementedError

    def _set_slots(self, slots: dict[str, list[np.ndarray]], step: int) -> None:
        raise NotImplementedError

    # -- one step -------------------------------------------------------------------------------

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One optimizer step on the batch ``x (n, n_inputs)``, ``y (n,)``; the batch loss."""
        x, y = np.asarray(x), np.asarray(y)
        check_batch(x, y, self.model_spec, self.dtype)
        return float(self._train_batch(x, one_hot(y, self.model_spec.n_outputs, self.dtype)))

    # -- the training loop ----------------------------------------------------------------------

    def fit(self, data: Dataset, callbacks: Sequence[Callback] = ()) -> History:
        """Train from the current epoch up to ``train.epochs``, with early stopping if set."""
        spec = self.train_spec
        check_batch(data.x_train, data.y_train, self.model_spec, self.dtype)
        check_batch(data.x_val, data.y_val, self.model_spec, self.dtype)
        n = len(data.y_train)
        x, t = self._to_device(
            data.x_train, one_hot(data.y_train, self.model_spec.n_outputs, self.dtype)
        )
        for callback in callbacks:
            callback.on_train_begin(
                self, self.epoch + 1, spec.epochs, n_batches(n, spec.batch_size)
            )

        while self.epoch < spec.epochs and not self._stopped():
            start = time.perf_counter()
            losses, sizes = [], []
            for batch, rows in enumerate(epoch_batches(n, spec.batch_size, spec.seed, self.epoch)):
                loss = self._train_rows(x, t, rows)
                losses.append(loss)
                sizes.append(len(rows))
                for callback in callbacks:
                    callback.on_batch_end(self, batch, float(loss))
            # Reading the losses waits for the last step, so the time covers all the work.
            train_loss = float(np.dot([float(loss) for loss in losses], sizes)) / n
            seconds = time.perf_counter() - start
            self.epoch += 1
            record = self._end_of_epoch(data, train_loss, seconds)
            for callback in callbacks:
                callback.on_epoch_end(self, record)

        if self.early_stopping is not None and self.early_stopping.best_params is not None:
            self.set_params(self.early_stopping.best_params)
            self.history.best_epoch = self.early_stopping.best_epoch
            self.history.stopped_epoch = self.early_stopping.stopped_epoch
        for callback in callbacks:
            callback.on_train_end(self)
        return self.history

    def _stopped(self) -> bool:
        return self.early_stopping is not None and self.early_stopping.stopped_epoch is not None

    def _end_of_epoch(self, data: Dataset, train_loss: float, seconds: float) -> dict:
        val = evaluate(self.predict_proba(data.x_val), data.y_val, self.model_spec.loss)
        l2 = self.train_spec.l2
        val_loss = val.loss + (l2_penalty(self.get_params(), l2) if l2 else 0.0)
        record = {
            "epoch": self.epoch,
            "loss": train_loss,
            "val_loss": val_loss,
            "val_accuracy": val.accuracy,
            "seconds": seconds,
        }
        self.history.append(record)
        if self.early_stopping is not None:
            self.early_stopping.update(self.epoch, val_loss, self.get_params)
        return record

    # -- inference ------------------------------------------------------------------------------

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Predictions ``(n, n_outputs)`` as NumPy, dropout off; probabilities for softmax."""
        x = np.asarray(x)
        check_inputs(x, self.model_spec, self.dtype)
        chunks = [self._predict(x[i : i + PREDICT_CHUNK]) for i in range(0, len(x), PREDICT_CHUNK)]
        if not chunks:
            return np.empty((0, self.model_spec.n_outputs), dtype=self.dtype)
        return np.concatenate(chunks)

    # -- checkpoints ----------------------------------------------------------------------------

    def checkpoint(self) -> Checkpoint:
        stopper = self.early_stopping
        return Checkpoint.of(
            self,
            self._get_slots(),
            best=None if stopper is None else stopper.best_params,
            early_stopping=None if stopper is None else stopper.state(),
        )

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continue from ``checkpoint``, which any tier may have written."""
        checkpoint.check_fits(self.model_spec, self.train_spec.optimizer, self.slot_names)
        self.set_params(checkpoint.params)
        self._set_slots(checkpoint.flat_slots(self.dtype), checkpoint.step)
        self.epoch = checkpoint.epoch
        self.history = History(list(checkpoint.history))
        if checkpoint.early_stopping is not None and self.train_spec.patience:
            self.early_stopping = EarlyStopping.from_state(
                checkpoint.early_stopping, checkpoint.best
            )
            self.early_stopping.patience = self.train_spec.patience
