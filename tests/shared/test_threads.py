"""The thread policy a tier's ``fit`` runs under when it is used from Python (no command line)."""

import time

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from shared import threads
from shared.callbacks import Callback
from shared.resources import THREADS_VARIABLE

CORES = threads.usable_cores()
needs_two_cores = pytest.mark.skipif(
    CORES < 2, reason="one usable core: there is no second BLAS thread to take away"
)


def blas_threads() -> list[int]:
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


class SeenThreads(Callback):
    """Records the BLAS pools' thread counts while the loop runs."""

    def on_train_begin(self, tier, first_epoch, epochs, steps_per_epoch):
        self.seen = blas_threads()


@pytest.fixture
def no_choice_made(monkeypatch):
    """A Python session where nothing chose a thread count: no variable, pools at one per core
    (as the libraries start), given back as they were afterwards."""
    for name in (*threads.BLAS_VARIABLES, THREADS_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    with threadpool_limits(limits=CORES):
        yield


def numpy_tier(hidden, batch_size):
    from mlp_tiers.runner import build_tier, prepare_run
    from shared.spec import DataSpec, ModelSpec, RunConfig, TrainSpec

    config = RunConfig(DataSpec(name="digits"), ModelSpec(hidden=hidden),
                       TrainSpec(batch_size=batch_size, epochs=1))  # fmt: skip
    run = prepare_run(config)
    return build_tier("numpy", run), run


def fit_and_see(tier, run) -> list[int]:
    seen = SeenThreads()
    tier.fit(run.data, callbacks=[seen])
    return seen.seen


@needs_two_cores
def test_a_small_step_fits_on_one_thread_and_the_pools_get_their_count_back(no_choice_made):
    tier, run = numpy_tier((16,), 32)  # far under PAYOFF_FLOPS
    assert threads.step_flops(run.model.layer_sizes, 32) < threads.PAYOFF_FLOPS
    assert set(fit_and_see(tier, run)) == {1}
    assert set(blas_threads()) == {CORES}


@needs_two_cores
def test_on_a_busy_machine_a_tier_built_from_python_takes_one_thread(no_choice_made):
    from mlp_tiers.threads import LoadGenerator

    tier, run = numpy_tier((512, 512), 128)  # worth several threads on an idle machine
    assert threads.step_flops(run.model.layer_sizes, 128) > 10 * threads.PAYOFF_FLOPS
    with LoadGenerator(CORES):  # one spinning process per core
        time.sleep(0.5)
        seen = fit_and_see(tier, run)
    assert set(seen) == {1}
    assert set(blas_threads()) == {CORES}


@needs_two_cores
@pytest.mark.parametrize("variable", ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", THREADS_VARIABLE])
def test_a_count_chosen_in_the_environment_is_left_alone(no_choice_made, monkeypatch, variable):
    monkeypatch.setenv(variable, str(CORES))
    tier, run = numpy_tier((16,), 32)  # the policy alone would take one thread
    assert set(fit_and_see(tier, run)) == {CORES}


@needs_two_cores
def test_a_users_own_threadpoolctl_limit_is_left_alone(no_choice_made):
    assert not threads.chosen_elsewhere()
    with threadpool_limits(limits=1):
        assert threads.chosen_elsewhere()
        with threads.policy_threads((64, 512, 512, 10), 128) as applied:
            assert applied is None
            assert set(blas_threads()) == {1}


@needs_two_cores
def test_the_pools_get_their_count_back_when_fit_fails(no_choice_made):
    tier, run = numpy_tier((16,), 32)

    class Fails(Callback):
        def on_batch_end(self, tier, batch, loss):
            raise RuntimeError("stopped by the test")

    with pytest.raises(RuntimeError, match="stopped by the test"):
        tier.fit(run.data, callbacks=[Fails()])
    assert set(blas_threads()) == {CORES}


def test_step_flops_counts_three_products_a_layer_less_the_first_input_gradient():
    # 64-16-10 at batch 2: forward 64*16 + 16*10, weight gradients the same, one input gradient
    # (16*10): 2 flops per multiply-add.
    assert threads.step_flops((64, 16, 10), 2) == 2 * 2 * (2 * (64 * 16 + 16 * 10) + 16 * 10)
