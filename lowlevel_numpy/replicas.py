"""Data parallelism by hand: one MPI process per replica, gradients summed with ``Allreduce``.

    mpiexec -n 2 python -m lowlevel_numpy.train --replicas 2            # two processes here
    mpiexec -n 4 -hosts a,b python -m lowlevel_numpy.train --replicas 4  # two on each of a, b

Every process holds the whole model and the whole dataset, and all of them start from the same
weights. For each batch of ``B`` rows in the shared order, replica ``r`` of ``N``:

1. takes its share of the rows, ``shard(B, N, r)``: about ``B / N`` of them;
2. runs the same forward and backward pass as one process, with two changes: the loss is the
   sum over its rows divided by the whole batch's ``B`` (not by its own row count), and it
   carries ``1/N`` of the L2 term; dropout draws the whole batch's mask and keeps its rows;
3. sums, with every other replica, the gradients (one ``Allreduce`` of one buffer holding all
   of them), then the loss and the count of right answers (a second, small one). Each replica
   now holds the gradient of the batch's mean loss, the one a single process computes on all
   ``B`` rows, up to the order of the sum;
4. applies the optimizer's update. Every replica applies the same update to the same weights,
   so the weights stay equal without ever being sent.

The first replica (rank 0) writes the run folder and prints; the others train silently.
"""

from __future__ import annotations

import os
import time
from types import ModuleType

import numpy as np

from lowlevel_numpy.backend import to_numpy
from shared.batching import Shard, shard
from shared.errors import SpecError


class Replicas:
    """This process's place among the ``count`` processes of an MPI run: its ``rank``, its
    shard of each batch, and the sums over all of them."""

    def __init__(self, count: int, xp: ModuleType = np) -> None:
        try:
            from mpi4py import MPI
        except ImportError:
            raise SpecError(
                f"--replicas {count} on the NumPy tier runs one MPI process per replica, and "
                "mpi4py is not installed; pip install 'mlp-tiers[mpi]'"
            ) from None
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD  # every process of this run
        self.xp = xp
        self.count = count
        self.rank = self.comm.Get_rank()  # this process's place, from 0
        self.seconds = 0.0  # spent in the all-reduce, waiting for the others included (bench)
        if self.comm.Get_size() != count:
            raise SpecError(
                f"--replicas {count} on the NumPy tier needs {count} MPI processes, and this run "
                f"has {self.comm.Get_size()}; start it as mpiexec -n {count} python -m "
                f"lowlevel_numpy.train --replicas {count} ... (or, resuming a replicated run, "
                f"continue in one process with --replicas 1)"
            )
        if xp.__name__ == "cupy":  # one GPU per process of this host, in turn
            local = os.environ.get("MPI_LOCALRANKID") or os.environ.get(
                "OMPI_COMM_WORLD_LOCAL_RANK", "0"
            )
            xp.cuda.Device(int(local) % xp.cuda.runtime.getDeviceCount()).use()

    def shard(self, batch_rows: int) -> Shard:
        """This replica's rows of a batch of ``batch_rows``."""
        return shard(batch_rows, self.count, self.rank)

    def sum(self, grads: list, loss, correct) -> tuple:
        """Sum ``grads`` (in place), ``loss`` and ``correct`` (0-d arrays; ``correct`` None for a
        regressor) over every replica; the sums come back as 0-d arrays on this replica's device.

        The gradients travel in one contiguous buffer, one ``Allreduce`` for all of them; the
        loss and the count travel in float64 beside them. From the GPU (CuPy), the buffer is
        copied to the host and back: an MPI built with CUDA support could take device arrays.
        """
        buffer = np.concatenate([to_numpy(g).ravel() for g in grads])
        start = time.perf_counter()
        self.comm.Allreduce(self.MPI.IN_PLACE, buffer, op=self.MPI.SUM)
        offset = 0
        for g in grads:
            g[...] = self.xp.asarray(buffer[offset : offset + g.size].reshape(g.shape))
            offset += g.size
        scalars = np.array([float(loss), 0 if correct is None else int(correct)], dtype=np.float64)
        self.comm.Allreduce(self.MPI.IN_PLACE, scalars, op=self.MPI.SUM)
        self.seconds += time.perf_counter() - start
        summed_correct = None if correct is None else self.xp.asarray(int(scalars[1]))
        return self.xp.asarray(scalars[0]), summed_correct
