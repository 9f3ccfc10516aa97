"""The benchmark harness: entries in processes of their own, rounds interleaved, the floor always
measured, a row saying why for an entry that cannot run, and the table, JSON and chart."""

import json

import pytest

from mlp_tiers import bench as bench_module
from mlp_tiers.bench import BenchRow, Entry, bench, parse_entries
from mlp_tiers.cli import main as mlp_tiers
from shared.errors import UnknownNameError
from shared.spec import DataSpec, ModelSpec, RunConfig, TrainSpec


def test_the_floor_comes_first_and_duplicates_run_once():
    names = [entry.name for entry in parse_entries("numpy, sklearn ,numpy")]
    assert names == ["gemm-floor", "numpy", "sklearn"]
    kinds = {entry.name: entry.kind for entry in parse_entries("numpy,sklearn")}
    assert kinds == {"gemm-floor": "peer", "numpy": "tier", "sklearn": "peer"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("numpyy", "unknown entry 'numpyy' in --tiers; tiers are numpy, tf-nn"),
        ("torch:fast", "unknown entry 'torch:fast' in --tiers"),
        ("tf-nn:fast", "tier 'tf-nn' has no variant 'fast'; its variants are function, eager"),
    ],
)
def test_an_unknown_entry_is_refused_before_anything_runs(text, message):
    with pytest.raises(UnknownNameError, match=message):
        parse_entries(text)


CONFIG = RunConfig(DataSpec(name="digits"), ModelSpec(hidden=(8,)), TrainSpec(epochs=2))


def test_rounds_are_interleaved_and_every_epoch_after_the_first_is_timed(monkeypatch):
    calls = []

    def fake_round(entry, config, threads):
        calls.append(entry.name)
        return {"epoch_seconds": [9.0, 1.0, 2.0], "final_loss": 0.5, "test_accuracy": 0.9,
                "peak_rss_bytes": 10, "notes": [], "blas": []}  # fmt: skip

    monkeypatch.setattr(bench_module, "run_round", fake_round)
    entries = parse_entries("numpy,sklearn")
    rows = bench(entries, CONFIG, repeats=3, threads=1)
    assert calls == ["gemm-floor", "numpy", "sklearn"] * 3
    for row in rows:
        assert row.first_epoch_seconds == [9.0] * 3  # compiling and tracing, apart
        assert row.epoch_seconds == [1.0, 2.0] * 3
        assert row.median_seconds == 1.5
        assert row.spread == (1.0, 2.0)


def test_an_entry_that_is_not_installed_gets_a_row_saying_so_and_the_rest_run(monkeypatch):
    ran = []
    monkeypatch.setattr(
        bench_module,
        "run_round",
        lambda entry, config, threads: ran.append(entry.name) or {"error": "never"},
    )
    missing = Entry("torch", "peer", "PyTorch", ["torch"])
    rows = bench([*parse_entries("numpy"), missing], CONFIG, repeats=1, threads=1)
    assert ran == ["gemm-floor", "numpy"]
    assert rows[-1].status == "not installed: torch" and not rows[-1].ok
    assert rows[-1].median_seconds is None


def test_x_floor_and_roofline_are_ratios_to_the_floor_median():
    row = BenchRow("numpy", "tier", "", first_epoch_seconds=[5.0], epoch_seconds=[2.0, 3.0, 4.0])
    report = row.to_dict(floor=1.5, n_train=300)
    assert report["median_epoch_seconds"] == 3.0
    assert report["x_floor"] == 2.0
    assert report["roofline_percent"] == 50.0
    assert report["samples_per_second"] == 100.0


@pytest.mark.slow
def test_bench_on_a_fresh_spec_writes_the_table_the_json_and_the_chart(tmp_path, capsys):
    code = mlp_tiers(
        ["bench", "--tiers", "numpy,sklearn", "--dataset", "digits", "--hidden", "8",
         "--optimizer", "sgd", "--lr", "0.1", "--epochs", "3", "--repeats", "2", "--threads", "1",
         "--out", str(tmp_path)]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "× floor" in out and "round 2 · sklearn" in out
    (folder,) = tmp_path.iterdir()
    report = json.loads((folder / "bench.json").read_text())
    rows = {row["entry"]: row for row in report["rows"]}
    assert list(rows) == ["gemm-floor", "numpy", "sklearn"]
    for row in rows.values():
        assert row["status"] == "ok"
        assert len(row["first_epoch_seconds"]) == 2 and len(row["epoch_seconds"]) == 4
        assert row["peak_rss_bytes"] > 10 * 2**20
        assert row["roofline_percent"] == pytest.approx(100 / row["x_floor"])
    assert rows["gemm-floor"]["x_floor"] == 1.0 and rows["gemm-floor"]["test_accuracy"] is None
    assert rows["numpy"]["test_accuracy"] > 0.8 and rows["sklearn"]["test_accuracy"] > 0.8
    assert report["threads"] == 1
    assert all(lib["num_threads"] == "1" for lib in rows["numpy"]["blas"])
    assert report["load_average_before"] is not None and report["machine"]["cpus"]
    assert (folder / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_an_entry_that_fails_gets_its_one_line_reason_and_the_others_still_run(tmp_path, capsys):
    code = mlp_tiers(
        ["bench", "--tiers", "sklearn,numpy", "--dataset", "digits", "--hidden", "8",
         "--optimizer", "rmsprop", "--epochs", "2", "--repeats", "1", "--out", str(tmp_path)]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "scikit-learn's MLPClassifier has no 'rmsprop' optimizer" in out
    (folder,) = tmp_path.iterdir()
    rows = {row["entry"]: row for row in json.loads((folder / "bench.json").read_text())["rows"]}
    assert rows["sklearn"]["status"].startswith("failed: ValueError: scikit-learn")
    assert rows["numpy"]["status"] == "ok" and rows["numpy"]["median_epoch_seconds"] > 0


@pytest.mark.slow
def test_bench_of_a_regression_reports_test_r2(tmp_path, capsys):
    code = mlp_tiers(
        ["bench", "--dataset", "diabetes", "--task", "regression", "--epochs", "20",
         "--tiers", "numpy,sklearn", "--repeats", "1", "--threads", "1", "--out", str(tmp_path)]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "test R²" in out and "test acc" not in out
    (folder,) = tmp_path.iterdir()
    rows = {row["entry"]: row for row in json.loads((folder / "bench.json").read_text())["rows"]}
    assert rows["gemm-floor"]["test_r2"] is None  # the floor learns nothing
    for entry in ("numpy", "sklearn"):
        assert rows[entry]["test_accuracy"] is None and 0.0 < rows[entry]["test_r2"] <= 1.0


def _row(entry, kind, seconds):
    return BenchRow(entry, kind, "", first_epoch_seconds=[seconds], epoch_seconds=[seconds] * 3,
                    peak_rss_bytes=2**20)  # fmt: skip


def _drawn_axes(monkeypatch, tmp_path, rows, floor):
    """The axes of the chart ``plot_bench`` draws for ``rows``."""
    from matplotlib.figure import Figure

    from mlp_tiers import report

    figures = []
    save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig",
                        lambda self, *a, **k: (figures.append(self), save(self, *a, **k)))  # fmt: skip
    report.plot_bench(rows, floor, tmp_path / "bench.png", "title")
    (axes,) = figures[0].axes
    return axes, [text.get_text() for text in axes.get_legend().get_texts()]


def test_the_bench_chart_shows_a_compiled_entry_s_bar_and_names_only_what_it_draws(
    monkeypatch, tmp_path
):
    """A compiled entry two hundred times faster than an eager one was a sliver on a linear
    axis; the legend named a "peer" where only the floor was drawn."""
    rows = [_row("gemm-floor", "peer", 0.001), _row("keras-jax", "tier", 0.002),
            _row("tf-nn:eager", "tier", 0.4)]  # fmt: skip
    axes, legend = _drawn_axes(monkeypatch, tmp_path, rows, 0.001)
    assert axes.get_xscale() == "log" and "log scale" in axes.get_xlabel()
    assert legend == ["tier", "GEMM floor"]
    close = [_row("gemm-floor", "peer", 0.001), _row("numpy", "tier", 0.002),
             _row("torch", "peer", 0.003)]  # fmt: skip
    axes, legend = _drawn_axes(monkeypatch, tmp_path, close, 0.001)
    assert axes.get_xscale() == "linear"
    assert legend == ["tier", "peer", "GEMM floor"]


def test_an_entry_faster_than_the_floor_is_explained_under_the_table():
    from mlp_tiers.console import bench_table

    rows = [_row("gemm-floor", "peer", 0.010), _row("jax-scan", "peer", 0.008),
            _row("numpy", "tier", 0.02)]  # fmt: skip
    caption = bench_table(rows, 0.010, 1000, "t").caption
    assert caption.startswith("jax-scan: faster than the floor (roofline above 100%)")
    assert bench_table(rows[::2], 0.010, 1000, "t").caption is None
