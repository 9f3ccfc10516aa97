"""Hooks into a tier's ``fit`` loop. Library code reports progress through these; it never prints.

Every tier's ``fit`` calls, in order: ``on_train_begin`` once, ``on_batch_end`` after every
optimizer step, ``on_epoch_end`` after every epoch (with that epoch's record), and
``on_train_end`` once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shared.checkpoint import save_checkpoint


class Callback:
    """Base class: override the hooks you need."""

    def on_train_begin(
        self, tier: Any, first_epoch: int, epochs: int, steps_per_epoch: int
    ) -> None:
        """``first_epoch`` is 1-based; it is above 1 when a run resumes."""

    def on_batch_end(self, tier: Any, batch: int, loss: float) -> None:
        """``batch`` is 0-based within the epoch; ``loss`` is that step's training loss."""

    def on_epoch_end(self, tier: Any, record: dict[str, Any]) -> None:
        """``record`` is the epoch's row of the history (see ``shared.history.History``)."""

    def on_train_end(self, tier: Any) -> None:
        """Called after the best weights (if any) have been restored."""


class CheckpointEveryEpoch(Callback):
    """Writes the tier's full state to ``path`` after every epoch, atomically."""

    def __init__(self, path: str | Path, data_spec: Any = None, data: Any = None) -> None:
        self.path = Path(path)
        self.data_spec = data_spec
        self.data = data  # the Dataset: its scaling statistics and class names travel along
        self.saved_epoch: int | None = None

    def on_epoch_end(self, tier: Any, record: dict[str, Any]) -> None:
        checkpoint = tier.checkpoint()
        checkpoint.data = self.data_spec
        if self.data is not None:
            checkpoint.scaling = (self.data.feature_mean, self.data.feature_scale)
            checkpoint.class_names = tuple(self.data.class_names)
        save_checkpoint(self.path, checkpoint)
        self.saved_epoch = checkpoint.epoch


class CallbackList:
    """The callbacks of one ``fit``, called together: ``callbacks.batch_end(i, loss)``.

    A loop calls ``train_begin`` once, ``batch_end`` after every step, ``epoch_end`` after every
    epoch and ``train_end`` once. A step's loss is read (which waits for the step to finish on a
    GPU or in a TensorFlow graph) only when some callback is there to receive it.
    """

    def __init__(self, callbacks: Sequence[Callback], tier: Any) -> None:
        self.callbacks, self.tier = list(callbacks), tier

    def train_begin(self, first_epoch: int, epochs: int, steps_per_epoch: int) -> None:
        for callback in self.callbacks:
            callback.on_train_begin(self.tier, first_epoch, epochs, steps_per_epoch)

    def batch_end(self, batch: int, loss: Any) -> None:
        for callback in self.callbacks:
            callback.on_batch_end(self.tier, batch, float(loss))

    def epoch_end(self, record: dict[str, Any]) -> None:
        for callback in self.callbacks:
            callback.on_epoch_end(self.tier, record)

    def train_end(self) -> None:
        for callback in self.callbacks:
            callback.on_train_end(self.tier)
