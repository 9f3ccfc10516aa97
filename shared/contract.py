"""The contract every tier meets: the ``Tier`` protocol, and the checks of what goes in.

The tools (``mlp_tiers``) drive tiers through these members only; a tier class satisfies the
protocol by having them (it inherits from nothing in ``shared/``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from shared.errors import DataError
from shared.init import Params
from shared.spec import ModelSpec, TrainSpec

if TYPE_CHECKING:
    from shared.callbacks import Callback
    from shared.checkpoint import Checkpoint
    from shared.data import Dataset
    from shared.history import History


@runtime_checkable
class Tier(Protocol):
    """One implementation of the MLP.

    ``train_step`` is what the lockstep parity engine drives; ``fit`` is the tier's own idiomatic
    loop (a plain loop in NumPy, a ``tf.function`` step in TensorFlow, ``model.fit`` in Keras).
    """

    name: str

    def __init__(self, model: ModelSpec, train: TrainSpec, params: Params) -> None: ...

    def train_step(self, x: Any, y: Any) -> float:
        """One optimizer step on one batch ``x (batch, n_inputs)``, ``y (batch,)``; its loss."""
        ...

    def predict_proba(self, x: Any) -> np.ndarray:
        """Predictions ``(batch, n_outputs)`` as NumPy: probabilities for a softmax output."""
        ...

    def get_params(self) -> Params:
        """``[(W, b), ...]`` as NumPy copies, ``W`` of shape ``(n_in, n_out)``."""
        ...

    def fit(self, data: Dataset, callbacks: Sequence[Callback] = ()) -> History:
        """Train for the remaining epochs of the spec; returns the whole history."""
        ...

    def checkpoint(self) -> Checkpoint:
        """The full training state: weights, optimizer slots, counters, history."""
        ...

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continue from ``checkpoint`` exactly as if training had never stopped."""
        ...


def check_inputs(x: Any, model: ModelSpec, dtype: str) -> None:
    """Raise a clear ``DataError`` unless ``x`` is ``(batch, n_inputs)`` of the model's dtype.

    Tiers never cast silently: float64 data into a float32 model is an error, not a downcast.
    """
    if x.ndim != 2 or x.shape[1] != model.n_inputs:
        raise DataError(
            f"input of shape {tuple(x.shape)} does not fit the model: it needs "
            f"(batch, {model.n_inputs})"
        )
    if str(x.dtype) != dtype:
        raise DataError(
            f"input has dtype {x.dtype} but the model is {dtype}; cast the data first "
            f"(Dataset.astype({dtype!r}))"
        )


def check_batch(x: Any, y: Any, model: ModelSpec, dtype: str) -> None:
    """``check_inputs``, and ``y`` must be ``(batch,)`` integer labels in ``0 .. n_outputs-1``."""
    check_inputs(x, model, dtype)
    if x.shape[0] == 0:
        raise DataError("a training batch needs at least one sample; got an empty one")
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise DataError(f"labels of shape {tuple(y.shape)} do not match {x.shape[0]} inputs")
    if y.dtype.kind not in "iu":
        raise DataError(f"labels must be integers; got dtype {y.dtype}")
    if y.size and (int(y.min()) < 0 or int(y.max()) >= model.n_outputs):
        raise DataError(
            f"labels must lie in 0 .. {model.n_outputs - 1}; got values from {int(y.min())} "
            f"to {int(y.max())}"
        )
