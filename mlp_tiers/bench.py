"""The benchmark harness: tiers, their variants and their peers, timed side by side on one spec.

    mlp-tiers bench --dataset mnist_shaped --hidden 256,128 --batch-size 128 --lr 0.01 \\
        --optimizer sgd --epochs 4 --repeats 3

Entries are tiers (``numpy``, ``tf-nn:eager``, ``keras-jax``, ...) and peers (``gemm-floor``,
``sklearn``, ``torch``, ``torch:compile``, ``jax-scan``; see ``peers/``). Every entry trains the
same spec, from the same initial weights on the same batches where it can, with the same number
of threads. To be fair to each other and to a machine whose load changes:

- every entry runs in a fresh process of its own (no entry inherits another's warm caches,
  thread pools or framework), started with the same thread settings;
- the rounds are interleaved, ``A B C A B C ...``, so that a slow minute of the machine falls on
  every entry rather than on one;
- what is timed is each epoch's training steps alone (no data loading, no validation); the first
  epoch of each run includes tracing and compiling and is reported apart, and an entry's speed
  is the median of its later epochs over all rounds, with their spread;
- ``gemm-floor``, the step's matrix products alone, always runs: every other entry is also given
  as a multiple of it ("× floor") and as the share of its time the floor accounts for
  (roofline %).

An entry that cannot run here (a package not installed, or a run that failed) gets a row saying
why; the others still run.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from mlp_tiers.registry import TIERS
from shared.errors import SpecError, UnknownNameError
from shared.spec import RunConfig, to_dict

if TYPE_CHECKING:
    from pathlib import Path

    from mlp_tiers.runner import Run

FLOOR = "gemm-floor"


@dataclass
class Entry:
    """One thing to time: a tier (with its variant's options) or a peer."""

    name: str  # as given: "tf-nn:eager"
    kind: str  # "tier" or "peer"
    summary: str
    missing: list[str]
    keras_backend: str | None = None


def parse_entries(text: str) -> list[Entry]:
    """The entries of ``--tiers``, the floor first; a clear error for an unknown name."""
    from peers import PEERS

    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise SpecError("--tiers names no entry; give one or more, such as --tiers numpy,torch")
    if FLOOR not in names:
        names.insert(0, FLOOR)
    entries, seen = [], set()
    for name in names:
        if name in seen:
            continue
        seen.add(name)
        if name in PEERS:
            peer = PEERS[name]
            entries.append(Entry(name, "peer", peer.summary, peer.missing()))
            continue
        tier_name, _, variant = name.partition(":")
        if tier_name not in TIERS:
            raise UnknownNameError(
                f"unknown entry {name!r} in --tiers; tiers are {', '.join(TIERS)}, "
                f"peers are {', '.join(PEERS)}"
            )
        tier = TIERS[tier_name]
        tier.options(variant or None)  # an unknown variant fails here, before anything runs
        entries.append(Entry(name, "tier", tier.summary, tier.missing(), tier.keras_backend))
    return entries


def default_entries() -> str:
    """The floor, every hand-written tier with its speed variants beside its plain form, Keras
    on TensorFlow (with and without XLA) and on JAX, and the peers; rows say which are not
    installed."""
    return ",".join([FLOOR, "numpy", "tf-nn", "tf-nn:steps16", "tf-nn:jit", "tf-nn:jit-steps16",
                     "keras", "keras:jit", "keras-jax", "sklearn", "torch", "torch:compile",
                     "jax-scan"])  # fmt: skip


@dataclass
class BenchRow:
    """One entry of a benchmark and what its runs measured."""

    entry: str
    kind: str
    summary: str
    status: str = "ok"  # or why it did not run: "not installed: torch", "failed: ..."
    first_epoch_seconds: list[float] = field(default_factory=list)  # one per round
    epoch_seconds: list[float] = field(default_factory=list)  # every later epoch, every round
    final_loss: float | None = None
    test_accuracy: float | None = None  # a classifier's
    test_r2: float | None = None  # a regressor's
    peak_rss_bytes: int | None = None
    notes: list[str] = field(default_factory=list)
    blas: list[dict[str, str]] = field(default_factory=list)
    # Timed epochs (after the first) in which the framework compiled or traced, left out of
    # epoch_seconds: {"round", "epoch", "seconds", "compiles" (JAX's count), "compile_seconds"}.
    compiled_epochs: list[dict[str, Any]] = field(default_factory=list)
    # A tier's fixed cost of a fit call, outside its epochs' steps: [first call, later call]
    # per round (peers have none).
    call_seconds: list[list[float]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok" and bool(self.first_epoch_seconds)

    @property
    def timed_seconds(self) -> list[float]:
        """The epochs the median is taken over: those after the first that compiled nothing;
        if every one of them compiled, all of them (the row then says so); with one epoch a
        run, the first."""
        compiled = [epoch["seconds"] for epoch in self.compiled_epochs]
        return self.epoch_seconds or compiled or self.first_epoch_seconds

    @property
    def median_seconds(self) -> float | None:
        return statistics.median(self.timed_seconds) if self.ok else None

    @property
    def call_costs(self) -> tuple[float, float] | None:
        """The median fixed cost of a first and of a later ``fit`` call, over the rounds."""
        if not self.ok or not self.call_seconds:
            return None
        firsts, laters = zip(*self.call_seconds, strict=True)
        return statistics.median(firsts), statistics.median(laters)

    @property
    def spread(self) -> tuple[float, float] | None:
        """The 25th and 75th percentiles of the timed epochs (the middle half of them)."""
        seconds = sorted(self.timed_seconds)
        if not self.ok:
            return None
        if len(seconds) < 4:
            return seconds[0], seconds[-1]
        low, _, high = statistics.quantiles(seconds, n=4, method="inclusive")
        return low, high

    def to_dict(self, floor: float | None, n_train: int) -> dict[str, Any]:
        median = self.median_seconds
        return {
            **asdict(self),
            "median_epoch_seconds": median,
            "spread_seconds": self.spread,
            "samples_per_second": n_train / median if median else None,
            "x_floor": median / floor if median and floor else None,
            "roofline_percent": 100 * floor / median if median and floor else None,
            "call_cost_seconds": self.call_costs,
        }


def worker_environment(entry: Entry, threads: int) -> dict[str, str]:
    """The environment of an entry's process: the same thread settings for every entry, and the
    Keras backend a Keras tier needs."""
    from mlp_tiers.threads import environment

    env = {**os.environ, **environment(threads)}
    if entry.keras_backend is not None:
        env["KERAS_BACKEND"] = entry.keras_backend
    return env


def run_round(entry: Entry, config: RunConfig, threads: int) -> dict[str, Any]:
    """One fresh run of ``entry`` in a process of its own (``mlp_tiers.bench_worker``)."""
    request = json.dumps({"entry": entry.name, "kind": entry.kind, "config": to_dict(config)})
    done = subprocess.run(
        [sys.executable, "-m", "mlp_tiers.bench_worker"],
        input=request,
        capture_output=True,
        text=True,
        env=worker_environment(entry, threads),
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return {"error": why}
    return json.loads(lines[-1])


def bench(
    entries: list[Entry],
    config: RunConfig,
    repeats: int,
    threads: int,
    on_round: Callable[[int, str, dict[str, Any]], None] | None = None,
) -> list[BenchRow]:
    """``repeats`` rounds over ``entries``, interleaved; one row per entry."""
    if repeats < 1:
        raise SpecError(f"--repeats must be an integer >= 1; got {repeats}")
    rows = {e.name: BenchRow(e.name, e.kind, e.summary) for e in entries}
    for entry in entries:
        if entry.missing:
            rows[entry.name].status = f"not installed: {', '.join(entry.missing)}"
    runnable = [e for e in entries if not e.missing]
    for round_number in range(repeats):
        for entry in runnable:
            row = rows[entry.name]
            if row.status != "ok":
                continue  # failed in an earlier round: it would fail again
            result = run_round(entry, config, threads)
            if on_round is not None:
                on_round(round_number, entry.name, result)
            if "error" in result:
                row.status = f"failed: {result['error']}"
                continue
            seconds = result["epoch_seconds"]
            row.first_epoch_seconds.append(seconds[0])
            timed, compiled = split_compiled(seconds, result.get("epoch_compiles"), round_number)
            row.epoch_seconds.extend(timed)
            row.compiled_epochs.extend(compiled)
            if result.get("call_seconds") is not None:
                row.call_seconds.append(result["call_seconds"])
            row.final_loss, row.test_accuracy = result["final_loss"], result["test_accuracy"]
            row.test_r2 = result.get("test_r2")
            row.peak_rss_bytes = max(row.peak_rss_bytes or 0, result["peak_rss_bytes"])
            row.notes = result.get("notes", [])
            row.blas = result.get("blas", [])
    return list(rows.values())


def split_compiled(
    seconds: list[float], compiles: list[list[Any]] | None, round_number: int
) -> tuple[list[float], list[dict[str, Any]]]:
    """The epochs after the first of one run, split into those that ran compiled code only
    (timed) and those in which the framework compiled or traced (``compiles[i]`` is epoch
    ``i + 1``'s ``[JAX's count or None, seconds]``; None where nothing was watched)."""
    timed, compiled = [], []
    if compiles is not None and len(compiles) != len(seconds):
        compiles = None  # marks that do not match the epochs say nothing about them
    for epoch, value in enumerate(seconds[1:], start=2):
        count, compile_seconds = (compiles[epoch - 1] if compiles else None) or (None, 0.0)
        if count or compile_seconds > 0:
            compiled.append({"round": round_number + 1, "epoch": epoch, "seconds": value,
                             "compiles": count, "compile_seconds": compile_seconds})  # fmt: skip
        else:
            timed.append(value)
    return timed, compiled


def floor_seconds(rows: list[BenchRow]) -> float | None:
    """The median epoch of ``gemm-floor``, if it ran."""
    for row in rows:
        if row.entry == FLOOR and row.ok:
            return row.median_seconds
    return None


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# Variables that change what a benchmark measures, recorded in its report when set.
BENCH_ENVIRONMENT = (
    "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
    "MKL_NUM_THREADS", "XLA_FLAGS", "KERAS_BACKEND",
)  # fmt: skip


@dataclass
class BenchReport:
    """What ``mlp-tiers bench`` measured: a row per entry, the floor, the chart's title, the load
    before and after, and the JSON report (``to_dict``)."""

    rows: list[BenchRow]
    floor: float | None
    n_train: int
    title: str
    load_before: list[float] | None
    load_after: list[float] | None
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """``bench.json``: the machine and set-up first, then the floor and the rows."""
        head = {key: self.details[key] for key in ("machine", "versions", "threads",
                "threads_flag", "busy_processes", "blas")}  # fmt: skip
        tail = {key: self.details[key] for key in ("environment", "data", "model", "train",
                "repeats")}  # fmt: skip
        return {**head, "load_average_before": self.load_before,
                "load_average_after": self.load_after, **tail, "floor_epoch_seconds": self.floor,
                "rows": [row.to_dict(self.floor, self.n_train) for row in self.rows]}  # fmt: skip


def blas_kernel(rows: list[BenchRow]) -> tuple[list[dict[str, str]], str]:
    """The BLAS libraries the NumPy entry ran with (or any entry's), and NumPy's kernel in words
    (``"openblas 0.3.31 SkylakeX"``); other libraries, SciPy's for one, may load their own."""
    blas = next((row.blas for row in rows if row.entry == "numpy" and row.blas), None) or next(
        (row.blas for row in rows if row.blas), []
    )
    numpy_blas = [b for b in blas if "numpy" in b["filepath"]] or blas[:1]
    if not numpy_blas:
        return blas, "unknown BLAS"
    return blas, " ".join(numpy_blas[0][key] for key in ("internal_api", "version", "architecture"))


def bench_title(run: Run, repeats: int, threads: int, kernel: str, where: dict[str, str]) -> str:
    """The table's and the chart's title: the spec, the rounds, the machine and its BLAS."""
    model, train = run.model, run.train
    return (
        f"Seconds per epoch · {run.data.name}, {'-'.join(map(str, model.layer_sizes))} "
        f"{model.activation}, batch {train.batch_size}, {train.optimizer}, "
        f"{train.dtype} on {train.device}, {repeats} round{'s' if repeats != 1 else ''}"
        f"{' (gemm-floor: NumPy on the host CPU)' if train.device != 'cpu' else ''}"
        f"\n{where['processor']}, {where['cpus']} CPUs, "
        f"{threads} thread{'s' if threads != 1 else ''}, NumPy's BLAS: {kernel}"
    )


def measure(
    entries: list[Entry],
    config: RunConfig,
    run: Run,
    repeats: int,
    threads: int,
    settings: dict[str, Any],
    on_round: Callable[[int, str, dict[str, Any]], None] | None = None,
) -> BenchReport:
    """``bench`` with everything its report records around it: the load average before and
    after, the machine, the versions, the BLAS, and the environment that changes timings.
    ``settings`` are the command's own (``threads_flag``, ``busy_processes``)."""
    from mlp_tiers.report import machine
    from shared.packages import versions

    load_before = load_average()
    rows = bench(entries, config, repeats, threads, on_round)
    load_after = load_average()
    where = machine()
    blas, kernel = blas_kernel(rows)
    details = {
        "machine": where,
        "versions": versions(),
        "threads": threads,
        **settings,
        "blas": blas,
        "environment": {name: os.environ[name] for name in BENCH_ENVIRONMENT if name in os.environ},
        "data": to_dict(run.data_spec),
        "model": to_dict(run.model),
        "train": to_dict(run.train),
        "repeats": repeats,
    }
    return BenchReport(rows, floor_seconds(rows), len(run.data.y_train),
                       bench_title(run, repeats, threads, kernel, where), load_before, load_after,
                       details)  # fmt: skip


def write_report(folder: Path, report: BenchReport) -> tuple[Path, Path]:
    """``bench.json`` and the chart ``bench.png`` in ``folder``."""
    from mlp_tiers.report import plot_bench, write_json

    write_json(folder / "bench.json", report.to_dict())
    plot_bench(report.rows, report.floor, folder / "bench.png", report.title)
    return folder / "bench.json", folder / "bench.png"
