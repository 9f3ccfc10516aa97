"""Pictures of trained runs, written into run folders: the tiers' learning curves on one plot,
their confusion matrices, their decision boundaries on 2-D data, and the test samples they got
wrong on image data; for a regressor, predicted against actual, the residuals, and on 1-D data
every tier's fitted curve over the data. Matplotlib's object-oriented API: no display, no global
state."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np

from shared.fileio import atomic_write

# Datasets whose samples are square grayscale images, flattened row by row.
IMAGE_DATASETS = ("digits", "mnist", "fashion_mnist", "mnist_shaped")
GRID = 160  # points per side of the grid a decision boundary is drawn on
CURVE_POINTS = 400  # points of the grid a fitted curve is drawn on

P = ParamSpec("P")
R = TypeVar("R")


def literal_text(draw: Callable[P, R]) -> Callable[P, R]:
    """Run ``draw`` with matplotlib's mathtext off: a label is the text it holds, so a ``$`` in a
    class name, a file name or a tier name is a dollar sign, not the start of a formula that may
    not parse. No picture here draws a formula, and a log axis is labelled in plain numbers
    (``log_scale``); the setting is scoped to the call, and a user's own figures keep their
    mathtext."""

    @functools.wraps(draw)
    def drawn(*args: P.args, **kwargs: P.kwargs) -> R:
        import matplotlib

        with matplotlib.rc_context({"text.parse_math": False}):
            return draw(*args, **kwargs)

    return drawn


def log_scale(axes: Any, which: str = "y") -> None:
    """A log scale on ``axes``'s ``which`` axis, its ticks labelled as plain numbers (``0.1``,
    ``1``, ``0.6``) where matplotlib would write mathtext (``$10^{-1}$``), which ``literal_text``
    turns off."""
    from matplotlib.ticker import LogFormatterSciNotation

    class PlainNumbers(LogFormatterSciNotation):
        def __call__(self, x: float, pos: int | None = None) -> str:
            # matplotlib decides which ticks get a label; the label is the number itself
            return f"{x:g}" if super().__call__(x, pos) else ""

    axis = axes.yaxis if which == "y" else axes.xaxis
    (axes.set_yscale if which == "y" else axes.set_xscale)("log")
    axis.set_major_formatter(PlainNumbers())
    axis.set_minor_formatter(PlainNumbers(labelOnlyBase=False))


def _save(figure: Any, path: str | Path) -> None:
    with atomic_write(path) as handle:
        figure.savefig(handle, format="png", dpi=110)


def _suptitle(figure: Any, title: str, fontsize: int = 10) -> None:
    """The figure's title, each line wrapped to the figure's width (about 11 characters of a
    10-point title per inch), so that a long run title is never cut off."""
    import textwrap

    characters = max(int(figure.get_figwidth() * 11 * 10 / fontsize), 20)
    lines = [wrapped for line in title.splitlines()
             for wrapped in textwrap.wrap(line, characters) or [""]]  # fmt: skip
    figure.suptitle("\n".join(lines), fontsize=fontsize)


def image_side(dataset: str, n_features: int) -> int | None:
    """The side of the square images of ``dataset``, or None if its samples are not images."""
    side = math.isqrt(n_features)
    return side if dataset in IMAGE_DATASETS and side * side == n_features else None


@literal_text
def plot_compared_curves(
    histories: dict[str, Any], path: str | Path, title: str, l2: bool = False
) -> None:
    """Training and validation loss (log scale) and, for a classifier, accuracy of every tier
    against the epoch, one colour per tier: where the tiers agree, their curves lie on one
    another."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    accuracy = has_accuracy(*histories.values())
    figure = Figure(figsize=(11, 4) if accuracy else (6.5, 4), layout="constrained")
    loss_axes, accuracy_axes = figure.subplots(1, 2) if accuracy else (figure.subplots(), None)
    for i, (tier, history) in enumerate(histories.items()):
        colour = f"C{i}"
        epochs = history.column("epoch")
        # Later tiers drawn thinner, so that coinciding curves stay visible underneath.
        width = max(2.8 - 0.45 * i, 0.8)
        panels = [(loss_axes, ("loss", "val_loss"))]
        if accuracy_axes is not None:
            panels.append((accuracy_axes, ("accuracy", "val_accuracy")))
        for axes, names in panels:
            # float: an epoch without a training accuracy (an older checkpoint's) is a gap
            training, validation = (np.asarray(history.column(n), dtype=float) for n in names)
            axes.plot(epochs, training, color=colour, lw=width, label=tier)
            axes.plot(epochs, validation, color=colour, lw=width, ls="--")
    log_scale(loss_axes)
    loss_axes.set(xlabel="epoch", ylabel=loss_label(l2, accuracy), title="Loss")
    kinds = [Line2D([], [], color="0.3", label="training"),
             Line2D([], [], color="0.3", ls="--", label="validation")]  # fmt: skip
    if accuracy_axes is None:  # a regressor: one panel, whose legend names the tiers too
        tiers = [Line2D([], [], color=f"C{i}", lw=2, label=t) for i, t in enumerate(histories)]
        loss_axes.legend(handles=kinds + tiers)
    else:
        loss_axes.legend(handles=kinds)
        accuracy_axes.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
        accuracy_axes.legend(title="tier")
    for axes in (loss_axes, accuracy_axes) if accuracy_axes is not None else (loss_axes,):
        axes.grid(alpha=0.3)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    _suptitle(figure, title, fontsize=12)
    _save(figure, path)


def loss_label(l2: bool, accuracy: bool) -> str:
    """The loss axis's label: a regressor's loss is the MSE of its standardized targets."""
    label = "loss" if accuracy else "MSE (standardized targets)"
    return f"{label} (incl. L2)" if l2 else label


def has_accuracy(*histories: Any) -> bool:
    """Whether any epoch of these histories has a validation accuracy (a regressor's has none)."""
    return any(v is not None for h in histories for v in h.column("val_accuracy"))


@literal_text
def plot_confusions(
    matrices: dict[str, np.ndarray], class_names: tuple[str, ...], path: str | Path, title: str
) -> bool:
    """Each tier's test confusion matrix; one matrix for all when they are equal (returned)."""
    from matplotlib.figure import Figure

    first = next(iter(matrices.values()))
    shared = all(np.array_equal(m, first) for m in matrices.values())
    label = f"all {len(matrices)} tiers" if len(matrices) > 1 else next(iter(matrices))
    shown = {label: first} if shared else matrices
    k = len(class_names)
    size = min(max(3.2, 0.42 * k + 1.6), 7.5)
    width = max(size * len(shown), 5.0)  # room for the title above a single small matrix
    same = " (identical for every tier)" if shared and len(matrices) > 1 else ""
    import textwrap

    characters = int(width * 13)  # of the 9-point title, across the figure
    lines = [wrapped for line in f"{title}{same}".splitlines()
             for wrapped in textwrap.wrap(line, characters)]  # fmt: skip
    figure = Figure(figsize=(width, size + 0.4 + 0.16 * len(lines)), layout="constrained")
    axes_list = np.atleast_1d(figure.subplots(1, len(shown)))
    for axes, (label, matrix) in zip(axes_list, shown.items()):
        axes.imshow(matrix, cmap="Blues")
        if k <= 20:
            for (row, column), count in np.ndenumerate(matrix):
                dark = count > matrix.max() / 2
                axes.text(column, row, str(count), ha="center", va="center", fontsize=8,
                          color="white" if dark else "black")  # fmt: skip
            axes.set_xticks(range(k), class_names, rotation=90 if k > 10 else 0, fontsize=8)
            axes.set_yticks(range(k), class_names, fontsize=8)
        axes.set(xlabel="predicted", ylabel="true", title=label)
    figure.suptitle("\n".join(lines), fontsize=9)
    _save(figure, path)
    return shared


def boundary_grid(x: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The points of a ``GRID`` x ``GRID`` grid over 2-D data (with a margin), and its extent."""
    low, high = x.min(axis=0), x.max(axis=0)
    margin = 0.08 * (high - low + 1e-12)
    xs = np.linspace(low[0] - margin[0], high[0] + margin[0], GRID)
    ys = np.linspace(low[1] - margin[1], high[1] + margin[1], GRID)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    return grid, (xs[0], xs[-1], ys[0], ys[-1])


@literal_text
def plot_boundaries(
    grids: dict[str, np.ndarray],
    extent: tuple[float, float, float, float],
    x: np.ndarray,
    y: np.ndarray,
    path: str | Path,
    title: str,
) -> None:
    """Each tier's predicted class over the plane, side by side, with the test samples."""
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    k = int(max(y.max(), *(g.shape[1] - 1 for g in grids.values()))) + 1
    colours = [f"C{i}" for i in range(k)]
    figure = Figure(figsize=(4 * len(grids), 4.3), layout="constrained")
    axes_list = np.atleast_1d(figure.subplots(1, len(grids), sharey=True))
    for axes, (tier, proba) in zip(axes_list, grids.items()):
        classes = proba.argmax(axis=1).reshape(GRID, GRID)
        axes.imshow(classes, origin="lower", extent=extent, aspect="auto", alpha=0.35,
                    cmap=ListedColormap(colours), vmin=-0.5, vmax=k - 0.5,
                    interpolation="nearest")  # fmt: skip
        axes.scatter(x[:, 0], x[:, 1], c=[colours[int(c)] for c in y], s=7, edgecolors="k",
                     linewidths=0.2)  # fmt: skip
        axes.set_title(tier)
        axes.set_xlabel("feature 0")
    axes_list[0].set_ylabel("feature 1")
    _suptitle(figure, title)
    _save(figure, path)


@literal_text
def plot_misclassified(
    x: np.ndarray,
    y: np.ndarray,
    predicted: dict[str, np.ndarray],
    side: int,
    class_names: tuple[str, ...],
    path: str | Path,
    title: str,
    limit: int = 32,
) -> int:
    """Test samples the first tier got wrong, as images with their true and predicted labels
    (and the other tiers' predictions where they differ); returns how many it got wrong."""
    from matplotlib.figure import Figure

    first_tier, first = next(iter(predicted.items()))
    wrong = np.flatnonzero(first != y)
    shown = wrong[:limit]
    columns = 8
    rows = max(1, math.ceil(len(shown) / columns))
    figure = Figure(figsize=(columns * 1.35, rows * 1.6 + 0.6), layout="constrained")
    axes_grid = np.atleast_1d(figure.subplots(rows, columns)).reshape(-1)
    for axes in axes_grid:
        axes.set_axis_off()
    for axes, index in zip(axes_grid, shown):
        axes.imshow(x[index].reshape(side, side), cmap="gray_r", interpolation="nearest")
        label = f"true {class_names[y[index]]}\n{first_tier}: {class_names[first[index]]}"
        others = [f"{t}: {class_names[p[index]]}" for t, p in predicted.items()
                  if t != first_tier and p[index] != first[index]]  # fmt: skip
        axes.set_title("\n".join([label, *others]), fontsize=7)
    agree = all(np.array_equal(p, first) for p in predicted.values())
    note = " (every tier predicted the same)" if agree and len(predicted) > 1 else ""
    _suptitle(figure, f"Misclassified: {len(wrong)} of {len(y)} test samples wrong, the first "
                      f"{len(shown)} shown{note}\n{title}")  # fmt: skip
    _save(figure, path)
    return len(wrong)


def curve_grid(x: np.ndarray) -> np.ndarray:
    """``CURVE_POINTS`` points ``(n, 1)`` evenly over 1-D data, with a small margin."""
    low, high = float(x.min()), float(x.max())
    margin = 0.03 * (high - low + 1e-12)
    return np.linspace(low - margin, high + margin, CURVE_POINTS)[:, None]


def _target_panels(figure: Any, n_tiers: int, n_targets: int) -> np.ndarray:
    """One row of axes per target, one column per tier."""
    return np.atleast_2d(figure.subplots(n_targets, n_tiers, squeeze=False))


def _agree(predicted: dict[str, np.ndarray], actual: np.ndarray) -> bool:
    """Whether the tiers' predictions differ by under 0.1% of the targets' spread: then one
    panel shows them all, overlaid."""
    first = next(iter(predicted.values()))
    spread = float(np.ptp(actual)) or 1.0
    return all(float(np.max(np.abs(p - first))) <= 1e-3 * spread for p in predicted.values())


def _panels(
    predicted: dict[str, np.ndarray], actual: np.ndarray, label: str
) -> tuple[bool, dict[str, np.ndarray]]:
    """Whether the tiers agree (``_agree``), and the panels to draw: one labelled
    ``all <n> <label>`` when they do, else one per tier."""
    agree = len(predicted) > 1 and _agree(predicted, actual)
    if agree:
        return True, {f"all {len(predicted)} {label}": next(iter(predicted.values()))}
    return False, predicted


@literal_text
def plot_predicted_vs_actual(
    predicted: dict[str, np.ndarray],
    actual: np.ndarray,
    target_names: tuple[str, ...],
    path: str | Path,
    title: str,
) -> bool:
    """Each tier's test predictions against the true values, one panel per tier (one, overlaid,
    when the tiers agree: returned), with the diagonal a perfect model would lie on."""
    from matplotlib.figure import Figure

    agree, shown = _panels(predicted, actual, "tiers (they agree)")
    k = actual.shape[1]
    figure = Figure(figsize=(max(3.8 * len(shown), 5.0), 3.8 * k + 0.5), layout="constrained")
    grid = _target_panels(figure, len(shown), k)
    for column, (label, values) in enumerate(shown.items()):
        for j in range(k):
            axes = grid[j, column]
            low, high = float(actual[:, j].min()), float(actual[:, j].max())  # this target's
            axes.plot([low, high], [low, high], color="0.5", ls="--", lw=1, label="perfect")
            axes.scatter(actual[:, j], values[:, j], s=9, alpha=0.6, color=f"C{column}",
                         edgecolors="none", label=label)  # fmt: skip
            r2 = _r2(actual[:, j], values[:, j])
            axes.set(xlabel=f"actual {target_names[j]}", ylabel=f"predicted {target_names[j]}",
                     title=f"{label}: R² {r2:.3f}")  # fmt: skip
            axes.grid(alpha=0.3)
    _suptitle(figure, title)
    _save(figure, path)
    return agree


def _r2(actual: np.ndarray, predicted: np.ndarray) -> float:
    total = float(np.sum((actual - actual.mean()) ** 2))
    residual = float(np.sum((actual - predicted) ** 2))
    return 1.0 - residual / total if total > 0 else float(residual == 0)


@literal_text
def plot_residuals(
    predicted: dict[str, np.ndarray],
    actual: np.ndarray,
    target_names: tuple[str, ...],
    path: str | Path,
    title: str,
) -> None:
    """Each tier's residuals (actual - predicted) against its prediction (one panel when the
    tiers agree): a good fit leaves a band around 0 with no trend; a curve or a funnel shows
    what the model missed."""
    from matplotlib.figure import Figure

    _, shown = _panels(predicted, actual, "tiers")
    k = actual.shape[1]
    figure = Figure(figsize=(max(3.8 * len(shown), 5.0), 3.4 * k + 0.5), layout="constrained")
    grid = _target_panels(figure, len(shown), k)
    for column, (tier, values) in enumerate(shown.items()):
        for j in range(k):
            axes = grid[j, column]
            residual = actual[:, j] - values[:, j]
            axes.axhline(0.0, color="0.5", ls="--", lw=1)
            axes.scatter(values[:, j], residual, s=9, alpha=0.6, color=f"C{column}",
                         edgecolors="none")  # fmt: skip
            rmse = float(np.sqrt(np.mean(residual**2)))
            axes.set(xlabel=f"predicted {target_names[j]}", ylabel="actual - predicted",
                     title=f"{tier}: RMSE {rmse:.4g}")  # fmt: skip
            axes.grid(alpha=0.3)
    _suptitle(figure, title)
    _save(figure, path)


@literal_text
def plot_fitted_curves(
    curves: dict[str, np.ndarray],
    grid: np.ndarray,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    x_name: str,
    y_name: str,
    path: str | Path,
    title: str,
) -> None:
    """1-D data (training and test points) with every tier's fitted curve on one plot; later
    tiers drawn thinner, so that curves lying on one another stay visible."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.8), layout="constrained")
    axes = figure.subplots()
    axes.scatter(x_train[:, 0], y_train[:, 0], s=10, color="0.65", edgecolors="none",
                 label="training data")  # fmt: skip
    axes.scatter(x_test[:, 0], y_test[:, 0], s=14, color="0.2", marker="x", linewidths=0.8,
                 label="test data")  # fmt: skip
    for i, (tier, values) in enumerate(curves.items()):
        axes.plot(grid[:, 0], values[:, 0], color=f"C{i}", lw=max(3.0 - 0.5 * i, 0.9), label=tier)
    axes.set(xlabel=x_name, ylabel=y_name)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    _suptitle(figure, title)
    _save(figure, path)
