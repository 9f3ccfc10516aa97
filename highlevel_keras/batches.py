"""The shared batch order, fed to ``model.fit`` the way each backend takes it fastest.

``fit(shuffle=True)`` would draw its own order; here batch ``i`` of epoch ``e`` is exactly the
rows ``shared.batching.epoch_batches(n, batch_size, seed, e)[i]`` that every tier trains on.

- On TensorFlow, a ``tf.data.Dataset`` of those index batches, gathered from the arrays inside
  TensorFlow's input pipeline (``tf.gather``) and prefetched while the previous step runs: what a
  TensorFlow user would write, and several times faster than Python handing Keras each batch.
  It covers every epoch still to train, so ``fit`` is given ``steps_per_epoch``.
- On JAX and PyTorch, a ``keras.utils.PyDataset``. Its epoch comes from ``fit`` itself: the
  ``EpochSetter`` callback sets it in ``on_epoch_begin``, before ``fit`` asks for the epoch's
  first batch (``PyDataset.on_epoch_end`` would not do: Keras also calls it after peeking at a
  batch to learn the data's shapes).

Either way ``fit`` must be called with ``shuffle=False``, or Keras permutes the batches.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shared.batching import epoch_batches, epoch_permutation


def shared_batches(
    keras: Any, x: np.ndarray, t: np.ndarray, batch_size: int, seed: int, epochs: range
) -> tuple[Any, list[Any]]:
    """What ``fit`` trains on for ``epochs`` (0-based), and the callbacks it needs."""
    if keras.backend.backend() == "tensorflow":
        return tf_dataset(x, t, batch_size, seed, epochs), []
    batches = make_batches(keras, x, t, batch_size, seed)
    return batches, [make_epoch_setter(keras, batches)]


def tf_dataset(x: np.ndarray, t: np.ndarray, batch_size: int, seed: int, epochs: range) -> Any:
    import tensorflow as tf

    orders = np.stack([epoch_permutation(len(x), seed, epoch) for epoch in epochs])
    x, t = tf.constant(x), tf.constant(t)
    return (
        tf.data.Dataset.from_tensor_slices(orders)  # one epoch's order at a time ...
        .flat_map(lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size))
        .map(lambda rows: (tf.gather(x, rows), tf.gather(t, rows)))  # ... cut into batches
        .prefetch(tf.data.AUTOTUNE)
    )


def make_batches(keras: Any, x: np.ndarray, t: np.ndarray, batch_size: int, seed: int) -> Any:
    class SharedBatches(keras.utils.PyDataset):
        """Batches of ``(x, t)`` in the shared order for the current epoch."""

        def __init__(self) -> None:
            super().__init__(workers=1, use_multiprocessing=False)
            self.epoch = 0
            self._rows = epoch_batches(len(x), batch_size, seed, 0)

        def set_epoch(self, epoch: int) -> None:
            self.epoch = epoch
            self._rows = epoch_batches(len(x), batch_size, seed, epoch)

        def __len__(self) -> int:
            return len(self._rows)

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            rows = self._rows[index]
            return x[rows], t[rows]

    return SharedBatches()


def make_epoch_setter(keras: Any, batches: Any) -> Any:
    class EpochSetter(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            batches.set_epoch(epoch)

    return EpochSetter()
