"""The hooks of a ``fit`` loop: every callback called in turn, with the tier and its values."""

import numpy as np

from shared.callbacks import Callback, CallbackList


class Recorder(Callback):
    def __init__(self, name, calls):
        self.name, self.calls = name, calls

    def on_train_begin(self, tier, first_epoch, epochs, steps_per_epoch):
        self.calls.append((self.name, "begin", tier, first_epoch, epochs, steps_per_epoch))

    def on_batch_end(self, tier, batch, loss):
        self.calls.append((self.name, "batch", batch, loss, type(loss)))

    def on_epoch_end(self, tier, record):
        self.calls.append((self.name, "epoch", record["epoch"]))

    def on_train_end(self, tier):
        self.calls.append((self.name, "end"))


def test_every_callback_hears_every_hook_in_order_with_the_loss_as_a_float():
    calls = []
    tier = object()
    hooks = CallbackList([Recorder("a", calls), Recorder("b", calls)], tier)
    hooks.train_begin(3, 5, 10)
    hooks.batch_end(0, np.float32(0.5))
    hooks.epoch_end({"epoch": 3})
    hooks.train_end()
    assert calls == [
        ("a", "begin", tier, 3, 5, 10), ("b", "begin", tier, 3, 5, 10),
        ("a", "batch", 0, 0.5, float), ("b", "batch", 0, 0.5, float),
        ("a", "epoch", 3), ("b", "epoch", 3),
        ("a", "end"), ("b", "end"),
    ]  # fmt: skip
