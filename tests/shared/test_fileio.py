"""Atomic writes under signals: a SIGINT or SIGTERM at the worst moment leaves no temporary file
and no half-written target (the race a real interrupted run once hit between creating the
temporary file and remembering its name)."""

import os
import signal
import tempfile

import pytest

from shared.errors import Interrupted
from shared.fileio import atomic_path, atomic_write
from shared.signals import stop_on_signals


def signal_self(number):
    os.kill(os.getpid(), number)


@pytest.fixture
def signal_while_creating(monkeypatch):
    """mkstemp that creates its file, then receives a signal before it returns."""
    create = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        made = create(*args, **kwargs)
        signal_self(signal.SIGTERM)
        return made

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


@pytest.mark.parametrize("writer", [atomic_write, atomic_path], ids=["atomic_write", "atomic_path"])
def test_a_signal_while_the_temporary_file_is_created_leaves_nothing_behind(
    writer, signal_while_creating, tmp_path
):
    target = tmp_path / "checkpoint.npz"
    target.write_bytes(b"old")
    with stop_on_signals(), pytest.raises(Interrupted), writer(target):
        raise AssertionError("the block must not run: the signal came before it")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz"]
    assert target.read_bytes() == b"old"


def test_a_signal_while_writing_removes_the_temporary_file(tmp_path):
    target = tmp_path / "report.json"
    with stop_on_signals(), pytest.raises(Interrupted), atomic_write(target, "w") as handle:
        handle.write("{")
        signal_self(signal.SIGINT)
        handle.write("}")
    assert list(tmp_path.iterdir()) == []


def test_a_finished_write_replaces_the_target_with_the_usual_permissions(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_write(target, "w") as handle:
        handle.write("done")
    assert target.read_text() == "done"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def dead_pid():
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_temporary_files_of_killed_processes_are_recognised_and_removed(tmp_path):
    from shared.fileio import remove_stale_temporaries

    stale = tmp_path / f".checkpoint.npz.{dead_pid()}.ab_9xyzq.tmp"
    stale_model = tmp_path / f".model.{dead_pid()}.k2j4h5g6.keras"
    ours = tmp_path / f".checkpoint.npz.{os.getpid()}.qwertyui.tmp"  # being written right now
    kept = [tmp_path / "checkpoint.npz", tmp_path / ".notes.123.txt", tmp_path / "a.1.tmp"]
    for path in [stale, stale_model, ours, *kept]:
        path.write_bytes(b"x")
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted([stale, stale_model])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in [ours, *kept])


def test_the_temporary_file_names_its_writer(tmp_path, monkeypatch):
    seen = []
    create = tempfile.mkstemp

    def spy(*args, **kwargs):
        made = create(*args, **kwargs)
        seen.append(os.path.basename(made[1]))
        return made

    monkeypatch.setattr(tempfile, "mkstemp", spy)
    with atomic_write(tmp_path / "checkpoint.npz") as handle:
        handle.write(b"data")
    (name,) = seen
    assert name.startswith(f".checkpoint.npz.{os.getpid()}.") and name.endswith(".tmp")


def test_a_resume_clears_what_a_run_killed_while_saving_left_beside_its_checkpoint(tmp_path):
    from lowlevel_numpy.train import main as train

    assert train(["--epochs", "1", "--hidden", "8", "--quiet", "--out", str(tmp_path)]) == 0
    (folder,) = tmp_path.iterdir()
    stale = folder / f".checkpoint.npz.{dead_pid()}.zz_9yyq1.tmp"  # as SIGKILL leaves it
    stale.write_bytes(b"half a checkpoint")
    resumed = tmp_path / "resumed"
    assert train(["--resume", str(folder / "checkpoint.npz"), "--epochs", "2", "--quiet",
                  "--out", str(resumed)]) == 0  # fmt: skip
    assert not stale.exists()
    assert (folder / "checkpoint.npz").is_file()
