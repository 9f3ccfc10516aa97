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
    from pathlib import Path

    from shared.callbacks import Callback
    from shared.checkpoint import Checkpoint, CheckpointFile
    from shared.data import Dataset
    from shared.history import History


@runtime_checkable
class Tier(Protocol):
    """One implementation of the MLP: every member a tool or a shared helper uses.

    ``train_on_batch`` is what the lockstep parity engine drives (each tier's own lesson step,
    ``train_step``, runs inside it); ``fit`` is the tier's own idiomatic loop (a plain loop in
    NumPy, the same loop around a ``tf.function`` step in TensorFlow, ``model.fit`` in Keras).
    """

    name: str
    model_spec: ModelSpec
    train_spec: TrainSpec
    dtype: str
    # Where the tier computes, in its framework's words ("numpy", "cupy", "/CPU:0", "gpu:0").
    device: str
    epoch: int  # completed epochs
    history: History
    # False on every data-parallel replica but the first (``TrainSpec.replicas``): such a
    # replica trains, and the tools write and print nothing for it.
    chief: bool

    def __init__(self, model_spec: ModelSpec, train_spec: TrainSpec, params: Params) -> None: ...

    @property
    def step(self) -> int:
        """Optimizer steps taken so far."""
        ...

    def train_on_batch(self, x: np.ndarray, y: np.ndarray) -> float:
        """One optimizer step on host arrays ``x (batch, n_inputs)`` and labels ``y (batch,)``
        (a regressor: standardized targets ``(batch, n_outputs)``); its loss."""
        ...

    def probe(self, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        """``logits``, ``loss`` and ``grads`` of one batch at the current weights, dropout off,
        changing nothing: what ``mlp-tiers parity`` compares level by level."""
        ...

    def fit(
        self,
        data: Dataset,
        callbacks: Sequence[Callback] = (),
        checkpoint_file: CheckpointFile | None = None,
    ) -> History:
        """Train for the remaining epochs of the spec; returns the whole history. With
        ``checkpoint_file``, the full state is saved there after every epoch."""
        ...

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Predictions ``(batch, n_outputs)`` as NumPy: probabilities for a softmax output; a
        regressor's standardized predictions (``Dataset.in_target_units`` gives their units)."""
        ...

    def get_params(self) -> Params:
        """``[(W, b), ...]`` as NumPy copies, ``W`` of shape ``(n_in, n_out)``."""
        ...

    def set_params(self, params: Params) -> None:
        """Overwrite the weights (the optimizer state stays)."""
        ...

    def checkpoint(self) -> Checkpoint:
        """The full training state: weights, optimizer slots, counters, history."""
        ...

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continue from ``checkpoint`` exactly as if training had never stopped."""
        ...


@runtime_checkable
class SavesNative(Protocol):
    """A tier with a model format of its own, written beside the shared checkpoint."""

    native_file: str  # its name in a run folder ("model.keras")

    def save_native(self, path: Path) -> Path:
        """Write the whole model to ``path``, atomically; returns the path."""
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
    """``check_inputs``, and ``y`` must be ``(batch,)`` integer labels in ``0 .. n_outputs-1``,
    or for a regressor ``(batch, n_outputs)`` standardized targets of the model's dtype."""
    check_inputs(x, model, dtype)
    if x.shape[0] == 0:
        raise DataError("a training batch needs at least one sample; got an empty one")
    if model.is_regression:
        if y.ndim != 2 or y.shape != (x.shape[0], model.n_outputs):
            raise DataError(
                f"targets of shape {tuple(y.shape)} do not fit {x.shape[0]} inputs and "
                f"{model.n_outputs} outputs: a regressor needs ({x.shape[0]}, {model.n_outputs})"
            )
        if str(y.dtype) != dtype:
            raise DataError(
                f"targets have dtype {y.dtype} but the model is {dtype}; cast the data first "
                f"(Dataset.astype({dtype!r}))"
            )
        return
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise DataError(f"labels of shape {tuple(y.shape)} do not match {x.shape[0]} inputs")
    if y.dtype.kind not in "iu":
        raise DataError(f"labels must be integers; got dtype {y.dtype}")
    if y.size and (int(y.min()) < 0 or int(y.max()) >= model.n_outputs):
        raise DataError(
            f"labels must lie in 0 .. {model.n_outputs - 1}; got values from {int(y.min())} "
            f"to {int(y.max())}"
        )
