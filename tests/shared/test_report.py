import csv
import io

import numpy as np
import pytest

from mlp_tiers.report import new_run_dir, plot_learning_curves, save_params, write_json
from shared.history import History


def history() -> History:
    h = History()
    for epoch in range(1, 4):
        h.append({"epoch": epoch, "loss": 1 / epoch, "accuracy": 0.25 * epoch,
                  "val_loss": 1.5 / epoch, "val_accuracy": 0.3 * epoch, "seconds": 0.01})  # fmt: skip
    h.best_epoch = 3
    return h


def test_history_csv():
    rows = list(csv.DictReader(io.StringIO(history().to_csv())))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert float(rows[1]["loss"]) == 0.5
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]
    assert float(rows[1]["accuracy"]) == 0.5


def test_epochs_without_a_training_accuracy_are_empty_cells_and_gaps(tmp_path):
    """A run resumed from a checkpoint written before the training accuracy was recorded: its
    first epochs have none. The CSV leaves the cell empty and the plot leaves a gap."""
    h = history()
    del h.records[0]["accuracy"]
    rows = list(csv.DictReader(io.StringIO(h.to_csv())))
    assert [r["accuracy"] for r in rows] == ["", "0.5", "0.75"]
    assert h.column("accuracy") == [None, 0.5, 0.75]
    plot_learning_curves(h, tmp_path / "curves.png", "test", resumed_after=1)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


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
