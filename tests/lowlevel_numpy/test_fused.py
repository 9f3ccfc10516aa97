"""The GPU path of the NumPy tier: the fused optimizer kernels and the grouped read-back.

The kernels' CUDA bodies are checked on the CPU too, run by NumPy statement by statement: that
catches a wrong formula, operand order or argument order before any GPU sees it. On a GPU the
compiled kernels are held to the plain optimizers bit for bit.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from lowlevel_numpy import fused
from lowlevel_numpy.optimizers import OPTIMIZERS
from lowlevel_numpy.tier import NumpyTier
from shared.batching import n_batches
from shared.callbacks import Callback
from shared.errors import DivergedError
from shared.init import init_params
from shared.spec import ModelSpec, TrainSpec
from tests.helpers import gpu_available

OPTIMIZER_NAMES = sorted(OPTIMIZERS)


def numpy_kernel(name: str):
    """Kernel ``name`` as NumPy runs it: its CUDA body, one statement at a time, on the arrays
    passed in the order the kernel declares them (inputs, then the outputs it updates)."""
    inputs, outputs, body = fused.KERNELS[name]
    names = [param.split()[1] for param in f"{inputs}, {outputs}".split(", ")]
    updated = names[len(inputs.split(", ")) :]

    def run(*args):
        assert len(args) == len(names), (name, len(args), names)
        scope = dict(zip(names, args, strict=True), sqrt=np.sqrt)
        for statement in filter(str.strip, body.split(";")):
            exec(statement.strip(), {}, scope)  # in place on the arrays: w -= ..., v *= ...
        for out in updated:
            assert scope[out] is args[names.index(out)], f"{name}: {out} was not updated in place"

    return run


def test_the_fused_set_matches_the_plain_one():
    assert sorted(fused.FUSED) == OPTIMIZER_NAMES
    for name, cls in fused.FUSED.items():
        assert issubclass(cls, OPTIMIZERS[name]), name  # the same slots, scalars and state


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", OPTIMIZER_NAMES)
def test_each_kernel_body_is_its_optimizer_s_formula_bit_for_bit(monkeypatch, optimizer, dtype):
    monkeypatch.setattr(fused, "kernel", numpy_kernel)
    rng = np.random.default_rng(3)
    shapes = [(5, 4), (4,), (4, 3), (3,)]
    start = [rng.normal(size=shape).astype(dtype) for shape in shapes]
    spec = TrainSpec(optimizer=optimizer, lr=0.05, dtype=dtype)
    runs = []
    for use_kernels in (False, True):
        params = [p.copy() for p in start]
        opt = (fused.FUSED if use_kernels else OPTIMIZERS)[optimizer](params, spec)
        for step in range(4):
            grads = [np.random.default_rng(step).normal(size=p.shape).astype(dtype) for p in params]
            opt.apply_update(params, grads)
        runs.append((params, opt.state))
    (plain, plain_state), (kernels, kernel_state) = runs
    for a, b in zip(plain, kernels, strict=True):
        assert a.dtype == b.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(a, b)
    for slot in plain_state:
        for a, b in zip(plain_state[slot], kernel_state[slot], strict=True):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(plain[0], start[0])  # the updates did something


@pytest.mark.parametrize("optimizer", OPTIMIZER_NAMES)
def test_on_the_cpu_the_tier_updates_with_the_plain_optimizers(optimizer):
    model = ModelSpec(n_inputs=3, n_outputs=2, hidden=(4,))
    tier = NumpyTier(model, TrainSpec(optimizer=optimizer), init_params(model, 0, "float32"))
    assert type(tier.optimizer) is OPTIMIZERS[optimizer]


class Heard(Callback):
    def __init__(self):
        self.batches: list[tuple[int, float]] = []

    def on_batch_end(self, tier, batch, loss):
        self.batches.append((batch, loss))


def fitted(read_every: int, data, train: TrainSpec):
    model = ModelSpec(n_inputs=5, n_outputs=3, hidden=(8,))
    tier = NumpyTier(model, train, init_params(model, 0, train.dtype))
    tier.read_every = read_every
    heard = Heard()
    tier.fit(data.astype(train.dtype), callbacks=[heard])
    return tier, heard


@pytest.mark.parametrize("read_every", [2, 7, 32])
def test_reading_steps_back_in_groups_changes_nothing(blob_data, read_every):
    train = TrainSpec(optimizer="adam", lr=0.01, batch_size=10, epochs=2, dtype="float32")
    steps = n_batches(len(blob_data.y_train), 10)
    assert steps % 7 and steps < 32  # groups cut short by the epoch's end
    one, heard_one = fitted(1, blob_data, train)
    grouped, heard_grouped = fitted(read_every, blob_data, train)
    assert [batch for batch, _ in heard_grouped.batches] == list(range(steps)) * 2
    assert heard_grouped.batches == heard_one.batches
    for a, b in zip(one.history.records, grouped.history.records, strict=True):
        assert {k: v for k, v in a.items() if k != "seconds"} == {
            k: v for k, v in b.items() if k != "seconds"
        }
    for (Wa, ba), (Wb, bb) in zip(one.get_params(), grouped.get_params(), strict=True):
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)


def test_a_grouped_read_back_names_the_step_that_diverged(blob_data):
    train = TrainSpec(optimizer="sgd", lr=1e6, batch_size=10, epochs=1, dtype="float32")
    messages = []
    for read_every in (
        1,
        32,
    ):  # 32: the steps after the first non-finite loss run before it is read
        with np.errstate(all="ignore"), pytest.raises(DivergedError) as raised:
            fitted(read_every, blob_data, train)
        messages.append(str(raised.value))
    assert re.match(r"numpy: the training loss became nan at epoch 1, step \d+ of", messages[0])
    assert messages[1] == messages[0]


needs_gpu = pytest.mark.skipif(not gpu_available(), reason="needs CuPy and a CUDA GPU")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", OPTIMIZER_NAMES)
@pytest.mark.gpu
@needs_gpu
def test_on_a_gpu_the_kernels_match_the_plain_updates_bit_for_bit(optimizer, dtype):
    import cupy

    rng = np.random.default_rng(5)
    shapes = [(784, 256), (256,), (256, 10), (10,)]
    start = [rng.normal(size=shape).astype(dtype) for shape in shapes]
    spec = TrainSpec(optimizer=optimizer, lr=0.01, dtype=dtype)
    runs = []
    for use_kernels in (False, True):
        params = [cupy.asarray(p) for p in start]
        opt = (fused.FUSED if use_kernels else OPTIMIZERS)[optimizer](params, spec)
        for step in range(5):
            grads = [
                cupy.asarray(np.random.default_rng(step).normal(size=p.shape).astype(dtype))
                for p in params
            ]
            opt.apply_update(params, grads)
        runs.append([p.get() for p in params] + [a.get() for s in opt.state.values() for a in s])
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.gpu
@needs_gpu
def test_on_a_gpu_the_fast_loop_trains_as_the_plain_one(blob_data, optimizer):
    """Fused kernels and 32 steps a read on the GPU give the weights of plain updates read step
    by step, bit for bit."""
    model = ModelSpec(n_inputs=5, n_outputs=3, hidden=(16, 8))
    train = TrainSpec(optimizer=optimizer, batch_size=8, epochs=2, dtype="float32", device="gpu")
    params = init_params(model, 0, "float32")
    fast, plain = NumpyTier(model, train, params), NumpyTier(model, train, params)
    assert fast.read_every == 32 and isinstance(fast.optimizer, fused.FUSED[optimizer])
    plain.read_every = 1
    plain.optimizer = OPTIMIZERS[optimizer](plain.model.parameters, train)
    data = blob_data.astype("float32")
    fast.fit(data)
    plain.fit(data)
    for (Wa, ba), (Wb, bb) in zip(fast.get_params(), plain.get_params(), strict=True):
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)
    assert [r["loss"] for r in fast.history.records] == [r["loss"] for r in plain.history.records]
