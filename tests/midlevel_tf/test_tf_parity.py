"""Lockstep parity of both TensorFlow flavours with the NumPy tier (docs/numerics.md).

Same spec, same initial weights, same batch: one step of ``tf-nn`` or ``tf-layers`` must give the
NumPy tier's parameters to the tolerances of ``mlp_tiers.parity``.
"""

import itertools

import numpy as np
import pytest

from tests.helpers import ACTIVATIONS, EXACT, HEADS, OPTIMIZERS, require_framework, steps

require_framework("tensorflow", "tf")

from mlp_tiers.parity import QUIRKS, assert_params_close, lockstep, param_errors, tolerance
from mlp_tiers.registry import get_tier
from shared.init import init_params
from shared.spec import ModelSpec, TrainSpec

FLAVOURS = ["tf-nn", "tf-layers"]


def one_step(name, model, train, **options):
    (loss,), params = steps(name, model, train, **options)
    return loss, params


def two_steps(name, model, train):
    return steps(name, model, train, n=2)


@pytest.mark.slow  # the whole grid; the fast loop keeps the cases below
@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize(("output", "loss"), HEADS)
def test_one_step_matches_numpy_in_float64(flavour, optimizer, activation, output, loss):
    model = ModelSpec(5, 3, (8, 6), activation, output, loss)
    train = TrainSpec(optimizer=optimizer, dtype="float64", **EXACT)
    loss_np, expected = one_step("numpy", model, train)
    loss_tf, actual = one_step(flavour, model, train)
    assert {a.dtype for pair in actual for a in pair} == {np.dtype("float64")}
    np.testing.assert_allclose(loss_tf, loss_np, rtol=tolerance("forward", "float64").rtol)
    assert_params_close(actual, expected, tolerance("step", "float64"), flavour)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("mode", ["function", "eager", "jit"])
@pytest.mark.parametrize(
    "extra",
    [dict(l2=0.0625), dict(hidden=()), dict(hidden=(7,), l2=0.03125)],
    ids=["l2", "no-hidden", "one-hidden-l2"],
)
def test_modes_l2_and_shapes_match_numpy_in_float64(flavour, mode, extra):
    model = ModelSpec(5, 3, extra.get("hidden", (8, 6)), "tanh")
    train = TrainSpec(optimizer="adam", dtype="float64", l2=extra.get("l2", 0.0), **EXACT)
    _, expected = one_step("numpy", model, train)
    _, actual = one_step(flavour, model, train, mode=mode)
    assert_params_close(actual, expected, tolerance("step", "float64"), f"{flavour} ({mode})")


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_default_hyper_parameters(optimizer):
    """tf-nn makes float64 constants straight from the Python floats: exact. tf-layers uses
    Keras's optimizers, which cast momentum and Adam's betas through float32 on TensorFlow:
    within that quirk's row, and measurably off the exact one (two steps, so that momentum
    acts)."""
    model = ModelSpec(5, 3, (8, 6), "relu")
    train = TrainSpec(optimizer=optimizer, dtype="float64")  # lr 0.01/0.001, momentum 0.9, ...
    _, expected = two_steps("numpy", model, train)
    _, nn = two_steps("tf-nn", model, train)
    assert_params_close(nn, expected, tolerance("step", "float64"), "tf-nn")
    _, layers = two_steps("tf-layers", model, train)
    if optimizer in ("sgd", "rmsprop"):  # no cast through float32 in these rules
        assert_params_close(layers, expected, tolerance("step", "float64"), "tf-layers")
    else:
        quirk = QUIRKS["keras-tf-hyperparameter-cast"]
        assert_params_close(layers, expected, quirk, "tf-layers")
        worst = max(param_errors(layers, expected).values())
        assert worst > 1e-9, "Keras no longer casts through float32: update mlp_tiers.parity"


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("optimizer", ["momentum", "adam", "rmsprop"])
def test_one_step_matches_numpy_in_float32(flavour, optimizer):
    model = ModelSpec(5, 3, (8, 6), "relu")
    train = TrainSpec(optimizer=optimizer, dtype="float32", **EXACT)
    _, expected = one_step("numpy", model, train)
    _, actual = one_step(flavour, model, train)
    assert_params_close(actual, expected, tolerance("step", "float32"), flavour)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lockstep_over_an_epoch_of_batches(blob_data, dtype):
    """Ten steps through mlp_tiers.parity.lockstep, the last a partial batch."""
    model = ModelSpec(5, 3, (8, 6), "relu")
    train = TrainSpec(optimizer="nesterov", dtype=dtype, **EXACT)
    params = init_params(model, 0, dtype)
    tiers = {name: get_tier(name)(model, train, params) for name in ["numpy", *FLAVOURS]}
    data = blob_data.astype(dtype)
    sizes = [8] * 9 + [3]
    starts = list(itertools.accumulate([0, *sizes]))
    batches = [(data.x_train[a:b], data.y_train[a:b]) for a, b in itertools.pairwise(starts)]
    reports = lockstep(tiers, batches, reference="numpy")
    limit = tolerance("epoch", dtype)
    for report in reports:
        for name in FLAVOURS:
            assert report.errors[name] <= limit.rtol + limit.atol, (report.step, name, report)
            assert report.losses[name] == pytest.approx(report.losses["numpy"], rel=1e-5)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_fit_for_one_epoch_matches_numpy(flavour, blob_data):
    model = ModelSpec(5, 3, (8, 6), "sigmoid")
    train = TrainSpec(optimizer="rmsprop", dtype="float64", batch_size=7, epochs=1, **EXACT)
    params = init_params(model, 0, "float64")
    reference = get_tier("numpy")(model, train, params)
    tier = get_tier(flavour)(model, train, params)
    reference.fit(blob_data)
    tier.fit(blob_data)
    assert_params_close(tier.get_params(), reference.get_params(), tolerance("epoch", "float64"))
    assert tier.history.last["loss"] == pytest.approx(reference.history.last["loss"], rel=1e-12)
    # The same samples classified right at every step: the same training accuracy, exactly.
    assert tier.history.last["accuracy"] == reference.history.last["accuracy"]
