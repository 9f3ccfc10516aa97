"""The NumPy tier: the ``Tier`` protocol around ``MLP`` and an ``Optimizer``, and its training loop.

One training step is the whole algorithm:

    loss, grads = mlp.loss_and_gradients(x, t)   # forward, loss, backward
    optimizer.apply_update(params, grads)         # w <- w - (something) * g

and ``fit`` repeats it over the batches of ``shared.batching`` for each epoch, then evaluates on
the validation set and applies early stopping.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from lowlevel_numpy.backend import array_module, to_numpy
from lowlevel_numpy.model import MLP
from lowlevel_numpy.optimizers import make_optimizer
from shared.batching import epoch_batches, n_batches
from shared.callbacks import Callback
from shared.checkpoint import Checkpoint
from shared.data import Dataset
from shared.early_stopping import EarlyStopping
from shared.errors import CheckpointError
from shared.init import Params, check_params
from shared.metrics import evaluate, l2_penalty, one_hot
from shared.report import History
from shared.seeding import stream
from shared.spec import ModelSpec, TrainSpec
from shared.tiers import check_batch, check_inputs

PREDICT_CHUNK = 8192  # rows per forward pass in predict_proba, to bound memory


class NumpyTier:
    """The MLP in NumPy (or CuPy on a GPU), trained by the hand-written backward pass."""

    name = "numpy"

    def __init__(self, model: ModelSpec, train: TrainSpec, params: Params) -> None:
        check_params(params, model)
        self.model_spec, self.train_spec = model, train
        self.xp = array_module(train.device)
        self.dtype = train.dtype
        # Copies: training updates the weights in place and must not touch the caller's arrays.
        on_device = [
            (self.xp.array(W, dtype=self.dtype), self.xp.array(b, dtype=self.dtype))
            for W, b in params
        ]
        self.mlp = MLP(model, on_device, dropout=train.dropout, l2=train.l2)
        self.optimizer = make_optimizer(self.mlp.parameters(), train)
        self.epoch = 0  # completed epochs
        self.history = History()
        self.early_stopping = EarlyStopping(train.patience) if train.patience else None

    @property
    def step(self) -> int:
        """Optimizer steps taken so far."""
        return self.optimizer.iterations

    # -- one step ---------------------------------------------------------------------------

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One optimizer step on the batch ``x (n, n_inputs)``, ``y (n,)``; the batch loss."""
        x, y = np.asarray(x), np.asarray(y)
        check_batch(x, y, self.model_spec, self.dtype)
        t = one_hot(y, self.model_spec.n_outputs, self.dtype)
        return self._step(self.xp.asarray(x), self.xp.asarray(t))

    def _step(self, x, t) -> float:
        # Dropout masks come from a stream keyed by the step, so a resumed run draws the same ones.
        rng = (
            stream(self.train_spec.seed, "dropout", self.step) if self.train_spec.dropout else None
        )
        loss, grads = self.mlp.loss_and_gradients(x, t, rng, self.xp)
        self.optimizer.apply_update(self.mlp.parameters(), grads)
        return float(loss)

    # -- the training loop ------------------------------------------------------------------

    def fit(self, data: Dataset, callbacks: Sequence[Callback] = ()) -> History:
        """Train from the current epoch up to ``train.epochs``, with early stopping if set."""
        spec = self.train_spec
        check_batch(data.x_train, data.y_train, self.model_spec, self.dtype)
        check_batch(data.x_val, data.y_val, self.model_spec, self.dtype)
        xp = self.xp
        x = xp.asarray(data.x_train)  # moved to the device once, then sliced per batch
        t = xp.asarray(one_hot(data.y_train, self.model_spec.n_outputs, self.dtype))
        n = len(data.y_train)
        for callback in callbacks:
            callback.on_train_begin(
                self, self.epoch + 1, spec.epochs, n_batches(n, spec.batch_size)
            )

        while self.epoch < spec.epochs and not self._stopped():
            start = time.perf_counter()
            total = 0.0
            for batch, indices in enumerate(
                epoch_batches(n, spec.batch_size, spec.seed, self.epoch)
            ):
                rows = xp.asarray(indices)
                loss = self._step(x[rows], t[rows])
                total += loss * len(indices)
                for callback in callbacks:
                    callback.on_batch_end(self, batch, loss)
            seconds = time.perf_counter() - start
            self.epoch += 1
            record = self._end_of_epoch(data, total / n, seconds)
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

    # -- inference and parameters -------------------------------------------------------------

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Predictions ``(n, n_outputs)`` as NumPy, dropout off; probabilities for softmax."""
        x = np.asarray(x)
        check_inputs(x, self.model_spec, self.dtype)
        chunks = [
            to_numpy(self.mlp.predict(self.xp.asarray(x[i : i + PREDICT_CHUNK])))
            for i in range(0, len(x), PREDICT_CHUNK)
        ]
        return np.concatenate(chunks) if chunks else np.empty((0, self.model_spec.n_outputs))

    def get_params(self) -> Params:
        return [(to_numpy(layer.W).copy(), to_numpy(layer.b).copy()) for layer in self.mlp.layers]

    def set_params(self, params: Params) -> None:
        """Overwrite the weights in place (the optimizer keeps references to these arrays)."""
        check_params(params, self.model_spec)
        for layer, (W, b) in zip(self.mlp.layers, params):
            layer.W[...] = self.xp.asarray(W, self.dtype)
            layer.b[...] = self.xp.asarray(b, self.dtype)

    # -- checkpoints ----------------------------------------------------------------------------

    def checkpoint(self) -> Checkpoint:
        slots = {
            name: [(to_numpy(arrays[i]).copy(), to_numpy(arrays[i + 1]).copy())
                   for i in range(0, len(arrays), 2)]
            for name, arrays in self.optimizer.state.items()
        }  # fmt: skip
        stopper = self.early_stopping
        return Checkpoint(
            params=self.get_params(),
            model=self.model_spec,
            train=self.train_spec,
            slots=slots,
            step=self.step,
            epoch=self.epoch,
            tier=self.name,
            history=list(self.history.records),
            best=None if stopper is None else stopper.best_params,
            early_stopping=None if stopper is None else stopper.state(),
        )

    def restore(self, checkpoint: Checkpoint) -> None:
        if checkpoint.model != self.model_spec:
            raise CheckpointError(
                "the checkpoint's model spec differs from this model's; build the tier from "
                "checkpoint.model"
            )
        if set(checkpoint.slots) != set(self.optimizer.slots):
            raise CheckpointError(
                f"the checkpoint holds optimizer state {sorted(checkpoint.slots) or 'none'}, but "
                f"optimizer {self.train_spec.optimizer!r} keeps "
                f"{list(self.optimizer.slots) or 'none'}"
            )
        self.set_params(checkpoint.params)
        for name, pairs in checkpoint.slots.items():
            arrays = self.optimizer.state[name]
            for i, (W, b) in enumerate(pairs):
                arrays[2 * i][...] = self.xp.asarray(W, self.dtype)
                arrays[2 * i + 1][...] = self.xp.asarray(b, self.dtype)
        self.optimizer.iterations = checkpoint.step
        self.epoch = checkpoint.epoch
        self.history = History(list(checkpoint.history))
        if checkpoint.early_stopping is not None and self.train_spec.patience:
            self.early_stopping = EarlyStopping.from_state(
                checkpoint.early_stopping, checkpoint.best
            )
            self.early_stopping.patience = self.train_spec.patience
