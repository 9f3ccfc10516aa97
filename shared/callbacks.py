"""Hooks into a tier's ``fit`` loop. Library code reports progress through these; it never prints.

Every tier's ``fit`` calls, in order: ``on_train_begin`` once, ``on_batch_end`` after every
optimizer step, ``on_epoch_end`` after every epoch (with that epoch's record), and
``on_train_end`` once.

``CallbackList`` also looks, at the start of training and after every step and epoch, for a
SIGINT or SIGTERM that ``shared.signals`` recorded but whose exception never reached the loop: a
library may catch it on the way (a C extension interrupted while it loads can turn the
``KeyboardInterrupt`` into an error its importer catches). The run then stops at the next of
these points instead of training on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shared.signals import raise_if_requested

if TYPE_CHECKING:
    from shared.contract import Tier


class Callback:
    """Base class: override the hooks you need."""

    def on_train_begin(
        self, tier: Tier, first_epoch: int, epochs: int, steps_per_epoch: int
    ) -> None:
        """``first_epoch`` is 1-based; it is above 1 when a run resumes."""

    def on_batch_end(self, tier: Tier, batch: int, loss: float) -> None:
        """``batch`` is 0-based within the epoch; ``loss`` is that step's training loss."""

    def on_epoch_end(self, tier: Tier, record: dict[str, Any]) -> None:
        """``record`` is the epoch's row of the history (see ``shared.history.History``)."""

    def on_train_end(self, tier: Tier) -> None:
        """Called after the best weights (if any) have been restored."""


class CallbackList:
    """The callbacks of one ``fit``, called together: ``callbacks.batch_end(i, loss)``.

    A loop calls ``train_begin`` once, ``batch_end`` after every step, ``epoch_end`` after every
    epoch and ``train_end`` once; each callback receives a step's loss as a Python float.
    """

    def __init__(self, callbacks: Sequence[Callback], tier: Tier) -> None:
        self.callbacks, self.tier = list(callbacks), tier

    def train_begin(self, first_epoch: int, epochs: int, steps_per_epoch: int) -> None:
        raise_if_requested()
        for callback in self.callbacks:
            callback.on_train_begin(self.tier, first_epoch, epochs, steps_per_epoch)

    def batch_end(self, batch: int, loss: Any) -> None:
        raise_if_requested()
        for callback in self.callbacks:
            callback.on_batch_end(self.tier, batch, float(loss))

    def epoch_end(self, record: dict[str, Any]) -> None:
        raise_if_requested()
        for callback in self.callbacks:
            callback.on_epoch_end(self.tier, record)

    def train_end(self) -> None:
        for callback in self.callbacks:
            callback.on_train_end(self.tier)
