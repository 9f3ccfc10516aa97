"""bench --sweep: one size changed at a time, a benchmark at each, the crossovers in words, the
table and the chart."""

import json

import pytest

from mlp_tiers.bench import BenchRow
from mlp_tiers.bench_sweep import SweepPoint, config_at, crossovers, parse_sweep
from mlp_tiers.cli import main as mlp_tiers
from shared.errors import SpecError
from shared.spec import DataSpec, ModelSpec, RunConfig, TrainSpec


def test_a_sweep_names_its_axis_and_sizes():
    assert parse_sweep("hidden=1024, 64,256") == ("hidden", [64, 256, 1024])
    assert parse_sweep("batch=32,128") == ("batch", [32, 128])


@pytest.mark.parametrize("text", ["hidden", "width=64,128", "hidden=64", "hidden=0,64",
                                  "batch=32,x", "hidden=64,99999", "hidden=²,3", "hidden=64,64", "hidden=" + "1," * 20 + "2"])  # fmt: skip
def test_a_bad_sweep_is_one_line_naming_what_is_allowed(text):
    with pytest.raises(SpecError, match=r"--sweep must be AXIS=SIZES with AXIS one of hidden, "
                       r"batch and 2 to 12 different whole numbers from 1 to 16384"):  # fmt: skip
        parse_sweep(text)


def test_each_size_changes_one_thing_of_the_spec():
    config = RunConfig(DataSpec(name="digits"), ModelSpec(hidden=(128, 64)), TrainSpec())
    wide = config_at(config, "hidden", 512)
    assert wide.model.hidden == (512, 512) and wide.train == config.train
    big = config_at(config, "batch", 256)
    assert big.train.batch_size == 256 and big.model == config.model
    assert config_at(RunConfig(model=ModelSpec(hidden=())), "hidden", 8).model.hidden == (8,)


def _point(size, seconds):
    rows = [BenchRow(name, "tier", "", first_epoch_seconds=[s], epoch_seconds=[s, s],
                     peak_rss_bytes=1) for name, s in seconds.items()]  # fmt: skip
    return SweepPoint(size, (64, size, 10), 32, rows, seconds["gemm-floor"], 1000)


def test_crossovers_say_who_overtakes_whom_between_which_sizes():
    points = [_point(16, {"gemm-floor": 0.001, "numpy": 0.005, "keras-jax": 0.009}),
              _point(64, {"gemm-floor": 0.002, "numpy": 0.010, "keras-jax": 0.011}),
              _point(256, {"gemm-floor": 0.010, "numpy": 0.040, "keras-jax": 0.020})]  # fmt: skip
    assert crossovers(points) == ["keras-jax overtakes numpy between 64 and 256"]
    # even at 64 (within 5%): the order changed between 16 and 256
    points[1] = _point(64, {"gemm-floor": 0.002, "numpy": 0.010, "keras-jax": 0.0102})
    assert crossovers(points) == ["keras-jax overtakes numpy between 16 and 256"]
    assert points[2].per_sample(points[2].rows[1]) == pytest.approx(4e-5)


def test_the_sweep_table_and_chart(tmp_path):
    from mlp_tiers.console import sweep_table
    from mlp_tiers.report import plot_sweep

    points = [_point(16, {"gemm-floor": 0.001, "numpy": 0.005}),
              _point(64, {"gemm-floor": 0.002, "numpy": 0.003})]  # fmt: skip
    points[1].rows[1].status = "failed: MemoryError"
    table = sweep_table(points, "hidden")
    assert table.caption == "no two entries change places"
    assert [column.header for column in table.columns] == ["entry", "16", "64"]
    plot_sweep(points, "width of every hidden layer", tmp_path / "sweep.png", "title $x$ [/b]")
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_bench_sweep_runs_each_size_and_writes_the_report(tmp_path, capsys):
    code = mlp_tiers(
        ["bench", "--sweep", "hidden=8,32", "--tiers", "numpy", "--dataset", "digits",
         "--epochs", "2", "--repeats", "1", "--threads", "1", "--out", str(tmp_path)]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "hidden 8: 64-8-8-10, batch 32, 1 thread" in out and "µs per training sample" in out
    (folder,) = tmp_path.iterdir()
    report = json.loads((folder / "sweep.json").read_text())
    assert [point["size"] for point in report["points"]] == [8, 32]
    assert [point["layer_sizes"] for point in report["points"]] == [
        [64, 8, 8, 10],
        [64, 32, 32, 10],
    ]
    for point in report["points"]:
        assert [row["entry"] for row in point["rows"]] == ["gemm-floor", "numpy"]
        assert all(row["status"] == "ok" for row in point["rows"])
    assert (folder / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("flags", "message"), [
    (["--sweep", "depth=1,2"], "--sweep must be AXIS=SIZES"),
    (["--sweep", "hidden=8,16", "--epochs", "1"], "--epochs must be 2 or more with --sweep"),
    (["--sweep", "hidden=8,16", "--replicas", "2"], "--sweep times one device"),
])  # fmt: skip
def test_bench_sweep_refuses_in_one_line(flags, message, capsys):
    code = mlp_tiers(["bench", "--tiers", "numpy", "--no-save", *flags])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
