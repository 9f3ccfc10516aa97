"""Start-up: `--help` is immediate, and Ctrl-C at any moment of start-up or training ends
quietly (one line, exit status 130), never with a traceback."""

import os
import signal
import subprocess
import sys
import time

import pytest

SCRIPTS = ["lowlevel_numpy.train", "midlevel_tf.train", "highlevel_keras.train"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_lists_the_flags(script):
    result = subprocess.run(
        [sys.executable, "-m", script, "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "--epochs" in result.stdout and "--resume" in result.stdout and result.stderr == ""


def seconds_to_reach_the_guard() -> float:
    """How long this machine, as loaded now, takes to start Python and import the CLI: before
    that, no Python code of ours runs that could catch Ctrl-C."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import mlp_tiers.cli"], check=True, timeout=60)
    return time.perf_counter() - start


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.05, 0.15, 0.6])
def test_ctrl_c_during_start_up_or_training_is_one_quiet_line(delay, tmp_path):
    delay += seconds_to_reach_the_guard()
    process = subprocess.Popen(
        [sys.executable, "-m", "lowlevel_numpy.train", "--epochs", "1000", "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # faulthandler: a process that does not stop is made to print its stacks (SIGABRT)
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1"},
    )
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        _, err = process.communicate(timeout=60)
        pytest.fail(f"still running 60 s after Ctrl-C at {delay:.3f} s; it was at:\n{err}")
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith("python -m lowlevel_numpy.train: interrupted by Ctrl-C")
