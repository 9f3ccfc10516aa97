"""The thread policy: what --threads accepts, what auto chooses, and that the choice reaches
every framework's pool."""

import os
import subprocess
import sys
import time

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from mlp_tiers import threads
from shared.errors import SpecError
from shared.resources import requested_threads
from tests.helpers import process_running


@pytest.mark.parametrize("text", ["0", "-1", "two", "1.5", "", "auto2", "1000000"])
def test_threads_must_be_a_whole_number_up_to_the_cores_or_auto(text, monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    with pytest.raises(SpecError, match=r"--threads must be a whole number from 1 to 4 \(the "
                       r"cores this process may use here\) or 'auto'; got "):  # fmt: skip
        threads.parse_threads(text)


def test_threads_parse(monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    assert threads.parse_threads("auto") is None
    assert threads.parse_threads(" 3 ") == 3
    assert threads.parse_threads(4) == 4


@pytest.mark.parametrize("counts", ["1,5", "9"])
def test_counts_beyond_the_cores_are_refused(counts, monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    with pytest.raises(SpecError, match="--counts must list whole numbers from 1 to 4"):
        threads.parse_counts(counts)


@pytest.mark.parametrize("busy", [-1, 5, 10**6])
def test_busy_is_bounded_by_the_cores(busy, monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    with pytest.raises(SpecError, match=r"--busy must be a whole number from 0 to 4 \(one "
                       "CPU-bound process per core"):  # fmt: skip
        threads.LoadGenerator(busy)


def test_a_load_generator_that_fails_to_start_stops_the_processes_it_started(monkeypatch):
    import subprocess as sp

    started = []
    real = sp.Popen

    def popen(*args, **kwargs):
        if len(started) == 1:
            raise OSError(11, "Resource temporarily unavailable")
        started.append(real(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    monkeypatch.setattr(sp, "Popen", popen)
    with pytest.raises(OSError, match="Resource temporarily unavailable"):
        threads.LoadGenerator(2)
    assert len(started) == 1 and started[0].poll() is not None


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc to see the load processes")
def test_a_load_process_ends_by_itself_when_its_parent_is_killed_outright():
    """SIGKILL reaches no handler: the spinning child notices its parent is gone."""
    code = ("import time; from mlp_tiers import threads; load = threads.LoadGenerator(1); "
            "print(load.processes[0].pid, flush=True); time.sleep(60)")  # fmt: skip
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert process_running(child)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while process_running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process_running(child)


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


def test_xla_reads_every_flag_after_the_one_thread_flags(monkeypatch):
    """XLA stops at a word that is not a flag: a flag after the thread setting must still work."""
    pytest.importorskip("jax", reason="JAX is not installed (the [jax] extra)")
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    flags = f"{threads.environment(1)['XLA_FLAGS']} --xla_force_host_platform_device_count=3"
    done = subprocess.run(
        [sys.executable, "-c", "import jax; print(len(jax.devices('cpu')))"],
        env={**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "3"


def test_limit_sets_the_blas_already_loaded(monkeypatch):
    for name in threads.environment(1):
        monkeypatch.delenv(name, raising=False)
    with threadpool_limits():  # restores the pools afterwards
        threads.limit(1)
        assert all(info["num_threads"] == 1 for info in threadpool_info())
        assert requested_threads() == 1
