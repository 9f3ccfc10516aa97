"""Pictures in run folders: the compared learning curves, the confusion matrices (one when the
tiers agree), decision boundaries on 2-D data, misclassified samples on image data."""

import numpy as np
import pytest

from mlp_tiers import pictures
from shared.history import History

PNG = b"\x89PNG\r\n\x1a\n"


def history(losses):
    h = History()
    for epoch, loss in enumerate(losses, start=1):
        h.append({"epoch": epoch, "loss": loss, "accuracy": 0.6, "val_loss": loss * 1.1,
                  "val_accuracy": 0.5, "seconds": 0.1})  # fmt: skip
    return h


def test_compared_curves_are_written(tmp_path):
    path = tmp_path / "curves.png"
    pictures.plot_compared_curves({"numpy": history([1.0, 0.5]), "tf-nn": history([1.0, 0.5])},
                                  path, "title")  # fmt: skip
    assert path.read_bytes()[:8] == PNG


def test_one_confusion_matrix_when_every_tier_agrees(tmp_path):
    same = np.array([[5, 1], [0, 4]])
    assert pictures.plot_confusions({"numpy": same, "keras": same.copy()}, ("a", "b"),
                                    tmp_path / "c.png", "t")  # fmt: skip
    other = np.array([[4, 2], [0, 4]])
    assert not pictures.plot_confusions({"numpy": same, "keras": other}, ("a", "b"),
                                        tmp_path / "d.png", "t")  # fmt: skip
    assert (tmp_path / "c.png").read_bytes()[:8] == PNG


@pytest.mark.parametrize(("dataset", "n", "side"),
                         [("digits", 64, 8), ("mnist", 784, 28), ("spirals", 2, None),
                          ("my.csv", 64, None), ("digits", 63, None)])  # fmt: skip
def test_image_side(dataset, n, side):
    assert pictures.image_side(dataset, n) == side


def test_the_boundary_grid_covers_the_data():
    x = np.array([[-1.0, 2.0], [3.0, -4.0]])
    grid, (x0, x1, y0, y1) = pictures.boundary_grid(x)
    assert grid.shape == (pictures.GRID**2, 2)
    assert x0 < -1 < 3 < x1 and y0 < -4 < 2 < y1


def test_misclassified_counts_the_first_tier_s_errors(tmp_path):
    y = np.array([0, 1, 2, 1])
    predicted = {"numpy": np.array([0, 2, 2, 0]), "tf-nn": np.array([0, 2, 1, 0])}
    x = np.random.default_rng(0).random((4, 4))
    wrong = pictures.plot_misclassified(x, y, predicted, 2, ("0", "1", "2"), tmp_path / "m.png",
                                        "t")  # fmt: skip
    assert wrong == 2
    assert (tmp_path / "m.png").read_bytes()[:8] == PNG


@pytest.mark.slow
def test_compare_and_a_train_run_write_their_pictures(tmp_path):
    from lowlevel_numpy.train import main as train
    from mlp_tiers.cli import main as mlp_tiers

    assert mlp_tiers(["compare", "--tiers", "numpy,numpy", "--dataset", "spirals", "--epochs", "2",
                      "--hidden", "8", "--quiet", "--out", str(tmp_path / "c")]) == 0  # fmt: skip
    (folder,) = (tmp_path / "c").iterdir()
    for name in ("learning_curves.png", "confusion.png", "boundaries.png"):
        assert (folder / name).read_bytes()[:8] == PNG, name
    assert train(["--dataset", "digits", "--epochs", "2", "--hidden", "8", "--quiet",
                  "--out", str(tmp_path / "t")]) == 0  # fmt: skip
    (folder,) = (tmp_path / "t").iterdir()
    for name in ("learning_curves.png", "confusion.png", "misclassified.png"):
        assert (folder / name).read_bytes()[:8] == PNG, name
    assert not (folder / "boundaries.png").exists()  # 64 features: no plane to draw on


def test_regression_pictures_merge_agreeing_tiers_and_draw_every_curve(tmp_path):
    from mlp_tiers.pictures import (
        curve_grid,
        plot_fitted_curves,
        plot_predicted_vs_actual,
        plot_residuals,
    )

    rng = np.random.default_rng(0)
    actual = rng.normal(size=(40, 1)) * 50 + 150
    close = {"numpy": actual + 1.0, "keras": actual + 1.0 + 1e-6}
    apart = {"numpy": actual + 1.0, "keras": actual - 20.0}
    assert plot_predicted_vs_actual(close, actual, ("y",), tmp_path / "a.png", "t") is True
    assert plot_predicted_vs_actual(apart, actual, ("y",), tmp_path / "b.png", "t") is False
    plot_residuals(apart, actual, ("y",), tmp_path / "r.png", "t")
    x = rng.uniform(-1, 1, (30, 1))
    grid = curve_grid(x)
    assert grid.shape == (400, 1) and grid.min() < x.min() and grid.max() > x.max()
    curves = {"numpy": np.sin(grid), "tf-nn": np.sin(grid)}
    plot_fitted_curves(curves, grid, x, np.sin(x), x[:5], np.sin(x[:5]), "x", "y",
                       tmp_path / "fit.png", "t")  # fmt: skip
    for name in ("a.png", "b.png", "r.png", "fit.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Two tiers apart: a panel each, so the second picture is wider than the merged one.
    from PIL import Image

    assert Image.open(tmp_path / "b.png").width > Image.open(tmp_path / "a.png").width


LONG_TITLE = ("numpy, tf-nn, tf-layers, keras, keras-jax on spirals: 2-128-64-3 relu, adam lr 0.001, "
              "batch 32, l2 0.0001, dropout 0.1")  # fmt: skip


def _drawn_figures(monkeypatch):
    figures = []
    monkeypatch.setattr(pictures, "_save", lambda figure, path: figures.append(figure))
    return figures


@pytest.mark.parametrize(
    "draw",
    [
        lambda: pictures.plot_boundaries({"numpy": np.full((pictures.GRID**2, 3), 1 / 3)},
                                         (-1, 1, -1, 1), np.zeros((3, 2)), np.array([0, 1, 2]),
                                         "b.png", LONG_TITLE),
        lambda: pictures.plot_compared_curves({"numpy": history([1.0, 0.5])}, "c.png",
                                              LONG_TITLE),
        lambda: pictures.plot_misclassified(np.zeros((2, 4)), np.array([0, 1]),
                                            {"numpy": np.array([1, 0])}, 2, ("0", "1"), "m.png",
                                            LONG_TITLE),
        lambda: pictures.plot_confusions({"numpy": np.eye(2, dtype=int)}, ("a", "b"), "f.png",
                                         LONG_TITLE),
    ],
    ids=["boundaries", "compared-curves", "misclassified", "confusion"],
)  # fmt: skip
def test_a_long_run_title_is_wrapped_inside_the_picture(draw, monkeypatch):
    """Found on a single-tier boundaries picture: the run's title ran off both edges."""
    figures = _drawn_figures(monkeypatch)
    draw()
    (figure,) = figures
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)  # as savefig draws it
    canvas.draw()
    box, page = figure._suptitle.get_window_extent(canvas.get_renderer()), figure.bbox
    assert page.x0 <= box.x0 and box.x1 <= page.x1, (box, page)
    assert "\n" in figure._suptitle.get_text()


def test_log_axes_are_labelled_in_plain_numbers_with_mathtext_off(monkeypatch, tmp_path):
    """With mathtext off (so that a "$" in a name is a dollar sign), matplotlib's own log-axis
    labels ($\\mathdefault{10^{-1}}$) showed as raw TeX on every loss plot."""
    from matplotlib.figure import Figure

    from mlp_tiers import report, study
    from mlp_tiers.bench import BenchRow

    figures = []
    save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig",
                        lambda self, *a, **k: (figures.append(self), save(self, *a, **k)))  # fmt: skip
    curves = history([2.0, 0.9, 0.3, 0.05])
    pictures.plot_compared_curves({"numpy": curves}, tmp_path / "c.png", "t")
    report.plot_learning_curves(curves, tmp_path / "l.png", "t")
    rows = [BenchRow(name, "tier", "", first_epoch_seconds=[s], epoch_seconds=[s, s])
            for name, s in (("gemm-floor", 0.001), ("numpy", 0.004), ("tf-nn:eager", 0.4))]  # fmt: skip
    report.plot_bench(rows, 0.001, tmp_path / "b.png", "t")
    study.parity_chart(study.Parity(reference_losses=[2.3, 2.0], losses={"tf-nn": [2.3, 2.0]},
                                    errors={"tf-nn": [0.0, 3e-16]}))  # fmt: skip
    assert len(figures) == 4
    for figure in figures:
        logs = [axis for axes in figure.axes for axis in (axes.xaxis, axes.yaxis)
                if axis.get_scale() == "log"]  # fmt: skip
        assert logs, figure
        for axis in logs:
            labels = [t.get_text() for t in axis.get_ticklabels(which="both") if t.get_text()]
            assert labels and not any("$" in label or "\\" in label for label in labels), labels
