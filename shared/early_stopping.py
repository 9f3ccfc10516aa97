"""Early stopping on the validation loss, with the best weights restored at the end.

The rule is Keras's ``EarlyStopping(monitor="val_loss", patience=p, restore_best_weights=True)``,
so that every tier stops at the same epoch given the same losses:

- after each epoch, ``wait += 1``; a validation loss strictly below the best so far makes it the
  new best (its weights are kept) and resets ``wait = 0``;
- training stops once ``wait >= patience`` (never after the first epoch, as in Keras);
- when training ends, stopped or not, the best epoch's weights are restored.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from shared.init import Params


class EarlyStopping:
    """Tracks the best validation loss; ``update`` says when to stop."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best = math.inf
        self.best_epoch: int | None = None
        self.best_params: Params | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None

    def update(self, epoch: int, val_loss: float | None, get_params: Callable[[], Params]) -> bool:
        """Record the validation loss of ``epoch`` (1-based); True when training should stop.

        ``val_loss`` is None only without a validation split, where ``training_arrays`` has
        already refused early stopping: getting one here is a bug in the caller.
        """
        if val_loss is None:
            raise ValueError("early stopping got no validation loss: there is no validation split")
        if self.best_params is None:
            # As in Keras: until an improvement is seen, the first epoch's weights are the best.
            self.best_params, self.best_epoch = get_params(), epoch
        self.wait += 1
        if val_loss < self.best:
            self.best, self.best_epoch, self.best_params = val_loss, epoch, get_params()
            self.wait = 0
            return False
        if self.wait >= self.patience and epoch > 1:
            self.stopped_epoch = epoch
            return True
        return False

    def state(self) -> dict[str, Any]:
        """The counters, as JSON-ready values (the best weights are saved separately)."""
        return {
            "patience": self.patience,
            "best": None if math.isinf(self.best) else self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], best_params: Params | None) -> EarlyStopping:
        stopper = cls(int(state["patience"]))
        stopper.best = math.inf if state["best"] is None else float(state["best"])
        stopper.best_epoch = state["best_epoch"]
        stopper.wait = int(state["wait"])
        stopper.stopped_epoch = state["stopped_epoch"]
        stopper.best_params = best_params
        return stopper
