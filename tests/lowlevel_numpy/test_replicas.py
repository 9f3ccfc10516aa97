"""The NumPy tier data parallel over MPI processes (``lowlevel_numpy.replicas``): N replicas take
the step one process takes, up to the order of the all-reduce's sum."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlp_tiers.runner import build_tier, prepare_run
from shared.errors import SpecError
from shared.spec import config_from_dict
from tests.helpers import REPLICA_SPECS, replica_config

HERE = Path(__file__).parent
MPIEXEC = Path(sys.executable).with_name("mpiexec")

needs_mpi = pytest.mark.skipif(
    not MPIEXEC.is_file() or not __import__("shared.packages").packages.installed("mpi4py"),
    reason="needs mpi4py and an mpiexec beside this Python (pip install -e '.[mpi]')",
)

SPECS = REPLICA_SPECS  # SGD and Adam, with and without dropout and L2 (tests.helpers)
config = replica_config  # two epochs of digits, of uneven shares


def mpi_weights(tmp_path: Path, replicas: int, specs: list[dict]) -> dict:
    request, out = tmp_path / f"request-{replicas}.json", tmp_path / f"weights-{replicas}.npz"
    request.write_text(json.dumps([config(replicas, train) for train in specs]))
    command = [str(MPIEXEC), "-n", str(replicas), sys.executable, str(HERE / "mpi_train.py"),
               str(request), str(out)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(np.load(out))


def one_process(train: dict):
    run = prepare_run(config_from_dict(config(1, train)))
    tier = build_tier("numpy", run)
    tier.fit(run.data)
    return tier


def normwise(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@needs_mpi
@pytest.mark.parametrize("replicas", [2, 4])
def test_replicas_take_the_step_of_one_process_over_two_epochs(tmp_path, replicas):
    weights = mpi_weights(tmp_path, replicas, SPECS)
    assert int(weights["processes"]) == replicas
    for rank in range(1, replicas):  # every process ends with the very same weights
        theirs = np.load(tmp_path / f"weights-{replicas}.npz.rank{rank}.npz")
        assert all(np.array_equal(theirs[key], weights[key]) for key in weights)
    for index, train in enumerate(SPECS):
        tier = one_process(train)
        assert int(weights[f"{index}/step"]) == tier.step == 2 * 14  # 13 batches of 90, one of 51
        for layer, (W, b) in enumerate(tier.get_params()):
            for name, expected in ((f"W{layer}", W), (f"b{layer}", b)):
                error = normwise(weights[f"{index}/{name}"], expected)
                # the stated tolerance (docs/distributed.md); measured about 3e-16
                assert error < 1e-13, (train, name, error)


@needs_mpi
def test_a_mistake_in_the_loss_scaling_is_far_outside_the_tolerance(tmp_path, monkeypatch):
    """The equality is a real check: a replica that averages over its own rows instead of the
    batch's (the trap of a per-replica mean) ends 1e-2 or more away, not 1e-13."""
    # A planted mistake: each replica's share of the batch believed to be the whole batch.
    source = (HERE.parents[1] / "lowlevel_numpy" / "tier.py").read_text()
    planted = source.replace("n = len(x) if shard is None else shard.batch_rows", "n = len(x)")
    assert planted != source
    copy = tmp_path / "project"
    shutil.copytree(HERE.parents[1], copy, ignore=shutil.ignore_patterns(
        ".venv*", ".git", "runs", "*.egg-info", ".hypothesis", "__pycache__", "notebooks", "docs"))  # fmt: skip
    (copy / "lowlevel_numpy" / "tier.py").write_text(planted)
    monkeypatch.setattr(sys.modules[__name__], "HERE", copy / "tests" / "lowlevel_numpy")
    weights = mpi_weights(tmp_path, 2, SPECS[:1])
    tier = one_process(SPECS[0])
    assert normwise(weights["0/W0"], tier.get_params()[0][0]) > 1e-2


@needs_mpi
def test_replicas_without_mpi_processes_say_how_to_start_them():
    with pytest.raises(SpecError, match=r"needs 2 MPI processes, and this run has 1; start it as "
                       r"mpiexec -n 2 python -m lowlevel_numpy.train --replicas 2"):  # fmt: skip
        build_tier("numpy", prepare_run(config_from_dict(config(2, {}))))


@needs_mpi
def test_the_train_script_under_mpiexec_writes_one_run_folder_equal_to_one_process(tmp_path):
    flags = ["--dataset", "digits", "--hidden", "32", "--epochs", "2", "--batch-size", "25",
             "--dtype", "float64", "--dropout", "0.1"]  # fmt: skip
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "COLUMNS": "120"}
    script = [sys.executable, "-m", "lowlevel_numpy.train"]
    done = subprocess.run(
        [str(MPIEXEC), "-n", "2", *script, *flags, "--replicas", "2", "--out", str(tmp_path / "two")],
        capture_output=True, text=True, timeout=600, env=env, cwd=HERE.parents[1],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("run folder:") == 1  # the first replica speaks for all of them
    assert "2 replicas" in done.stdout
    single = subprocess.run([*script, *flags, "--out", str(tmp_path / "one")], capture_output=True,
                            text=True, timeout=600, env=env, cwd=HERE.parents[1])  # fmt: skip
    assert single.returncode == 0, single.stderr[-2000:]
    (two,), (one,) = (list((tmp_path / name).iterdir()) for name in ("two", "one"))
    a, b = np.load(two / "checkpoint.npz"), np.load(one / "checkpoint.npz")
    kernels = [key for key in b.files if key.startswith("params/") and key.endswith("/W")]
    assert kernels
    for key in kernels:
        assert normwise(a[key], b[key]) < 1e-13, key


def test_replicas_without_mpi4py_say_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # as where it is not installed
    with pytest.raises(SpecError, match=r"runs one MPI process per replica, and mpi4py is not "
                       r"installed; pip install 'mlp-tiers\[mpi\]'"):  # fmt: skip
        build_tier("numpy", prepare_run(config_from_dict(config(2, {}))))


def run_command(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600,
                          cwd=HERE.parents[1], env={**os.environ, **(env or {})})  # fmt: skip


def test_several_mpi_processes_without_replicas_are_refused_not_run_twice():
    # what mpiexec -n 2 sets, without --replicas: two processes that would each train alone
    done = run_command("-m", "lowlevel_numpy.train", "--epochs", "1", "--no-save",
                       env={"PMI_SIZE": "2", "PMI_RANK": "0"})  # fmt: skip
    assert done.returncode == 2
    assert "this is one of 2 MPI processes, and --replicas is 1" in done.stderr
    assert "give --replicas 2" in done.stderr and "Traceback" not in done.stderr


def test_bench_with_replicas_needs_an_epoch_to_time_after_the_first():
    done = run_command("-m", "mlp_tiers.cli", "bench", "--replicas", "2", "--tiers", "numpy",
                       "--epochs", "1", "--no-save")  # fmt: skip
    assert done.returncode == 2
    assert "--epochs must be 2 or more with --replicas" in done.stderr


@needs_mpi
def test_a_replicated_run_resumes_replicated_or_in_one_process_as_one_process_trains(tmp_path):
    flags = ["--dataset", "digits", "--hidden", "32", "--batch-size", "25", "--dtype", "float64",
             "--dropout", "0.1", "--quiet"]  # fmt: skip
    env = {"OPENBLAS_NUM_THREADS": "1"}
    mpi = [str(MPIEXEC), "-n", "2", sys.executable, "-m", "lowlevel_numpy.train"]

    def train(command: list[str], *args: str) -> Path:
        out = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
        done = subprocess.run([*command, *args, "--out", str(out)], capture_output=True,
                              text=True, timeout=600, cwd=HERE.parents[1],
                              env={**os.environ, **env})  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        (folder,) = out.iterdir()
        return folder / "checkpoint.npz"

    single = [sys.executable, "-m", "lowlevel_numpy.train"]
    first = train(mpi, *flags, "--epochs", "2", "--replicas", "2")
    resumed = {
        "replicated": train(mpi, "--resume", str(first), "--epochs", "3", "--replicas", "2"),
        "in one process": train(single, "--resume", str(first), "--epochs", "3", "--replicas", "1"),
    }
    expected = np.load(train(single, *flags, "--epochs", "3"))
    for how, path in resumed.items():
        got = np.load(path)
        for key in ("params/0/W", "params/1/W"):  # measured 1e-16
            assert normwise(got[key], expected[key]) < 1e-13, (how, key)
