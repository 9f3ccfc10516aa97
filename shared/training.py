"""What the hand-written training loops do alike, as plain functions each loop calls.

The NumPy and TensorFlow tiers write their own ``fit`` loop, in their own folders, and the Keras
tier calls ``model.fit``. What must come out the same in all of them lives here: the training
arrays, the epoch's mean loss, the epoch record (validation loss and accuracy), early stopping
with the best weights restored, chunked prediction, and the counters a checkpoint carries.

These functions read a few attributes of the tier they are given: ``model_spec``,
``train_spec``, ``dtype``, ``epoch``, ``history``, ``early_stopping``, and its ``get_params``,
``set_params`` and ``predict_proba``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from shared.checkpoint import Checkpoint
from shared.contract import check_batch, check_inputs
from shared.early_stopping import EarlyStopping
from shared.errors import DivergedError
from shared.history import History
from shared.metrics import evaluate, l2_penalty, one_hot
from shared.spec import ModelSpec, TrainSpec

if TYPE_CHECKING:
    from shared.data import Dataset

PREDICT_CHUNK = 8192  # rows per forward pass in predict_proba, to bound memory


def training_arrays(data: Dataset, model: ModelSpec, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """The training inputs ``x (n, n_inputs)`` and one-hot targets ``t (n, n_outputs)``, after
    checking both splits a loop reads (a clear ``DataError`` if they do not fit the model)."""
    check_batch(data.x_train, data.y_train, model, dtype)
    check_batch(data.x_val, data.y_val, model, dtype)
    return data.x_train, one_hot(data.y_train, model.n_outputs, dtype)


def early_stopping_for(train: TrainSpec) -> EarlyStopping | None:
    """Early stopping on the validation loss with the spec's patience, or None when it is off."""
    return EarlyStopping(train.patience) if train.patience else None


def stopped(early_stopping: EarlyStopping | None) -> bool:
    """Whether early stopping has ended training (in this run, or in the run it resumes)."""
    return early_stopping is not None and early_stopping.stopped_epoch is not None


def epoch_loss(losses: Sequence[Any], sizes: Sequence[int]) -> float:
    """The epoch's training loss: the batch losses weighted by batch size, over all samples.

    ``losses`` may hold a framework's scalars; reading them waits for the last step to finish.
    """
    return float(np.dot([float(loss) for loss in losses], sizes)) / sum(sizes)


def check_finite(tier: Any, loss: Any, batch: int, n_batches: int) -> None:
    """Stop at once when a step's loss is NaN or infinite: the weights have diverged, and every
    later step, epoch record and checkpoint would hold NaN. ``batch`` counts from 1 within the
    epoch now running (``tier.epoch + 1``); the last checkpoint written stays the last good one.
    """
    value = float(loss)
    if math.isfinite(value):
        return
    spec = tier.train_spec
    raise DivergedError(
        f"{tier.name}: the training loss became {value} at epoch {tier.epoch + 1}, step {batch} "
        f"of {n_batches}; the weights diverged, so training stopped there. A smaller learning "
        f"rate keeps them finite (--lr is {spec.lr:g}; try {spec.lr / 10:g})"
    )


def end_of_epoch(
    tier: Any, data: Dataset, train_loss: float, train_accuracy: float, seconds: float
) -> dict[str, Any]:
    """The record of the epoch just finished (``tier.epoch``, 1-based), appended to the history.

    ``train_accuracy`` is the share of the epoch's training samples that their step's forward
    pass classified right, before that step's update and with dropout on: Keras's ``accuracy``.
    The validation loss includes the L2 term, as Keras's ``val_loss`` does and as early stopping
    monitors it.
    """
    val = evaluate(tier.predict_proba(data.x_val), data.y_val, tier.model_spec.loss)
    l2 = tier.train_spec.l2
    val_loss = val.loss + (l2_penalty(tier.get_params(), l2) if l2 else 0.0)
    if not math.isfinite(val_loss):
        raise DivergedError(
            f"{tier.name}: the validation loss became {val_loss} after epoch {tier.epoch}; the "
            f"weights diverged. A smaller learning rate keeps them finite (--lr is "
            f"{tier.train_spec.lr:g})"
        )
    record = {
        "epoch": tier.epoch,
        "loss": train_loss,
        "accuracy": train_accuracy,
        "val_loss": val_loss,
        "val_accuracy": val.accuracy,
        "seconds": seconds,
    }
    tier.history.append(record)
    if tier.early_stopping is not None:
        tier.early_stopping.update(tier.epoch, val_loss, tier.get_params)
    return record


def restore_best_weights(tier: Any) -> None:
    """At the end of ``fit``: with early stopping on, the best epoch's weights come back."""
    stopper = tier.early_stopping
    if stopper is not None and stopper.best_params is not None:
        tier.set_params(stopper.best_params)
        tier.history.best_epoch = stopper.best_epoch
        tier.history.stopped_epoch = stopper.stopped_epoch


def predict_in_chunks(
    predict: Callable[[np.ndarray], np.ndarray], x: Any, model: ModelSpec, dtype: str
) -> np.ndarray:
    """``predict`` over ``x`` in chunks of ``PREDICT_CHUNK`` rows, after checking ``x``; NumPy."""
    x = np.asarray(x)
    check_inputs(x, model, dtype)
    chunks = [predict(x[i : i + PREDICT_CHUNK]) for i in range(0, len(x), PREDICT_CHUNK)]
    if not chunks:
        return np.empty((0, model.n_outputs), dtype=dtype)
    return np.concatenate(chunks)


def checkpoint_of(tier: Any, slots: dict[str, list[np.ndarray]]) -> Checkpoint:
    """The checkpoint of a hand-written tier: its weights, counters and history, its optimizer
    ``slots`` (``{name: [W0, b0, W1, b1, ...]}`` as NumPy) and its early-stopping state."""
    stopper = tier.early_stopping
    return Checkpoint.of(
        tier,
        slots,
        best=None if stopper is None else stopper.best_params,
        early_stopping=None if stopper is None else stopper.state(),
    )


def resume_counters(tier: Any, checkpoint: Checkpoint) -> None:
    """Set the completed epochs, the history and the early-stopping state from ``checkpoint``
    (the weights and optimizer state are the tier's own to set)."""
    tier.epoch = checkpoint.epoch
    tier.history = History(list(checkpoint.history))
    if checkpoint.early_stopping is not None and tier.train_spec.patience:
        tier.early_stopping = EarlyStopping.from_state(checkpoint.early_stopping, checkpoint.best)
        tier.early_stopping.patience = tier.train_spec.patience
