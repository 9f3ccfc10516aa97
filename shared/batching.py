"""The one source of mini-batch order.

Every tier's training loop, Keras's ``fit`` included, consumes exactly these index arrays, so that
epoch ``k`` of every tier sees the same samples in the same batches. The order depends only on
``(seed, epoch)``: a run resumed at epoch ``k`` continues with the batches an uninterrupted run
would have drawn.
"""

from dataclasses import dataclass

import numpy as np

from shared.seeding import stream


def epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled order of ``n`` training samples in ``epoch`` (0-based), as int64 indices."""
    if n < 1:
        raise ValueError(f"cannot shuffle {n} samples; the training set is empty")
    return stream(seed, "batches", epoch).permutation(n).astype(np.int64)


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """Index arrays of the mini-batches of ``epoch``: consecutive slices of its permutation.

    Every sample appears exactly once per epoch. The last batch holds the remainder, ``n %
    batch_size`` samples, when that is not zero (Keras does the same: no sample is dropped).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    order = epoch_permutation(n, seed, epoch)
    return [order[start : start + batch_size] for start in range(0, n, batch_size)]


def n_batches(n: int, batch_size: int) -> int:
    """How many batches ``epoch_batches`` yields: ``ceil(n / batch_size)``."""
    return -(-n // batch_size)


@dataclass(frozen=True)
class Shard:
    """One data-parallel replica's share of a batch: its rows ``start:stop`` of ``batch_rows``."""

    start: int
    stop: int
    batch_rows: int

    @property
    def rows(self) -> slice:
        return slice(self.start, self.stop)


def shard(batch_rows: int, replicas: int, replica: int) -> Shard:
    """The rows of a batch of ``batch_rows`` that ``replica`` (from 0) of ``replicas`` takes:
    contiguous, the shares as even as they can be, the first ``batch_rows % replicas`` replicas
    one row more (``np.array_split``'s split). A replica may get no rows of a short last batch;
    it then adds nothing to the sums."""
    if not 0 <= replica < replicas:
        raise ValueError(f"replica {replica} is not one of 0 .. {replicas - 1}")
    share, extra = divmod(batch_rows, replicas)
    start = replica * share + min(replica, extra)
    return Shard(start, start + share + (replica < extra), batch_rows)
