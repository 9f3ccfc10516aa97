"""``mlp-tiers parity --replicas N`` and ``compare --replicas N``: every capable tier data parallel
against itself on one device, from the outside, as a user runs them."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlp_tiers.registry import process_keras_backend
from shared.packages import installed

ROOT = Path(__file__).parents[2]
MPI = Path(sys.executable).with_name("mpiexec").is_file() and installed("mpi4py")

pytestmark = [
    pytest.mark.skipif(not MPI, reason="needs mpi4py and mpiexec (pip install -e '.[mpi]')"),
    pytest.mark.skipif(not installed("tensorflow"), reason="needs TensorFlow (.[tf])"),
    pytest.mark.skipif(
        process_keras_backend() != "tensorflow",
        reason="runs once, in the pass with Keras on TensorFlow: it starts a process per tier",
    ),
]

# digits, batch 30: 15 rows to each of 2 replicas, and the float64 row of the tolerance table.
FLAGS = ["--dataset", "digits", "--hidden", "32", "--batch-size", "30", "--dtype", "float64",
         "--optimizer", "adam", "--l2", "0.001", "--dropout", "0.1", "--replicas", "2"]  # fmt: skip


def mlp_tiers(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlp_tiers.cli", *args], capture_output=True, text=True, cwd=root,
        timeout=900, env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "COLUMNS": "160"},
    )  # fmt: skip


def test_parity_with_replicas_prints_each_tier_against_one_device(tmp_path):
    tiers = "numpy,tf-nn" + (",keras-jax" if installed("jax") else "")
    done = mlp_tiers(ROOT, "parity", "--tiers", tiers, *FLAGS, "--steps", "8",
                     "--out", str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    for tier in tiers.split(","):
        row = next(line for line in done.stdout.splitlines() if line.startswith(f"│ {tier} "))
        assert "yes" in row and "/ 1e-13" in row
    (folder,) = tmp_path.iterdir()
    report = json.loads((folder / "replicas.json").read_text())
    assert report["replicas"] == 2 and set(report["tiers"]) == set(tiers.split(","))
    for result in report["tiers"].values():
        assert len(result["steps"]) == 8
        assert result["replicas_run"] == 2  # as each engine counts them
        assert 0 < result["error"] < 1e-13  # measured 3e-16 to 3e-15


def test_a_planted_mistake_in_the_loss_scaling_makes_parity_fail_naming_the_tier(tmp_path):
    """Each replica averaging over its own rows, not the batch's: every replica's gradient is
    then N times too large, and parity says which tier is wrong."""
    copy = tmp_path / "project"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(
        ".venv*", ".git", "runs", "*.egg-info", ".hypothesis", "__pycache__", "notebooks",
        "docs", "tests"))  # fmt: skip
    tier = copy / "lowlevel_numpy" / "tier.py"
    source = tier.read_text()
    planted = source.replace("n = len(x) if shard is None else shard.batch_rows", "n = len(x)")
    assert planted != source
    tier.write_text(planted)
    done = mlp_tiers(copy, "parity", "--tiers", "numpy,tf-nn", *FLAGS, "--steps", "3", "--no-save")
    assert done.returncode == 1, done.stderr[-3000:]
    assert "outside the tolerance of 2 replicas against one device: numpy" in done.stdout
    assert "tf-nn" not in done.stdout.splitlines()[-1]  # the correct tier is not blamed
    numpy_row = next(line for line in done.stdout.splitlines() if line.startswith("│ numpy "))
    assert "NO" in numpy_row


def test_parity_with_replicas_refuses_a_tier_without_a_data_parallel_path():
    done = mlp_tiers(ROOT, "parity", "--tiers", "keras-torch", *FLAGS, "--no-save")
    assert done.returncode == 2
    assert "tier 'keras-torch' has no data-parallel path" in done.stderr
    assert "Traceback" not in done.stderr


def test_compare_with_replicas_trains_each_tier_data_parallel(tmp_path):
    flags = [flag for flag in FLAGS if flag not in ("--dropout", "0.1")]  # masks are per tier
    done = mlp_tiers(ROOT, "compare", "--tiers", "numpy,tf-nn", *flags, "--epochs", "2",
                     "--out", str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 replicas" in done.stdout
    (folder,) = tmp_path.iterdir()
    rows = {row["tier"]: row for row in json.loads((folder / "compare.json").read_text())["tiers"]}
    # both data parallel, both the one-device run up to rounding: 1e-15 apart, as on one device
    assert rows["tf-nn"]["params_vs_numpy"] < 1e-13


def test_bench_with_replicas_times_one_device_and_the_replicas(tmp_path):
    done = mlp_tiers(ROOT, "bench", "--replicas", "2", "--tiers", "numpy,tf-nn", "--dataset",
                     "digits", "--epochs", "3", "--repeats", "1", "--out", str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    row = next(line for line in done.stdout.splitlines() if line.startswith("│ numpy "))
    assert "MPI Allreduce" in row and row.rstrip(" │").endswith("%")
    (folder,) = tmp_path.iterdir()
    rows = json.loads((folder / "bench-replicas.json").read_text())["tiers"]
    numpy, tf = (next(row for row in rows if row["tier"] == name) for name in ("numpy", "tf-nn"))
    for result in (numpy, tf):
        assert result["replicated_step_seconds"] > 0 and result["one_device_step_seconds"] > 0
        assert 0 < result["allreduce_share"] < 1
    assert numpy["allreduce_timed"] == "in the step"  # around its Allreduce calls
    assert tf["allreduce_timed"] == "apart"  # TensorFlow reduces inside its compiled step
