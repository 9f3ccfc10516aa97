"""What a newcomer meets in the first hour: labels that say what a loss holds, errors that name
flags, output that reads well in a log, and the small things of start-up."""

import csv
import json
import os
import re
import subprocess
import sys

import pytest

from lowlevel_numpy.train import main as train
from mlp_tiers.cli import main as mlp_tiers
from mlp_tiers.registry import available_tiers

pytestmark = pytest.mark.slow  # end to end: each test runs the command line


def run_folder(root):
    (folder,) = [p for p in root.iterdir() if p.is_dir()]
    return folder


def test_every_loss_says_whether_it_includes_l2(tmp_path, capsys):
    assert train(["--epochs", "2", "--hidden", "8", "--l2", "0.01", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"epoch +1/2 +loss\+L2 [\d.]+ +acc [\d.]+ +val_loss\+L2 [\d.]+", out)
    assert re.search(r"split .* loss .* loss\+L2 .* accuracy", out)
    folder = run_folder(tmp_path)
    with open(folder / "history.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["epoch", "loss+L2", "accuracy", "val_loss+L2", "val_accuracy",
                             "seconds"]  # fmt: skip
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["history_losses_include_l2"] is True
    val = metrics["evaluation"]["val"]
    # The same number, whichever way it is reached: the last epoch's val_loss+L2 is the
    # evaluation's loss+L2 (same weights, same data).
    assert val["loss+L2"] == pytest.approx(float(rows[-1]["val_loss+L2"]), rel=1e-9)
    assert val["loss"] < val["loss+L2"]


def test_without_l2_the_losses_carry_no_l2_label(tmp_path, capsys):
    assert train(["--epochs", "1", "--hidden", "8", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "L2" not in out
    header = (run_folder(tmp_path) / "history.csv").read_text().splitlines()[0]
    assert header == "epoch,loss,accuracy,val_loss,val_accuracy,seconds"


def test_a_resume_that_would_train_nothing_is_refused(tmp_path, capsys):
    assert train(["--epochs", "2", "--hidden", "8", "--quiet", "--out", str(tmp_path / "a")]) == 0
    checkpoint = run_folder(tmp_path / "a") / "checkpoint.npz"
    code = train(["--resume", str(checkpoint), "--epochs", "2", "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "has 2 epochs done and --epochs is 2" in err and "--epochs 12" in err
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dataset", "spirals", "--classes", "1"], "--classes must be an integer >= 2; got 1"),
        (["--batch-size", "0"], "--batch-size must be an integer >= 1; got 0"),
        (["--hidden", "0"], "--hidden: every hidden layer size must be an integer >= 1"),
        (["--val-fraction", "2"], "--val-fraction must be a number in (0, 1); got 2.0"),
    ],
)
def test_errors_name_the_flag_not_the_setting(argv, message, capsys):
    assert train([*argv, "--no-save"]) == 2
    assert message in capsys.readouterr().err


def test_no_hidden_layer_is_described_as_such(capsys):
    assert train(["--hidden", "none", "--epochs", "1", "--quiet", "--no-save"]) == 0
    out = capsys.readouterr().out
    assert "64-10 (no hidden layer), softmax+cross_entropy" in out and "64-10 relu" not in out


def test_device_auto_says_what_it_chose(capsys):
    assert (
        train(["--device", "auto", "--epochs", "1", "--hidden", "8", "--quiet", "--no-save"]) == 0
    )
    assert re.search(r"--device auto: training on (cpu|gpu \(CuPy\))", capsys.readouterr().out)


def test_mlp_tiers_alone_lists_the_commands(capsys):
    assert mlp_tiers([]) == 2
    err = capsys.readouterr().err
    for command in ("compare", "train", "bench", "parity", "predict", "evaluate", "concepts"):
        assert command in err


def test_train_help_describes_it_and_lists_the_tiers(capsys):
    with pytest.raises(SystemExit):
        mlp_tiers(["train", "--help"])
    out = capsys.readouterr().out
    assert "Train one tier's MLP" in out
    for name in ("numpy", "tf-nn", "tf-layers", "keras", "keras-jax", "keras-torch"):
        assert name in out


def test_epoch_lines_give_short_epochs_in_milliseconds(capsys):
    assert train(["--epochs", "1", "--hidden", "8", "--no-save"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if "val_acc" in line)
    assert re.search(r"\d+\.\d ms$|\d+\.\d\d s$", line.strip()) and "0.00s" not in line


@pytest.mark.slow
def test_a_log_of_compare_has_no_ansi_codes_wrapping_or_start_up_noise(tmp_path):
    """As `make run > log 2>&1` writes it: standard output and error into one file."""
    log = tmp_path / "log"
    with open(log, "w") as handle:
        result = subprocess.run(
            [sys.executable, "-m", "mlp_tiers.cli", "compare", "--epochs", "1", "--hidden", "8",
             "--out", str(tmp_path)],
            stdout=handle, stderr=subprocess.STDOUT, timeout=900,
            env={k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TF_CPP_MIN_LOG_LEVEL")},
        )  # fmt: skip
    text = log.read_text(encoding="utf-8")
    assert result.returncode == 0, text
    assert "\x1b[" not in text
    header = text.splitlines()[0]
    assert header.startswith(", ".join(available_tiers())) and header.rstrip().endswith("seed 0")
    assert "each tier" not in text  # no dropout note without dropout
    for noise in ("oneDNN", "absl", "cuda", "Could not find", "WARNING", "I0000"):
        assert noise not in text, noise
    table = [line for line in text.splitlines() if line.startswith("│")]
    assert len(table) == len(available_tiers())


def test_the_progress_bar_shows_no_loss_before_the_first_step():
    import io
    import types

    from rich.console import Console

    from mlp_tiers.console import EpochProgress

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    progress = EpochProgress(console)
    tier = types.SimpleNamespace(train_spec=types.SimpleNamespace(l2=0.0))
    progress.on_train_begin(tier, 1, 3, 10)
    progress.progress.refresh()
    assert "loss -" in buffer.getvalue() and "loss 0.0000" not in buffer.getvalue()
    progress.on_batch_end(tier, 0, 1.25)
    progress.progress.refresh()
    assert "loss 1.2500" in buffer.getvalue()
    progress.on_train_end(tier)


def test_a_diverging_run_leaves_its_last_good_checkpoint(tmp_path):
    """Weights blown up at the end of epoch 2 (finite, but every later step overflows): the run
    stops in epoch 3, says where the checkpoint of epoch 2 is, and that checkpoint loads."""
    import numpy as np

    from mlp_tiers.runner import prepare_run, train_and_evaluate
    from shared.callbacks import Callback
    from shared.checkpoint import load_checkpoint
    from shared.errors import DivergedError
    from shared.spec import DataSpec, ModelSpec, RunConfig, TrainSpec

    class BlowUp(Callback):
        def on_epoch_end(self, tier, record):
            if record["epoch"] == 2:
                tier.set_params([(W * 0 + 1e30, b) for W, b in tier.get_params()])

    run = prepare_run(RunConfig(DataSpec(), ModelSpec(hidden=(8,)), TrainSpec(epochs=5)))
    with np.errstate(all="ignore"), pytest.raises(DivergedError) as error:
        train_and_evaluate("numpy", run, [BlowUp()], out=tmp_path)
    folder = run_folder(tmp_path)
    assert "at epoch 3, step 1 of 39" in str(error.value)
    assert f"the last good checkpoint is {folder / 'checkpoint.npz'}" in str(error.value)
    checkpoint = load_checkpoint(folder / "checkpoint.npz")
    assert checkpoint.epoch == 2 and len(checkpoint.history) == 2
    assert all(np.isfinite(a).all() for pair in checkpoint.params for a in pair)
    assert not (folder / "metrics.json").exists()  # no report with NaN in it


def test_a_run_that_diverges_in_its_first_epoch_leaves_nothing(tmp_path, capsys):
    code = train(["--optimizer", "sgd", "--lr", "1e6", "--epochs", "3", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "RuntimeWarning" not in err
    assert "numpy: the training loss became nan at epoch 1" in err
    assert list(tmp_path.iterdir()) == []


def test_reports_are_valid_json_whatever_the_numbers():
    import json

    from mlp_tiers.report import finite_json

    text = json.dumps(finite_json({"a": float("nan"), "b": [1.0, float("inf")], "c": "x"}))
    assert json.loads(text) == {"a": None, "b": [1.0, None], "c": "x"}
