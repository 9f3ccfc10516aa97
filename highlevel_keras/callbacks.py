"""Keras callbacks of the tier: early stopping that survives a resume, and the shared history.

Keras's ``EarlyStopping`` and the shared ``shared.early_stopping.EarlyStopping`` follow the same
rule; what differs is bookkeeping: Keras counts epochs from 0 and resets its state at the start
of every ``fit``. ``resumable_early_stopping`` keeps the state across ``fit`` calls, and
``highlevel_keras.resume`` converts it to and from the checkpoint's 1-based form.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from shared.callbacks import Callback
from shared.checkpoint import CheckpointFile
from shared.signals import raise_if_requested
from shared.training import check_finite, check_validation


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
            check_validation(float(logs["val_loss"]), tier.name, tier.train_spec.lr, epoch + 1)
            tier.epoch = epoch + 1
            record = {
                "epoch": epoch + 1,
                "loss": float(logs["loss"]),
                "accuracy": float(logs["accuracy"]),  # the compiled metric's epoch mean
                "val_loss": float(logs["val_loss"]),
                "val_accuracy": float(logs["val_accuracy"]),
                "seconds": self.seconds,
            }
            tier.history.append(record)
            for callback in callbacks:
                callback.on_epoch_end(tier, record)
            if checkpoint_file is not None:
                checkpoint_file.save(tier.checkpoint())

        def on_train_end(self, logs: dict | None = None) -> None:
            for callback in callbacks:
                callback.on_train_end(tier)

    return Recorder()
