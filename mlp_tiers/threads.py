"""How many threads the math runs on: ``--threads N`` or ``--threads auto`` (the default).

Every framework here runs its matrix products on a thread pool: NumPy through its BLAS
(OpenBLAS), TensorFlow through its intra-op pool, XLA (JAX) through Eigen, PyTorch through
OpenMP. By default each takes every core, which is the right choice for large matrices on an
idle machine and a bad one for this project's small ones on a shared machine: a BLAS thread that
waits for a core held by another process stalls every matrix product it takes part in.

``mlp-tiers threads`` measures where a second thread starts to pay off, by the size of the step;
``docs/benchmarks.md`` has its tables, measured idle and next to a CPU-bound process: a small
step gains nothing from a second thread, and next to a load two threads can be slower than one.

So ``auto`` gives one thread to a step too small to share (under ``PAYOFF_FLOPS``), and otherwise
one per core that no other process is using when the run starts. A load that starts later can
still slow a run with several threads; ``--threads 1`` is the safe choice on a shared machine.

This module sets the pools through environment variables (read by each framework when it starts)
and threadpoolctl (for a BLAS already loaded); it imports no framework.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Sequence

from shared.errors import SpecError
from shared.resources import THREADS_VARIABLE
from shared.threads import (  # the policy itself, used here and re-exported to the tools
    BLAS_VARIABLES,
    PAYOFF_FLOPS,  # noqa: F401
    auto_threads,
    busy_cores,  # noqa: F401
    step_flops,
    usable_cores,
)

# XLA reads its flags up to the first word that is not one ("--name=value"), so every word here
# must be a flag of its own: a bare word would silently drop the flags after it.
_XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false"


def parse_threads(text: str | int) -> int | None:
    """``"auto"`` -> None, ``"2"`` -> 2; a clear error for anything else, or for more threads
    than the cores this process may use (more would only make the threads wait for each other)."""
    cores = usable_cores()
    allowed = f"a whole number from 1 to {cores} (the cores this process may use here) or 'auto'"
    value = str(text).strip()
    if value == "auto":
        return None
    if value.isdigit() and 1 <= int(value) <= cores:
        return int(value)
    raise SpecError(f"--threads must be {allowed}; got {_quoted(text)}")


def _quoted(text: object) -> str:
    shown = repr(text) if isinstance(text, str) else str(text)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def local_processes() -> int:
    """How many processes of this MPI run share this machine (1 outside ``mpiexec``): MPICH
    says so in ``MPI_LOCALNRANKS``, Open MPI in ``OMPI_COMM_WORLD_LOCAL_SIZE``."""
    for name in ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def mpi_processes() -> int:
    """How many processes this MPI run has in all (1 outside ``mpiexec``)."""
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def shared_among_processes(threads: int) -> int:
    """``threads`` for the whole run, as each of its MPI processes on this machine should use
    them: an equal share, at least 1 (N processes of ``threads`` threads each would make the
    threads wait for one another)."""
    return max(1, threads // local_processes())


def resolve(threads: int | None, layer_sizes: Sequence[int], batch_size: int) -> int:
    """``threads`` itself, or the ``auto`` choice when it is None."""
    return threads if threads is not None else auto_threads(layer_sizes, batch_size)


def environment(threads: int) -> dict[str, str]:
    """The environment variables that give every framework ``threads`` threads when it starts:
    the BLAS and OpenMP pools, TensorFlow's intra- and inter-op pools, and XLA's CPU client
    (which can only be told to use one thread, or all cores)."""
    env = {name: str(threads) for name in BLAS_VARIABLES}
    env["TF_NUM_INTRAOP_THREADS"] = env["TF_NUM_INTEROP_THREADS"] = str(threads)
    env[THREADS_VARIABLE] = str(threads)
    flags = os.environ.get("XLA_FLAGS", "")
    if threads == 1:
        env["XLA_FLAGS"] = flags if _XLA_ONE_THREAD in flags else f"{flags} {_XLA_ONE_THREAD}"
        env["XLA_FLAGS"] = env["XLA_FLAGS"].strip()
    return env


def limit(threads: int) -> None:
    """Use ``threads`` threads in this process: for every framework not yet started (through
    ``environment``), and for a BLAS or OpenMP library already loaded (through threadpoolctl)."""
    os.environ.update(environment(threads))
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)


def blas_info() -> list[dict[str, str]]:
    """The BLAS and OpenMP libraries loaded in this process, with their kernel and threads."""
    from threadpoolctl import threadpool_info

    keys = ("internal_api", "version", "architecture", "num_threads", "filepath")
    return [{key: str(info.get(key, "")) for key in keys} for info in threadpool_info()]


# The shapes ``mlp-tiers threads`` measures by default: (batch, layer sizes), small to large.
SWEEP = ((32, (64, 128, 64, 10)), (32, (784, 64, 10)), (128, (40, 256, 256, 10)),
         (32, (784, 256, 128, 10)), (128, (784, 256, 128, 10)), (512, (784, 256, 128, 10)),
         (128, (784, 1024, 1024, 10)))  # fmt: skip


def time_step_products(
    batch: int, sizes: Sequence[int], counts: Sequence[int], rounds: int = 5, dtype: str = "float32"
) -> dict[int, float]:
    """Median seconds of one training step's matrix products (as ``peers.floor`` runs them) with
    each BLAS thread count in ``counts``, the counts interleaved round by round."""
    import statistics

    import numpy as np
    from threadpoolctl import threadpool_limits

    from peers.floor import step_products

    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(shape).astype(dtype) for shape in itertools.pairwise(sizes)]
    arrays = [rng.standard_normal((batch, width)).astype(dtype) for width in sizes]

    def step() -> None:
        step_products(weights, arrays)

    repeats = max(3, int(2e8 / step_flops(sizes, batch)))  # about 0.1 s per measurement
    seconds: dict[int, list[float]] = {count: [] for count in counts}
    for _ in range(rounds):
        for count in counts:
            with threadpool_limits(limits=count):
                step()  # wakes the pool
                start = time.perf_counter()
                for _ in range(repeats):
                    step()
                seconds[count].append((time.perf_counter() - start) / repeats)
    return {count: statistics.median(values) for count, values in seconds.items()}


# A load process: spin on a core until its parent asks it to stop, or is gone (killed outright,
# even by SIGKILL, which no handler sees: the process is then re-parented, and notices). It leaves
# SIGINT to its parent, which stops it: a Ctrl-C in the terminal reaches the whole group.
_SPIN = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
parent = int(sys.argv[1])
while os.getppid() == parent:
    for _ in range(200_000):
        pass
"""


def check_busy(n: int) -> int:
    """``--busy N``: 0 to one process per core this process may use."""
    cores = usable_cores()
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= cores:
        raise SpecError(f"--busy must be a whole number from 0 to {cores} (one CPU-bound process "
                        f"per core this process may use here); got {n}")  # fmt: skip
    return n


class LoadGenerator:
    """``n`` processes that spin on a core each until ``stop`` (or the end of a ``with``).

    At most one per usable core (``check_busy``). If one fails to start, those already started
    are stopped before the error goes on; a load process also ends by itself when this process
    is gone. Stopping on a signal is the caller's: the command line turns SIGINT and SIGTERM into
    an exception (``shared.signals.stop_on_signals``), which ends the ``with`` block."""

    def __init__(self, n: int) -> None:
        import subprocess
        import sys

        check_busy(n)
        self.processes: list[subprocess.Popen[bytes]] = []
        try:
            for _ in range(n):
                self.processes.append(
                    subprocess.Popen([sys.executable, "-c", _SPIN, str(os.getpid())])
                )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        from shared.signals import held

        with held():  # a second signal now must not leave one spinning
            for process in self.processes:
                process.kill()
            for process in self.processes:
                process.wait()
            self.processes = []

    def __enter__(self) -> LoadGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def parse_counts(text: str | None) -> list[int]:
    """``mlp-tiers threads --counts``: whole numbers >= 1; by default 1 and every usable core."""
    cores = usable_cores()
    text = text or ",".join(sorted({"1", str(cores)}, key=int))
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() and int(part) >= 1 for part in parts):
        raise SpecError(f"--counts must list whole numbers >= 1, such as 1,2; got {_quoted(text)}")
    if max(int(part) for part in parts) > cores:
        raise SpecError(f"--counts must list whole numbers from 1 to {cores} (the cores this "
                        f"process may use here); got {_quoted(text)}")  # fmt: skip
    return sorted({int(part) for part in parts})


def sweep(counts: Sequence[int], rounds: int, busy: int) -> list[dict[str, object]]:
    """For each shape of ``SWEEP``, one training step's matrix products timed with each thread
    count of ``counts`` (median seconds), with ``busy`` CPU-bound processes alongside, and the
    count ``--threads auto`` chooses for it now."""
    check_busy(busy)
    if rounds < 1:
        raise SpecError(f"--rounds must be a whole number >= 1; got {rounds}")
    rows: list[dict[str, object]] = []
    with LoadGenerator(busy):
        for batch, sizes in SWEEP:
            rows.append({
                "batch": batch,
                "sizes": sizes,
                "flops": step_flops(sizes, batch),
                "seconds": time_step_products(batch, sizes, counts, rounds),
                "auto": auto_threads(sizes, batch),
            })  # fmt: skip
    return rows
