"""bench sees a compile inside a timed epoch, says so in the row, and leaves that epoch out of
the median; and it gives a tier's fixed cost of a first and a later fit call."""

import pytest

from mlp_tiers import bench as bench_module
from mlp_tiers import bench_worker
from mlp_tiers.bench import BenchRow, bench, parse_entries, split_compiled
from mlp_tiers.compiles import CompileWatch, EpochCompiles
from peers import PEERS, PeerEntry
from shared.packages import installed
from shared.spec import DataSpec, ModelSpec, RunConfig, TrainSpec, to_dict

needs_jax = pytest.mark.skipif(not installed("jax"), reason="needs jax (the [jax] extra)")
CONFIG = RunConfig(DataSpec(name="digits"), ModelSpec(hidden=(8,)), TrainSpec(epochs=3))


def test_an_epoch_that_compiled_is_left_out_of_the_median_and_named():
    compiles = [[3, 0.9], [1, 0.25], [0, 0.0], [None, 0.0]]
    timed, compiled = split_compiled([2.0, 0.9, 0.1, 0.2], compiles, round_number=0)
    assert timed == [0.1, 0.2]
    assert compiled == [{"round": 1, "epoch": 2, "seconds": 0.9, "compiles": 1,
                         "compile_seconds": 0.25}]  # fmt: skip
    # TensorFlow's traces are seen by their seconds alone
    timed, compiled = split_compiled([2.0, 0.9, 0.1], [[None, 0.5], [None, 0.1], [None, 0.0]], 1)
    assert timed == [0.1] and compiled[0]["epoch"] == 2 and compiled[0]["compiles"] is None
    # nothing watched (NumPy): every epoch after the first is timed
    assert split_compiled([2.0, 0.9, 0.1], None, 0) == ([0.9, 0.1], [])
    # a list that does not match the epochs is not trusted: nothing watched
    assert split_compiled([2.0, 0.9, 0.1], [[1, 0.5]], 0) == ([0.9, 0.1], [])


def test_bench_rows_flag_a_compiling_epoch_and_keep_the_call_costs(monkeypatch):
    from mlp_tiers.console import bench_table

    def fake_round(entry, config, threads):
        return {"epoch_seconds": [9.0, 5.0, 1.0, 2.0], "final_loss": 0.5, "test_accuracy": 0.9,
                "peak_rss_bytes": 10, "notes": [], "blas": [],
                "epoch_compiles": [[4, 8.0], [1, 4.0], [0, 0.0], [0, 0.0]],
                "call_seconds": [0.3, 0.02]}  # fmt: skip

    monkeypatch.setattr(bench_module, "run_round", fake_round)
    rows = bench(parse_entries("numpy"), CONFIG, repeats=2, threads=1)
    row = rows[-1]
    assert row.epoch_seconds == [1.0, 2.0, 1.0, 2.0] and row.median_seconds == 1.5
    assert [(e["round"], e["epoch"]) for e in row.compiled_epochs] == [(1, 2), (2, 2)]
    assert row.call_costs == (0.3, 0.02)
    assert row.to_dict(None, 100)["call_cost_seconds"] == (0.3, 0.02)
    caption = bench_table(rows, None, 100, "t").caption
    assert "numpy*: 2 timed epochs compiled (8.000 s of compiling or tracing), left out of " \
           "its median" in caption  # fmt: skip


def test_when_every_timed_epoch_compiled_the_median_says_it_includes_compiling():
    from mlp_tiers.console import bench_notes

    row = BenchRow("jax-scan", "peer", "", first_epoch_seconds=[9.0],
                   compiled_epochs=[{"round": 1, "epoch": 2, "seconds": 4.0, "compiles": 1,
                                     "compile_seconds": 3.5}], peak_rss_bytes=1)  # fmt: skip
    assert row.median_seconds == 4.0  # not the first epoch's 9.0
    assert "all of its timed epochs: the median includes compiling" in bench_notes([row], None)[0]


@needs_jax
def test_a_peer_whose_second_epoch_compiles_is_flagged(monkeypatch):
    """End to end through the benchmark worker: the run's second epoch compiles, its third
    does not."""
    monkeypatch.setitem(PEERS, "recompiling", PeerEntry("recompiling",
                        "tests.mlp_tiers.recompiling_peer", ("jax",), "a test peer"))  # fmt: skip
    result = bench_worker.measure("recompiling", "peer", to_dict(CONFIG))
    (first, second, third) = result["epoch_compiles"]
    assert first[0] >= 1 and second[0] >= 1 and third == [0, 0.0]
    timed, compiled = split_compiled(result["epoch_seconds"], result["epoch_compiles"], 0)
    assert [epoch["epoch"] for epoch in compiled] == [2] and len(timed) == 1


@needs_jax
def test_the_jax_watch_counts_compiles_and_nothing_else():
    import jax
    import jax.numpy as jnp

    three, four = jnp.ones(3), jnp.ones(4)  # made before the watch: making them compiles too
    watch = CompileWatch(jax=True)
    epochs = EpochCompiles(watch)
    double = jax.jit(lambda x: 2 * x)
    double(three).block_until_ready()
    epochs.mark()
    double(three).block_until_ready()  # cached
    epochs.mark()
    double(four).block_until_ready()  # a new shape
    epochs.mark()
    counts = [c.count for c in epochs.epochs]
    assert counts[0] >= 1 and counts[1] == 0 and counts[2] == 1
    assert epochs.epochs[1].seconds == 0 and epochs.epochs[2].seconds > 0


def test_the_tensorflow_watch_sees_a_retrace():
    from tests.helpers import require_framework

    require_framework("tensorflow", "tf")
    from adapters.tensorflow_setup import import_tensorflow

    tf = import_tensorflow()
    watch = CompileWatch()
    epochs = EpochCompiles(watch)
    double = tf.function(lambda x: 2 * x)
    double(tf.ones(3))
    epochs.mark()
    double(tf.ones(3))
    epochs.mark()
    double(tf.ones((2, 2)))  # a new shape: traced again
    epochs.mark()
    seconds = [c.seconds for c in epochs.epochs]
    assert seconds[0] > 0 and seconds[1] == 0 and seconds[2] > 0


def test_a_tier_reports_its_first_and_later_fit_call_costs():
    """The NumPy tier through the worker: a call's cost outside its steps is small and positive,
    and the later call's epoch is not one of the timed epochs."""
    result = bench_worker.measure("numpy", "tier", to_dict(CONFIG))
    assert len(result["epoch_seconds"]) == 3
    first, later = result["call_seconds"]
    assert 0 < first < 1 and 0 < later < 1
    assert result["epoch_compiles"] == [[None, 0.0]] * 3
    assert result["test_accuracy"] > 0.3
