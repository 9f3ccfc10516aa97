"""Run folders: what a run writes, and the machine and versions it names.

A run folder (``runs/<time>-<tier>-<dataset>/`` by default) holds:

- ``history.csv``: one row per epoch: ``epoch, loss, accuracy, val_loss, val_accuracy, seconds``
  (with an L2 term, ``loss+L2`` and ``val_loss+L2``: the losses include it);
- ``metrics.json``: the specs, the dataset's sizes and classes, the evaluation of every split
  (loss, accuracy, confusion matrix, per-class precision, recall and F1), the epochs run, best
  and stopped, timing, the thread count, and the versions used;
- ``params.npz``: the final weights (``params/{i}/W``, ``params/{i}/b``; ``i`` counts from 0,
  so ``params/0/W`` is the first layer's ``W_1``);
- ``checkpoint.npz``: the full training state, for ``--resume``;
- ``learning_curves.png``: training and validation loss, and accuracy, per epoch;
- ``confusion.png``: the test confusion matrix; on 2-D data ``boundaries.png`` (the decision
  boundaries), on image data ``misclassified.png`` (the test images the tier got wrong);
- a regressor's instead: ``history.csv`` without the accuracy columns, ``metrics.json`` with
  ``mse``, ``rmse``, ``mae`` and ``r2`` (in the targets' units) under each split and the
  target names, the learning curves of the loss alone, ``predicted.png`` (test predictions
  against the true values), ``residuals.png`` and, on 1-D data, ``fit.png`` (every tier's
  fitted curve over the data);
- ``model.keras``: for a Keras tier, the whole model in Keras's own format.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlp_tiers.pictures import literal_text, log_scale
from shared.fileio import atomic_write
from shared.history import History
from shared.init import Params


def machine() -> dict[str, str]:
    """The machine a result was measured on, as run folders and benchmark reports name it."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if "model name" in line]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "processor": cpu,
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
    }


# A report this project writes is a few hundred KiB at most; one far larger was not written here.
MAX_REPORT_BYTES = 64 * 2**20


def read_json(path: str | Path, what: str) -> Any:
    """The parsed JSON of a report the tools read back (``parity.json``, ``compare.json``), or a
    ``SpecError`` naming ``what`` (the flag and file) and why: the file is not a regular file or
    is too large (``shared.fileio.read_bounded``), not UTF-8, not JSON, or nested too deep."""
    from shared.errors import SpecError
    from shared.fileio import Unreadable, read_bounded

    try:
        text = read_bounded(path, MAX_REPORT_BYTES).decode("utf-8")
        return json.loads(text)
    except Unreadable as exc:
        raise SpecError(f"cannot read {what}: {exc}") from None
    except UnicodeDecodeError:
        raise SpecError(f"{what} is not UTF-8 text, as JSON must be") from None
    except RecursionError:
        raise SpecError(f"{what} is JSON nested too deep to be a report of mlp-tiers") from None
    except ValueError as exc:
        raise SpecError(f"{what} is not valid JSON ({exc})") from None


# The reports that mark a folder as a run folder of the tools, and the files such a folder holds.
RUN_REPORTS = ("metrics.json", "compare.json", "parity.json", "bench.json")
RUN_FILES = (*RUN_REPORTS, "history.csv", "params.npz", "checkpoint.npz", "model.keras",
             "bench.png", "learning_curves.png", "confusion.png", "boundaries.png",
             "misclassified.png", "predicted.png", "residuals.png", "fit.png")  # fmt: skip


def check_output(path: str | Path, flag: str, inputs: Sequence[str | Path] = (),
                 folders: Sequence[str | Path] = ()) -> None:  # fmt: skip
    """Refuse to write ``path`` (given as ``flag``) over a file the command reads (``inputs``),
    into a folder whose files it reads (``folders``: a run folder holding a model), or over a
    file of any run folder (a file of ``RUN_FILES`` beside one of ``RUN_REPORTS``): the user
    named an output, not one of those."""
    from shared.errors import SpecError

    target = Path(path).expanduser().resolve()
    for source in inputs:
        source = Path(source).expanduser()
        if source.exists() and target == source.resolve():
            raise SpecError(f"{flag} {path} is the input file {source}; write the output to "
                            "another file")  # fmt: skip
    for folder in folders:
        folder = Path(folder).expanduser().resolve()
        if target.is_relative_to(folder):
            raise SpecError(f"{flag} {path} is inside the run folder {folder}, whose files hold "
                            "the model; write the output elsewhere")  # fmt: skip
    parent = target.parent
    if target.name in RUN_FILES and any((parent / name).is_file() for name in RUN_REPORTS):
        raise SpecError(f"{flag} {path} would replace {target.name} of the run folder {parent}; "
                        "write the output elsewhere")  # fmt: skip


def new_run_dir(root: str | Path, tier: str, dataset: str) -> Path:
    """A fresh folder under ``root`` named after the time, the tier and the dataset; runs that
    start at the same second get ``-2``, ``-3``, ... in the order they claim a name."""
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{tier}-{Path(dataset).stem}"
    Path(root).mkdir(parents=True, exist_ok=True)
    suffix = 1
    while True:
        path = Path(root) / (stem if suffix == 1 else f"{stem}-{suffix}")
        try:
            path.mkdir()  # atomic: of runs started at once, exactly one claims each name
            return path
        except FileExistsError:
            suffix += 1


def write_text(path: str | Path, text: str) -> None:
    with atomic_write(path, "w") as handle:
        handle.write(text)


def finite_json(obj: Any) -> Any:
    """``obj`` with every NaN or infinity replaced by None, so that it is valid JSON (which has
    no NaN) and a reader sees a missing value rather than a number."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: finite_json(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(value) for value in obj]
    return obj


def write_json(path: str | Path, obj: Any) -> None:
    """``obj`` as indented JSON, written atomically; always valid JSON (see ``finite_json``)."""
    text = json.dumps(finite_json(obj), indent=2, sort_keys=False, allow_nan=False)
    write_text(path, text + "\n")


def save_params(path: str | Path, params: Params) -> None:
    """The weights alone, as ``params/{i}/W`` and ``params/{i}/b`` in an ``.npz`` file."""
    arrays = {}
    for i, (W, b) in enumerate(params):
        arrays[f"params/{i}/W"], arrays[f"params/{i}/b"] = np.asarray(W), np.asarray(b)
    with atomic_write(path) as handle:
        np.savez(handle, **arrays)


@literal_text
def plot_learning_curves(
    history: History,
    path: str | Path,
    title: str,
    l2: bool = False,
    resumed_after: int | None = None,
) -> None:
    """Loss (log scale) and accuracy (a classifier's), training and validation, against the
    epoch, as a PNG; the best epoch of early stopping and the epoch a resumed run continued
    after marked."""
    # The object-oriented API renders without pyplot's global state or a display.
    from matplotlib.figure import Figure

    from mlp_tiers.pictures import has_accuracy, loss_label

    epochs = history.column("epoch")
    accuracy = has_accuracy(history)
    figure = Figure(figsize=(9, 3.6) if accuracy else (5.5, 3.6), layout="constrained")
    loss_axes, accuracy_axes = figure.subplots(1, 2) if accuracy else (figure.subplots(), None)
    loss_axes.plot(epochs, history.column("loss"), marker="o", ms=3, label="training")
    loss_axes.plot(epochs, history.column("val_loss"), marker="o", ms=3, label="validation")
    loss_axes.set(xlabel="epoch", ylabel=loss_label(l2, accuracy), title="Loss")
    if min(history.column("loss") + history.column("val_loss")) > 0:
        log_scale(loss_axes)
    if accuracy_axes is not None:
        for name, label in (("accuracy", "training"), ("val_accuracy", "validation")):
            # float: an epoch without a training accuracy (an older checkpoint's) is a gap, NaN
            values = np.asarray(history.column(name), dtype=float)
            accuracy_axes.plot(epochs, values, marker="o", ms=3, label=label)
        accuracy_axes.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    from matplotlib.ticker import MaxNLocator

    for axes in (loss_axes, accuracy_axes) if accuracy_axes is not None else (loss_axes,):
        axes.grid(alpha=0.3)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        if history.best_epoch is not None:
            axes.axvline(history.best_epoch, color="grey", ls=":", label="best epoch")
        if resumed_after:
            axes.axvline(resumed_after + 0.5, color="C3", ls="--", lw=1, label="resumed here")
    loss_axes.legend()
    figure.suptitle(title)
    with atomic_write(path) as handle:
        figure.savefig(handle, format="png", dpi=120)


@literal_text
def plot_bench(rows: list[Any], floor: float | None, path: str | Path, title: str) -> None:
    """Seconds per epoch of every entry that ran, as horizontal bars (median, with the middle
    half of its epochs as the whisker), fastest on top, the GEMM floor as a dashed line."""
    import textwrap

    from matplotlib.figure import Figure

    timed = sorted((row for row in rows if row.ok), key=lambda row: row.median_seconds)
    # About 100 characters of the 9-point title fit from the axes' left edge to the figure's right
    # edge: a longer line (a GPU run's title names where the floor ran) wraps instead of being cut.
    title_lines = [wrapped for line in title.splitlines()
                   for wrapped in textwrap.wrap(line, 100) or [""]]  # fmt: skip
    height = 0.9 + 0.42 * max(len(timed), 1) + 0.15 * max(len(title_lines) - 2, 0)
    figure = Figure(figsize=(9, height), layout="constrained")
    axes = figure.subplots()
    labels = [row.entry for row in timed]
    medians = [row.median_seconds for row in timed]
    low = [m - row.spread[0] for m, row in zip(medians, timed)]
    high = [row.spread[1] - m for m, row in zip(medians, timed)]
    floor_name = "gemm-floor"  # drawn in the floor line's colour, named by it in the legend
    colours = ["C3" if row.entry == floor_name else "0.55" if row.kind == "peer" else "C0"
               for row in timed]  # fmt: skip
    # A compiled entry can be a hundred times faster than an eager one: on a linear axis its bar
    # would be a sliver, so a wide spread of times gets a log axis.
    spread = max(medians) / min(medians) if medians else 1.0
    log = spread > 10
    axes.barh(labels, medians, xerr=[low, high], color=colours, capsize=3)
    axes.invert_yaxis()  # the fastest first
    for y, (m, row) in enumerate(zip(medians, timed)):
        text = f" {m:.3g} s" + (
            f"  ({m / floor:.2f}× floor)" if floor and row.entry != floor_name else ""
        )
        axes.text(m + high[y], y, text, va="center", fontsize=8)
    right = max(m + h for m, h in zip(medians, high)) if medians else 1.0
    if log:
        log_scale(axes, "x")
        axes.set_xlim(min(m - lo for m, lo in zip(medians, low)) / 2, right * 8)
    else:
        axes.set_xlim(0, right * 1.45)
    axes.set(xlabel="seconds per epoch (training steps; median, whisker: middle half)"
             + (", log scale" if log else ""))  # fmt: skip
    axes.grid(axis="x", alpha=0.3)
    from matplotlib.patches import Patch

    # the legend names only what the chart shows
    kinds = {row.kind for row in timed if row.entry != floor_name}
    handles: list[Any] = [Patch(color="C0", label="tier")] if kinds - {"peer"} else []
    handles += [Patch(color="0.55", label="peer")] if "peer" in kinds else []
    if floor:
        handles.append(axes.axvline(floor, color="C3", ls="--", lw=1, label="GEMM floor"))
    # beside the bars, never over the slowest entry's label
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    axes.set_title("\n".join(title_lines), fontsize=9, loc="left")
    with atomic_write(path) as handle:
        figure.savefig(handle, format="png", dpi=120)


@literal_text
def plot_sweep(points: list[Any], swept: str, path: str | Path, title: str) -> None:
    """``bench --sweep``: time per training sample (left) and the ratio to the GEMM floor
    (right) against the size swept (``swept`` names it), log scales, one line per entry, the
    floor in red."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullLocator

    figure = Figure(figsize=(11, 4.6), layout="constrained")
    per_sample, x_floor = figure.subplots(1, 2)
    sizes = [point.size for point in points]
    names = [row.entry for row in points[0].rows]
    styles = itertools.cycle(["-", "--", "-.", ":"])
    colours = itertools.cycle(["C0", "C1", "C2", "C4", "C5", "C6", "C7", "C8", "C9"])  # red: floor
    for name in names:
        floor_line = name == "gemm-floor"
        rows = [next(row for row in point.rows if row.entry == name) for point in points]
        style = dict(color="C3" if floor_line else next(colours), marker="o", markersize=4,
                     ls="--" if floor_line else next(styles), label=name)  # fmt: skip
        seconds = [point.per_sample(row) for point, row in zip(points, rows, strict=True)]
        if not any(s is not None for s in seconds):
            continue  # not run at any size: named under the terminal's table, not drawn
        per_sample.plot(sizes, [np.nan if s is None else s * 1e6 for s in seconds], **style)
        if not floor_line:
            ratios = [np.nan if row.median_seconds is None or not point.floor
                      else row.median_seconds / point.floor
                      for point, row in zip(points, rows, strict=True)]  # fmt: skip
            x_floor.plot(sizes, ratios, **style)
    for axes in (per_sample, x_floor):
        log_scale(axes, "x")
        log_scale(axes, "y")
        axes.set_xticks(sizes, [str(size) for size in sizes])
        axes.xaxis.set_minor_locator(NullLocator())  # the sizes swept, and only they
        axes.set_xlabel(swept + " (log scale)")
        axes.grid(alpha=0.3)
    x_floor.axhline(1.0, color="C3", ls="--", lw=1)
    per_sample.set_ylabel("µs per training sample (log scale)")
    x_floor.set_ylabel("× floor (time / GEMM floor of that size; log scale)")
    per_sample.legend(fontsize=8)
    figure.suptitle(title, fontsize=9)
    with atomic_write(path) as handle:
        figure.savefig(handle, format="png", dpi=120)
