"""The thread policy every tier's ``fit`` runs under, from the command line or from Python.

A BLAS (OpenBLAS, NumPy's) takes one thread per core by default. For this project's small
matrices on a shared machine that is a bad choice: a BLAS thread that waits for a core another
process holds stalls every matrix product it takes part in, and an epoch can take several times
as long as on one thread (``docs/benchmarks.md``, "A busy machine"). So:

- ``auto_threads`` is the policy: one thread for a step too small to share (under
  ``PAYOFF_FLOPS``), otherwise one per core no other process is using right now;
- ``scoped_threads`` decorates the NumPy tier's ``fit`` (the tier whose products run on NumPy's
  BLAS): for the length of the call, the BLAS and OpenMP pools already loaded get the policy's
  count (through threadpoolctl), and get their own count back afterwards.

A choice already made is left alone: a thread count a command set (``--threads``, which sets
``MLP_TIERS_THREADS``), a thread variable in the environment (``OPENBLAS_NUM_THREADS``,
``OMP_NUM_THREADS``, ...), or a user's own ``threadpoolctl`` limit (a pool already below one
thread per core). A library whose own default is below one thread per core (MKL takes one per
physical core) reads as a choice made, and is left alone too. This module imports no framework;
TensorFlow's and XLA's pools are fixed when they start, by the command line's environment
(``mlp_tiers.threads``).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from shared.resources import requested_threads

# Below this many floating-point operations per training step, a second BLAS thread gains
# nothing measurable (the products last tens of microseconds; waking a thread costs as much).
PAYOFF_FLOPS = 5e6

# The variables a user (or a launcher) sets to fix the BLAS and OpenMP pools.
BLAS_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                  "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")  # fmt: skip


def step_flops(layer_sizes: Sequence[int], batch_size: int) -> float:
    """Floating-point operations of one step's matrix products, 2 per multiply-add: every layer's
    forward product and weight gradient, and every layer's input gradient but the first's."""
    products = [a * b for a, b in itertools.pairwise(layer_sizes)]
    return 2.0 * batch_size * (3 * sum(products) - products[0])


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def busy_cores(samples: int = 5, interval: float = 0.01) -> int:
    """How many threads of other processes are running right now: the kernel's count of
    runnable tasks (``/proc/loadavg``) less this process's own (its BLAS threads may still be
    spinning after its last product), the median over a few readings.

    Unlike the load average, which trails by a minute, this sees a load that just started.
    Returns 0 where the counts cannot be read (not Linux).
    """
    counts = []
    for i in range(samples):
        try:
            with open("/proc/loadavg", encoding="ascii") as handle:
                running = int(handle.read().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            return 0
        counts.append(max(running - _own_running_threads(), 0))
        if i + 1 < samples:
            time.sleep(interval)
    return sorted(counts)[len(counts) // 2]


def _own_running_threads() -> int:
    """This process's threads in the running state (the reading thread among them)."""
    running = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/stat", encoding="ascii") as handle:
                state = handle.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        running += state == "R"
    return max(running, 1)


def auto_threads(layer_sizes: Sequence[int], batch_size: int, samples: int = 5) -> int:
    """The ``auto`` policy: 1 for a step under ``PAYOFF_FLOPS``, else the idle cores (>= 1)."""
    if step_flops(layer_sizes, batch_size) < PAYOFF_FLOPS:
        return 1
    return max(1, usable_cores() - busy_cores(samples))


def chosen_elsewhere() -> bool:
    """Whether this process's thread count was already chosen: by a command (``--threads``), by
    a thread variable in the environment, or by a ``threadpoolctl`` limit below one thread per
    core on a pool already loaded."""
    if requested_threads() is not None:
        return True
    if any(os.environ.get(name, "").strip() for name in BLAS_VARIABLES):
        return True
    from threadpoolctl import threadpool_info

    cores = usable_cores()
    return any(info.get("num_threads", cores) < cores for info in threadpool_info())


@contextlib.contextmanager
def policy_threads(layer_sizes: Sequence[int], batch_size: int) -> Iterator[int | None]:
    """Inside the ``with``, the BLAS and OpenMP pools loaded in this process use
    ``auto_threads``' count, unless the count was chosen elsewhere (``chosen_elsewhere``); the
    pools get their own counts back on the way out. Yields the count applied, or None."""
    if usable_cores() == 1 or chosen_elsewhere():
        yield None
        return
    count = auto_threads(layer_sizes, batch_size, samples=1)  # one reading: no wait per call
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=count):
        yield count


Fit = TypeVar("Fit", bound=Callable[..., Any])


def scoped_threads(fit: Fit) -> Fit:
    """Decorates a tier's ``fit``: the call runs under ``policy_threads`` for the tier's step
    (its ``model_spec.layer_sizes`` and ``train_spec.batch_size``)."""

    @functools.wraps(fit)
    def under_policy(self: Any, *args: Any, **kwargs: Any) -> Any:
        with policy_threads(self.model_spec.layer_sizes, self.train_spec.batch_size):
            return fit(self, *args, **kwargs)

    return under_policy  # type: ignore[return-value]
