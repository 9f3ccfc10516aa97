"""SIGINT and SIGTERM at random moments of real runs, saves included: one line, exit 130 or 143,
no temporary file, and a resume from the checkpoint ends with the weights of a run that never
stopped, bit for bit (every tier here: its CPU runs are deterministic).

Keras on JAX is among them on purpose: its log conversion swallows a KeyboardInterrupt with a
bare except, and the tier's callback raises the signal again at the next step. Keras on PyTorch
runs where PyTorch is installed.
"""

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from mlp_tiers.registry import TIERS as REGISTRY
from mlp_tiers.registry import available_tiers

pytestmark = pytest.mark.slow  # real processes, interrupted and resumed

FLAGS = ["--epochs", "40", "--hidden", "32", "--dropout", "0.1", "--patience", "50", "--quiet"]


def command(tier, out, *extra):
    return [sys.executable, "-m", "mlp_tiers.cli", "train", "--tier", tier, *FLAGS, "--out", str(out),
            *extra]  # fmt: skip


def params(folder):
    with np.load(folder / "params.npz") as npz:
        return {key: npz[key] for key in npz.files}


def only_folder(root):
    (folder,) = [path for path in root.iterdir() if path.is_dir()]
    return folder


ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}


TIERS = [
    pytest.param(tier, marks=pytest.mark.skipif(
        tier not in available_tiers(),
        reason=f"{tier} needs {', '.join(REGISTRY[tier].requires)}, not all installed"))
    for tier in ("numpy", "tf-nn", "keras", "keras-jax", "keras-torch")
]  # fmt: skip


def interrupted_and_resumed(tier, number, out, rng):
    """The weights of a run stopped by signal ``number`` at a random moment and resumed from its
    checkpoint; None when the run finished before the signal came."""
    process = subprocess.Popen(command(tier, out), env=ENV, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    # Wait for the first checkpoint, then strike at a random moment: often inside a step,
    # sometimes while a checkpoint is being written.
    deadline = time.monotonic() + 300
    while not list(out.glob("*/checkpoint.npz")) and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.3))
    process.send_signal(number)
    err = process.communicate(timeout=300)[1]
    if process.returncode == 0:
        return None  # finished before the signal came
    assert process.returncode == 128 + number, err
    (line,) = err.strip().splitlines()
    assert "interrupted by" in line and "continue with --resume" in line, line
    folder = only_folder(out)
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []
    resumed = subprocess.run(
        [sys.executable, "-m", "mlp_tiers.cli", "train", "--tier", tier, "--resume",
         str(folder / "checkpoint.npz"), "--epochs", "40", "--quiet", "--out", str(out / "resumed")],
        env=ENV, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    return params(only_folder(out / "resumed"))


@pytest.mark.parametrize("tier", TIERS)
def test_interrupted_at_random_moments_and_resumed_ends_bit_identical(tier, tmp_path):
    """A run straight through, and runs stopped by SIGINT and by SIGTERM at random moments and
    resumed (a second try for a signal that came after the run had finished): the same weights,
    bit for bit. The straight run is shared by both signals."""
    straight = subprocess.run(command(tier, tmp_path / "straight"), env=ENV, capture_output=True,
                              text=True, timeout=600)  # fmt: skip
    assert straight.returncode == 0, straight.stderr
    expected = params(only_folder(tmp_path / "straight"))

    rng = random.Random(tier)
    for number in (signal.SIGINT, signal.SIGTERM):
        for trial in range(2):
            got = interrupted_and_resumed(tier, number, tmp_path / f"{number.name}-{trial}", rng)
            if got is not None:
                break
        assert got is not None, f"both runs finished before {number.name}: lengthen them"
        assert got.keys() == expected.keys()
        for key in expected:
            np.testing.assert_array_equal(got[key], expected[key], err_msg=f"{number.name} {key}")
