"""The Keras tier's state in the framework-neutral checkpoint, and back.

A Keras model keeps its training state in several places: the weights, the optimizer's
variables (its step counter and its per-parameter slots), the dropout layers' random generators,
and the ``EarlyStopping`` callback's counters. ``keras_checkpoint`` gathers them into a
``shared.checkpoint.Checkpoint`` that any tier reads; ``restore_keras`` puts a checkpoint written
by any tier back, so that training continues exactly as if it had never stopped.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from adapters.keras_setup import optimizer_slots
from shared.checkpoint import Checkpoint, pairs
from shared.history import History
from shared.init import Params


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
