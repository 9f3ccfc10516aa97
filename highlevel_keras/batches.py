"""The shared batch order, fed to ``model.fit`` as a ``keras.utils.PyDataset``.

``fit(shuffle=True)`` would draw its own order; here batch ``i`` of epoch ``e`` is exactly the
rows ``shared.batching.epoch_batches(n, batch_size, seed, e)[i]`` that every tier trains on.

The epoch comes from ``fit`` itself: the ``EpochSetter`` callback sets it in ``on_epoch_begin``,
before ``fit`` asks for the epoch's first batch. (``PyDataset.on_epoch_end`` would not do: Keras
also calls it after peeking at a batch to learn the data's shapes.) ``fit`` must be called with
``shuffle=False``, or Keras permutes the batch indices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shared.batching import epoch_batches


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
