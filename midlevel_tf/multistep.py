"""The TensorFlow tier's faster loop: several training steps per call into TensorFlow.

``TFTier.fit`` calls the compiled step once per batch, and each call crosses from Python into
TensorFlow and back. On small batches that crossing rivals the step itself, so this variant
(``tf-nn:steps16``, ``tf-layers:steps16``) runs up to ``steps_per_call`` steps inside one graph:
``tf.range`` makes the loop part of the graph (AutoGraph), each step gathers its rows of the
training arrays there, and one call returns every step's loss and count of samples classified
right. The steps are the same, on the same batches, so the weights come out bit for bit the
same as the plain loop's; ``mlp-tiers bench`` times the two side by side (docs/benchmarks.md).

Everything else (the epoch record, divergence, early stopping, checkpoints) is ``fit``'s, line
for line.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from midlevel_tf.runtime import tf
from shared.batching import epoch_batches, n_batches
from shared.callbacks import Callback, CallbackList
from shared.checkpoint import CheckpointFile
from shared.history import History
from shared.training import (
    check_finite,
    check_validation,
    epoch_record,
    stopped,
    training_arrays,
    validate,
)

if TYPE_CHECKING:
    from midlevel_tf.tier import TFTier
    from shared.data import Dataset


def chunks(batches: list[np.ndarray], k: int) -> Iterator[tuple[int, list[np.ndarray]]]:
    """``(index of the first batch, up to k consecutive batches of one size)``: one call each.
    The last batch of an epoch may be smaller; it gets a call of its own."""
    first = 0
    while first < len(batches):
        size = len(batches[first])
        last = first + 1
        while last < len(batches) and last - first < k and len(batches[last]) == size:
            last += 1
        yield first, batches[first:last]
        first = last


def train_steps(
    tier: TFTier, x: tf.Tensor, t: tf.Tensor, rows: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor | None]:
    """``tier``'s step on each batch of ``rows (k, batch)`` in turn, its rows of the training
    arrays gathered inside the graph; the ``k`` losses, and the ``k`` counts right (None for a
    regressor, which counts nothing)."""
    step = type(tier).train_step  # the Python step itself: this whole loop is one graph
    k = tf.shape(rows)[0]
    losses, corrects = tf.TensorArray(x.dtype, size=k), tf.TensorArray(tf.int32, size=k)
    for i in tf.range(k):
        loss, correct = step(tier, tf.gather(x, rows[i]), tf.gather(t, rows[i]))
        losses = losses.write(i, loss)
        if correct is not None:  # decided when the loop is traced
            corrects = corrects.write(i, correct)
    return losses.stack(), None if tier.model_spec.is_regression else corrects.stack()


def fit(
    tier: TFTier,
    steps_per_call: int,
    data: Dataset,
    callbacks: Sequence[Callback] = (),
    checkpoint_file: CheckpointFile | None = None,
) -> History:
    """``TFTier.fit``, with up to ``steps_per_call`` steps per call into TensorFlow."""
    spec = tier.train_spec
    x, t = training_arrays(data, tier.model_spec, tier.dtype, spec.patience)
    x, t = tier._on_device(x), tier._on_device(t)
    n, steps = len(x), n_batches(len(x), spec.batch_size)
    hooks = CallbackList(callbacks, tier)
    hooks.train_begin(tier.epoch + 1, spec.epochs, steps)

    while tier.epoch < spec.epochs and not stopped(tier.early_stopping):
        start = time.perf_counter()
        losses, sizes, right = [], [], []
        batches = epoch_batches(n, spec.batch_size, spec.seed, tier.epoch)
        for first, chunk in chunks(batches, steps_per_call):
            # traced once per shape of its row chunks: (k, batch), the epoch's rest, and the
            # last, smaller batch (XLA needs those shapes known)
            rows = tier._on_device(np.stack(chunk))
            chunk_losses, chunk_correct = tier._several_steps(x, t, rows)
            for batch, loss in enumerate(chunk_losses.numpy().tolist(), start=first):
                loss = check_finite(loss, tier.name, spec.lr, tier.epoch + 1, batch + 1, steps)
                losses.append(loss)
                sizes.append(len(batches[batch]))
                hooks.batch_end(batch, loss)
            if chunk_correct is not None:
                right.append(int(chunk_correct.numpy().sum()))
        seconds = time.perf_counter() - start
        tier.epoch += 1
        correct = sum(right) if right else None

        val_loss, val_accuracy = validate(
            tier.predict_proba(data.x_val), data, tier.model_spec, tier.get_params(), spec.l2
        )
        check_validation(val_loss, tier.name, spec.lr, tier.epoch)
        record = epoch_record(tier.epoch, losses, sizes, correct, val_loss, val_accuracy, seconds)
        tier.history.append(record)
        if tier.early_stopping is not None:
            tier.early_stopping.update(tier.epoch, val_loss, tier.get_params)
        hooks.epoch_end(record)
        if checkpoint_file is not None:
            checkpoint_file.save(tier.checkpoint())

    stopper = tier.early_stopping
    if stopper is not None and stopper.best_params is not None:
        tier.set_params(stopper.best_params)
        tier.history.best_epoch = stopper.best_epoch
        tier.history.stopped_epoch = stopper.stopped_epoch
    hooks.train_end()
    return tier.history
