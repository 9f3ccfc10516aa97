"""``mlp-tiers bench --replicas N``: what data parallelism costs each engine on this machine.

Each capable tier trains the same spec twice, in processes of its own (``mlp_tiers.replicas``):
with N replicas, and on one device. The table gives both step times, their ratio, and the share
of the replicated step spent in the all-reduce. The NumPy tier times its ``Allreduce`` calls
inside its steps. TensorFlow and JAX reduce inside the compiled step, where no timer reaches, so
for them the same gradients' all-reduce is timed apart, on its own (``allreduce_apart``: an
estimate that leaves out any contention with the step's own work).

On a CPU, TensorFlow's and JAX's replicas are logical devices sharing its cores: the arithmetic
is the same as on one device, so their ratio is what the split, the all-reduce and the
coordination cost. The NumPy tier's replicas are processes, each free to take a core.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mlp_tiers.registry import run_in_new_process
from mlp_tiers.replicas import check_capable, run_replicated
from shared.batching import n_batches
from shared.callbacks import Callback
from shared.spec import RunConfig


def time_fit(name: str, config: RunConfig, count: int) -> dict[str, Any]:
    """In the run's own processes: train tier ``name`` on ``config`` with ``count`` threads
    (shared among the MPI processes on this machine) and time it, the epochs after the first
    (which compiles); seconds per step, and per step in the all-reduce."""
    from mlp_tiers import threads
    from mlp_tiers.runner import build_tier, prepare_run

    threads.limit(threads.shared_among_processes(count))

    class AllReduceClock(Callback):
        """The seconds the NumPy tier's MPI processes spent in the all-reduce, by epoch."""

        def __init__(self) -> None:
            self.totals: list[float] = []

        def on_epoch_end(self, tier: Any, record: dict[str, Any]) -> None:
            replicas = getattr(tier, "replicas", None)
            if replicas is not None:
                self.totals.append(replicas.seconds)

    run = prepare_run(config)
    tier = build_tier(name, run)
    clock = AllReduceClock()
    tier.fit(run.data, [clock])
    steps = n_batches(len(run.data.y_train), run.train.batch_size)
    timed = [record["seconds"] for record in tier.history.records[1:]]
    # by epoch, after the first (whose first all-reduce waits for the other processes to start)
    reduce = [after - before for before, after in zip(clock.totals, clock.totals[1:])]
    apart = None if reduce else allreduce_apart(tier)
    return {
        "step_seconds": statistics.median(timed) / steps,
        "allreduce_seconds_per_step": statistics.median(reduce) / steps if reduce else apart,
        "allreduce_timed": "in the step" if reduce else None if apart is None else "apart",
    }


def allreduce_apart(tier: Any, calls: int = 200) -> float | None:
    """The seconds of one all-reduce of gradients the size of ``tier``'s, timed on their own
    (median of 5 runs of ``calls``), where the engine reduces inside its compiled step: a
    ``tf.distribute`` strategy's ``reduce`` of per-replica values, or XLA's all-reduce of an
    array sharded over a Keras distribution's devices. None for one device."""
    import numpy as np

    shapes = [a.shape for pair in tier.get_params() for a in pair]
    strategy = getattr(tier, "strategy", None) or getattr(tier, "distribution", None)
    if strategy is None:
        return None
    if hasattr(strategy, "num_replicas_in_sync"):  # TensorFlow: the tiers' own strategy
        import tensorflow as tf

        dtype = tf.as_dtype(tier.dtype)

        @tf.function
        def reduce() -> list[Any]:
            per_replica = strategy.run(lambda: [tf.ones(shape, dtype) for shape in shapes])
            return [strategy.reduce("SUM", value, axis=None) for value in per_replica]

        def once() -> None:
            reduce()[-1].numpy()
    else:  # JAX under keras.distribution.DataParallel: sum over the sharded axis
        import jax
        from jax.sharding import NamedSharding, PartitionSpec

        mesh = strategy.device_mesh.backend_mesh
        size = int(sum(np.prod(shape) for shape in shapes))
        parts = len(strategy.device_mesh.devices.ravel())
        rows = NamedSharding(mesh, PartitionSpec(mesh.axis_names[0]))  # one row per device
        sharded = jax.device_put(np.ones((parts, size), tier.dtype), rows)
        everywhere = NamedSharding(mesh, PartitionSpec())  # the sum, on every device
        total = jax.jit(lambda x: x.sum(axis=0), out_shardings=everywhere)

        def once() -> None:
            total(sharded).block_until_ready()

    once()  # traces and compiles
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            once()
        runs.append((time.perf_counter() - start) / calls)
    return statistics.median(runs)


@dataclasses.dataclass
class ReplicaBench:
    replicas: int
    rows: list[dict[str, Any]]

    def to_dict(self, run: Any) -> dict[str, Any]:
        from mlp_tiers.report import machine
        from shared.packages import versions
        from shared.spec import to_dict

        return {"machine": machine(), "versions": versions(), "replicas": self.replicas,
                "data": to_dict(run.data_spec), "model": to_dict(run.model),
                "train": to_dict(run.train), "tiers": self.rows}  # fmt: skip


def measure(
    names: Sequence[str],
    config: RunConfig,
    repeats: int,
    count: int,
    on_round: Callable[[str, int, dict[str, Any]], None] = lambda *_: None,
) -> ReplicaBench:
    """``repeats`` rounds of every tier of ``names``, each round one run with the replicas and
    one on one device, interleaved, each with ``count`` threads; medians over the rounds."""
    for name in names:
        check_capable(name)
    replicas = config.train.replicas
    one = dataclasses.replace(config, train=dataclasses.replace(config.train, replicas=1))
    timings: dict[str, list[tuple[dict, dict]]] = {name: [] for name in names}
    for round_number in range(1, repeats + 1):
        for name in names:
            single = run_in_new_process(time_fit, name, one, count)
            replicated = run_replicated(name, replicas, time_fit, name, config, count)
            timings[name].append((single, replicated))
            on_round(name, round_number, {"one": single, "replicated": replicated})
    rows = []
    for name, pairs in timings.items():
        single = statistics.median(s["step_seconds"] for s, _ in pairs)
        replicated = statistics.median(r["step_seconds"] for _, r in pairs)
        reduce = [r["allreduce_seconds_per_step"] for _, r in pairs]
        share = None
        if all(value is not None for value in reduce):
            share = statistics.median(reduce) / replicated
        timed = pairs[0][1]["allreduce_timed"]
        rows.append({"tier": name, "engine": check_capable(name), "one_device_step_seconds": single,
                     "replicated_step_seconds": replicated, "ratio": replicated / single,
                     "allreduce_share": share, "allreduce_timed": timed,
                     "rounds": len(pairs)})  # fmt: skip
    return ReplicaBench(replicas, rows)


def write_report(folder: Path, bench: ReplicaBench, run: Any) -> Path:
    from mlp_tiers.report import write_json

    path = folder / "bench-replicas.json"
    write_json(path, bench.to_dict(run))
    return path
