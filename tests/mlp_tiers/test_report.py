import numpy as np
import pytest

from mlp_tiers.report import new_run_dir, plot_learning_curves, save_params, write_json
from tests.shared.test_history import history


def test_run_dirs_are_unique(tmp_path):
    a = new_run_dir(tmp_path, "numpy", "digits")
    b = new_run_dir(tmp_path, "numpy", "digits")
    assert a != b and a.is_dir() and b.is_dir()
    assert a.name.endswith("numpy-digits")


def test_files(tmp_path):
    write_json(tmp_path / "m.json", {"a": 1})
    assert (tmp_path / "m.json").read_text() == '{\n  "a": 1\n}\n'
    save_params(tmp_path / "p.npz", [(np.ones((2, 3)), np.zeros(3))])
    with np.load(tmp_path / "p.npz") as npz:
        assert sorted(npz.files) == ["params/0/W", "params/0/b"]
    plot_learning_curves(history(), tmp_path / "curves.png", "test")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_run_folders_claimed_at_once_are_all_distinct(tmp_path):
    """Runs that share --out and start in the same second each get a folder of their own."""
    from concurrent.futures import ThreadPoolExecutor

    from mlp_tiers.report import new_run_dir

    with ThreadPoolExecutor(max_workers=16) as pool:
        folders = list(pool.map(lambda _: new_run_dir(tmp_path, "numpy", "digits"), range(50)))
    assert len(set(folders)) == 50 and all(folder.is_dir() for folder in folders)


@pytest.mark.slow
def test_twenty_runs_started_at_once_with_one_out_all_succeed(tmp_path):
    import os
    import subprocess
    import sys

    command = [sys.executable, "-m", "lowlevel_numpy.train", "--epochs", "1", "--hidden", "8",
               "--quiet", "--out", str(tmp_path)]  # fmt: skip
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(20)
    ]
    errors = [process.communicate(timeout=600)[1] for process in processes]
    assert [process.returncode for process in processes] == [0] * 20, errors
    folders = [path for path in tmp_path.iterdir() if path.is_dir()]
    assert len(folders) == 20
    assert all((folder / "metrics.json").is_file() for folder in folders)
