"""``mlp-tiers bench --sweep``: the benchmark over a range of sizes, and where the entries cross.

    mlp-tiers bench --sweep hidden=64,256,1024,4096 --dataset mnist_shaped --samples 500
    mlp-tiers bench --sweep batch=32,128,512,1024 --dataset mnist_shaped --samples 500

One size changes at a time: the width of every hidden layer (``hidden``), or the batch size
(``batch``); everything else is the command's spec. At each size every entry runs as ``bench``
runs it (a process of its own, rounds interleaved, the epochs after the first timed), so each
point is a benchmark of its own, side by side with the floor of that size.

What it shows is where the fixed costs stop mattering: at a small size a step is mostly Python,
calls into the framework and small elementwise work, and the entries differ by tens of times;
as the matrix products grow they take over, and every entry comes towards the floor. The chart
draws the time per training sample and the ratio to the floor against the size, one line per
entry, and the crossovers say between which sizes two entries change places.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.errors import SpecError

if TYPE_CHECKING:
    from pathlib import Path

    from mlp_tiers.bench import BenchRow, Entry
    from mlp_tiers.runner import Run
    from shared.spec import RunConfig

AXES = {"hidden": "width of every hidden layer", "batch": "batch size"}
MAX_POINTS = 12
MAX_SIZE = 16384


def default_sweep_entries() -> str:
    """The plain form of every tier beside the peers: one line each on the chart."""
    return "gemm-floor,numpy,tf-nn,keras,keras-jax,sklearn,torch,jax-scan"


def parse_sweep(text: str) -> tuple[str, list[int]]:
    """``"hidden=64,256"`` -> ("hidden", [64, 256]); one line naming what is wrong otherwise."""
    axis, equals, values = str(text).partition("=")
    axis = axis.strip()
    allowed = (
        f"--sweep must be AXIS=SIZES with AXIS one of {', '.join(AXES)} and 2 to {MAX_POINTS} "
        f"different whole numbers from 1 to {MAX_SIZE}, such as hidden=64,256,1024"
    )
    parts = [part.strip() for part in values.split(",")]
    if not equals or axis not in AXES or not all(part.isascii() and part.isdigit()
                                                 for part in parts):  # fmt: skip
        raise SpecError(f"{allowed}; got {text!r}"[:300])
    sizes = sorted({int(part) for part in parts})
    if (
        not 2 <= len(sizes) == len(parts) <= MAX_POINTS
        or not 1 <= sizes[0] <= sizes[-1] <= MAX_SIZE
    ):
        raise SpecError(f"{allowed}; got {text!r}"[:300])
    return axis, sizes


def config_at(config: RunConfig, axis: str, size: int) -> RunConfig:
    """The command's spec with ``axis`` set to ``size``: every hidden layer ``size`` wide (as
    many hidden layers as the spec has, at least one), or a batch of ``size``."""
    if axis == "batch":
        return dataclasses.replace(config, train=dataclasses.replace(config.train, batch_size=size))
    layers = max(len(config.model.hidden or ()), 1)
    return dataclasses.replace(config, model=dataclasses.replace(config.model,
                               hidden=(size,) * layers))  # fmt: skip


@dataclass
class SweepPoint:
    """One size of the sweep: its benchmark rows, floor and training-set size."""

    size: int
    layer_sizes: tuple[int, ...]
    batch_size: int
    rows: list[BenchRow]
    floor: float | None
    n_train: int
    threads: int = 1

    def per_sample(self, row: BenchRow) -> float | None:
        median = row.median_seconds
        return None if median is None else median / self.n_train

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "layer_sizes": list(self.layer_sizes),
                "batch_size": self.batch_size, "n_train": self.n_train, "threads": self.threads,
                "floor_epoch_seconds": self.floor,
                "rows": [row.to_dict(self.floor, self.n_train) for row in self.rows]}  # fmt: skip


def sweep(
    entries: list[Entry],
    config: RunConfig,
    axis: str,
    sizes: list[int],
    repeats: int,
    threads: Callable[[Run], int],
    on_point: Callable[[SweepPoint], None] | None = None,
) -> list[SweepPoint]:
    """A benchmark of ``entries`` at every size; ``threads(run)`` is the thread count for a
    size's run (``--threads auto`` chooses by the step's size)."""
    from mlp_tiers.bench import bench, floor_seconds
    from mlp_tiers.runner import prepare_run

    for size in sizes:  # every size's spec and memory checked before the first one runs
        prepare_run(config_at(config, axis, size))
    points = []
    for size in sizes:
        at = config_at(config, axis, size)
        run = prepare_run(at)
        count = threads(run)
        rows = bench(entries, at, repeats, count)
        point = SweepPoint(size, tuple(run.model.layer_sizes), run.train.batch_size, rows,
                           floor_seconds(rows), len(run.data.y_train), count)  # fmt: skip
        points.append(point)
        if on_point is not None:
            on_point(point)
    return points


# Two entries whose times per sample differ by less than this share are even at that size: a
# crossover is named only between sizes where their order is clear.
EVEN = 0.05


def crossovers(points: list[SweepPoint]) -> list[str]:
    """Where two entries change places in time per sample, in words: ``"keras-jax overtakes
    numpy between 256 and 1024"``, the floor left out. Sizes at which the two are within
    ``EVEN`` of each other (or one did not run) decide nothing: the crossover is named between
    the last size that put them one way and the next that put them the other."""
    names = [row.entry for row in points[0].rows if row.entry != "gemm-floor"]
    said = []
    for a, b in itertools.combinations(names, 2):
        last: tuple[int, bool] | None = None  # (size, a faster) at the last size with an order
        for point in points:
            order = _order(point, a, b)
            if order is None:
                continue
            if last is not None and last[1] != order:
                faster, slower = (a, b) if order else (b, a)
                said.append(f"{faster} overtakes {slower} between {last[0]} and {point.size}")
            last = (point.size, order)
    return said


def _order(point: SweepPoint, a: str, b: str) -> bool | None:
    """Whether ``a`` took clearly less time per sample than ``b`` at ``point``; None when they
    are within ``EVEN`` of each other or one did not run."""
    rows = {row.entry: row for row in point.rows}
    x, y = rows[a].median_seconds, rows[b].median_seconds
    if x is None or y is None or abs(x - y) < EVEN * min(x, y):
        return None
    return x < y


def write_sweep(folder: Path, points: list[SweepPoint], axis: str, title: str,
                details: dict[str, Any]) -> tuple[Path, Path]:  # fmt: skip
    """``sweep.json`` (every point's rows, the crossovers, the machine) and ``sweep.png``."""
    from mlp_tiers.report import plot_sweep, write_json

    report = {**details, "axis": axis, "crossovers": crossovers(points),
              "points": [point.to_dict() for point in points]}  # fmt: skip
    write_json(folder / "sweep.json", report)
    plot_sweep(points, AXES[axis], folder / "sweep.png", title)
    return folder / "sweep.json", folder / "sweep.png"
