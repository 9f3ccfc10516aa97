"""The thread policy: what --threads accepts, what auto chooses, and that the choice reaches
every framework's pool."""

import subprocess
import sys
import time

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from mlp_tiers import threads
from shared.errors import SpecError
from shared.resources import requested_threads


@pytest.mark.parametrize("text", ["0", "-1", "two", "1.5", "", "auto2"])
def test_threads_must_be_a_whole_number_or_auto(text):
    with pytest.raises(SpecError, match="--threads must be a whole number >= 1 or 'auto'"):
        threads.parse_threads(text)


def test_threads_parse():
    assert threads.parse_threads("auto") is None
    assert threads.parse_threads(" 3 ") == 3


def test_step_flops_counts_the_products_of_a_step():
    # 784-256-128-10, batch 128: forward and weight gradient of 3 layers, input gradient of 2.
    products = 784 * 256 + 256 * 128 + 128 * 10
    expected = 2 * 128 * (3 * products - 784 * 256)
    assert threads.step_flops([784, 256, 128, 10], 128) == expected


def test_a_step_too_small_to_share_gets_one_thread():
    assert threads.auto_threads([64, 16, 10], 32) == 1


def test_auto_never_asks_for_more_threads_than_there_are_cores():
    assert 1 <= threads.auto_threads([784, 2048, 2048, 10], 512) <= threads.usable_cores()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/loadavg (Linux)")
def test_busy_cores_sees_a_process_that_just_started_spinning():
    # The spinner says when its loop starts: before that it may be waiting on the disk for its
    # own start-up (a loaded machine), which the kernel rightly does not count as running.
    spinner = subprocess.Popen(
        [sys.executable, "-c", "print('spinning', flush=True)\nwhile True: pass"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert spinner.stdout is not None and spinner.stdout.readline() == "spinning\n"
        deadline = time.monotonic() + 5.0  # a few readings, in case the machine is swamped
        seen = threads.busy_cores(samples=7, interval=0.02)
        while seen < 1 and time.monotonic() < deadline:
            seen = threads.busy_cores(samples=7, interval=0.02)
        assert seen >= 1
    finally:
        spinner.kill()
        spinner.wait()


def test_one_thread_reaches_blas_openmp_tensorflow_and_xla():
    env = threads.environment(1)
    assert env["OPENBLAS_NUM_THREADS"] == env["OMP_NUM_THREADS"] == "1"
    assert env["TF_NUM_INTRAOP_THREADS"] == env["TF_NUM_INTEROP_THREADS"] == "1"
    assert "--xla_cpu_multi_thread_eigen=false" in env["XLA_FLAGS"]
    assert "XLA_FLAGS" not in threads.environment(2)  # XLA: one thread, or every core


def test_limit_sets_the_blas_already_loaded(monkeypatch):
    for name in threads.environment(1):
        monkeypatch.delenv(name, raising=False)
    with threadpool_limits():  # restores the pools afterwards
        threads.limit(1)
        assert all(info["num_threads"] == 1 for info in threadpool_info())
        assert requested_threads() == 1
