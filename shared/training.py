"""What the hand-written training loops do alike, as plain functions of values.

The NumPy and TensorFlow tiers write their own ``fit`` loop, in their own folders, and the Keras
tier calls ``model.fit``. What must come out the same in all of them lives here: the training
arrays, the step's divergence check, the validation loss, the epoch record, early stopping,
chunked prediction, and the checkpoint's counters. Each function takes values and returns
values; none is handed a tier, and each loop shows what it does with the result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from shared.checkpoint import Checkpoint
from shared.contract import check_batch, check_inputs
from shared.early_stopping import EarlyStopping
from shared.errors import DataError, DivergedError
from shared.history import History
from shared.init import Params
from shared.metrics import evaluate, l2_penalty, one_hot
from shared.spec import ModelSpec, TrainSpec

if TYPE_CHECKING:
    from shared.data import Dataset

PREDICT_CHUNK = 8192  # rows per forward pass in predict_proba, to bound memory


def training_targets(y: np.ndarray, model: ModelSpec, dtype: str) -> np.ndarray:
    """What the loss compares the outputs with, ``t (n, n_outputs)``: one-hot rows of the
    labels ``y (n,)`` for a classifier; a regressor's standardized targets as they are."""
    if model.is_regression:
        return np.asarray(y, dtype=dtype)
    return one_hot(y, model.n_outputs, dtype)


def training_arrays(
    data: Dataset, model: ModelSpec, dtype: str, patience: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The training inputs ``x (n, n_inputs)`` and targets ``t (n, n_outputs)``
    (``training_targets``), after checking both splits a loop reads (a clear ``DataError`` if
    they do not fit the model).

    The validation split may be empty (the scikit-learn estimators fit on every row they are
    given): the epochs then record no validation loss, and early stopping (``patience``), which
    watches it, is refused.
    """
    check_batch(data.x_train, data.y_train, model, dtype)
    if has_validation(data):
        check_batch(data.x_val, data.y_val, model, dtype)
    elif patience:
        raise DataError(
            f"early stopping (patience {patience}) watches the validation loss, and this dataset "
            f"has no validation rows; hold some out (val_fraction above 0) or turn it off"
        )
    return data.x_train, training_targets(data.y_train, model, dtype)


def has_validation(data: Dataset) -> bool:
    """Whether ``data`` has validation rows to score each epoch on."""
    return len(data.y_val) > 0


def early_stopping_for(train: TrainSpec) -> EarlyStopping | None:
    """Early stopping on the validation loss with the spec's patience, or None when it is off."""
    return EarlyStopping(train.patience) if train.patience else None


def stopped(early_stopping: EarlyStopping | None) -> bool:
    """Whether early stopping has ended training (in this run, or in the run it resumes)."""
    return early_stopping is not None and early_stopping.stopped_epoch is not None


def check_finite(loss: Any, name: str, lr: float, epoch: int, batch: int, n_batches: int) -> float:
    """The step's loss as a float; stop at once when it is NaN or infinite: the weights have
    diverged, and every later step, epoch record and checkpoint would hold NaN. ``epoch`` is the
    epoch now running and ``batch`` the step within it, both from 1; the last checkpoint
    written stays the last good one. Reading ``loss`` waits for the step to finish."""
    value = float(loss)
    if math.isfinite(value):
        return value
    raise DivergedError(
        f"{name}: the training loss became {value} at epoch {epoch}, step {batch} of "
        f"{n_batches}; the weights diverged, so training stopped there. A smaller learning "
        f"rate keeps them finite (--lr is {lr:g}; try {smaller_lr(lr):g})"
    )


def smaller_lr(lr: float) -> float:
    """A learning rate to try after ``lr`` diverged: a tenth of it; after a rate above 1, whose
    tenth diverges as surely on standardized data, 0.01 (Keras's default for SGD)."""
    return lr / 10 if lr <= 1 else 0.01


def validate(
    predictions: np.ndarray, data: Dataset, model: ModelSpec, params: Params, l2: float
) -> tuple[float | None, float | None]:
    """The validation loss and accuracy of ``predictions (n_val, n_outputs)`` (a regressor has
    no accuracy: None; a dataset without validation rows has neither).

    The loss includes the L2 term ``l2 * sum(W**2)`` of ``params``, as Keras's ``val_loss`` does
    and as early stopping monitors it; a regressor's is the mean squared error of its
    standardized predictions, the loss it trains on.
    """
    if not has_validation(data):
        return None, None
    penalty = l2_penalty(params, l2) if l2 else 0.0
    if model.is_regression:
        error = np.asarray(predictions, dtype=np.float64) - data.y_val
        return float(np.mean(error**2)) + penalty, None
    val = evaluate(predictions, data.y_val, model.loss)
    return val.loss + penalty, val.accuracy


def check_validation(val_loss: float | None, name: str, lr: float, epoch: int) -> None:
    """Stop when the validation loss after ``epoch`` (from 1) is NaN or infinite (None: there is
    no validation split, so nothing to check)."""
    if val_loss is not None and not math.isfinite(val_loss):
        raise DivergedError(
            f"{name}: the validation loss became {val_loss} after epoch {epoch}; the weights "
            f"diverged. A smaller learning rate keeps them finite (--lr is {lr:g})"
        )


def epoch_record(
    epoch: int,
    losses: Sequence[float],
    sizes: Sequence[int],
    correct: Any,
    val_loss: float | None,
    val_accuracy: float | None,
    seconds: float,
) -> dict[str, Any]:
    """The history's row for ``epoch`` (from 1).

    ``loss`` is the batch losses weighted by batch size, over all the epoch's samples;
    ``accuracy`` is ``correct`` (a count: a Python int, or a framework's integer scalar) over
    those samples: each counted by its own step's forward pass, before that step's update and
    with dropout on, as Keras's ``accuracy`` metric counts them. A regressor counts nothing:
    ``correct`` and ``val_accuracy`` are None, and so are both accuracies of its record.
    """
    n = sum(sizes)
    return {
        "epoch": epoch,
        "loss": float(np.dot(losses, sizes)) / n,
        "accuracy": None if correct is None else int(correct) / n,
        "val_loss": val_loss,
        "val_accuracy": val_accuracy,
        "seconds": seconds,
    }


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


def resumed_state(
    checkpoint: Checkpoint, train: TrainSpec
) -> tuple[int, History, EarlyStopping | None]:
    """The completed epochs, the history and the early-stopping state a run resumes with
    (the weights and the optimizer state are the tier's own to set)."""
    history = History(list(checkpoint.history))
    stopper = early_stopping_for(train)
    if checkpoint.early_stopping is not None and train.patience:
        stopper = EarlyStopping.from_state(checkpoint.early_stopping, checkpoint.best)
        stopper.patience = train.patience
    return checkpoint.epoch, history, stopper
