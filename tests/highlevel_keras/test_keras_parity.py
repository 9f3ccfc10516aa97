"""Lockstep parity of the Keras tier with the NumPy tier, on this process's Keras backend.

One training step through ``train_on_batch`` and one epoch through ``model.fit`` must give the
NumPy tier's parameters to the tolerances of ``mlp_tiers.parity``, or, where a documented quirk of
Keras applies (``mlp_tiers.parity.QUIRKS``), to that quirk's own row, and measurably off the exact
one, so that the quirk's row is known to be needed.
"""

import numpy as np
import pytest

from mlp_tiers.parity import (
    QUIRKS,
    assert_params_close,
    demoted,
    expected_tolerance,
    param_errors,
    tolerance,
)
from mlp_tiers.registry import get_tier
from shared.init import init_params
from shared.spec import ModelSpec, TrainSpec
from tests.helpers import ACTIVATIONS, EXACT, HEADS, OPTIMIZERS, steps


@pytest.mark.slow  # the whole grid; the fast loop keeps the cases below
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize(("output", "loss"), HEADS)
def test_one_step_matches_numpy_in_float64(keras_tier, optimizer, activation, output, loss):
    model = ModelSpec(5, 3, (8, 6), activation, output, loss)
    train = TrainSpec(optimizer=optimizer, dtype="float64", **EXACT)
    (loss_np,), expected = steps("numpy", model, train)
    (loss_keras,), actual = steps(keras_tier, model, train, jit_compile=False)
    assert {a.dtype for pair in actual for a in pair} == {np.dtype("float64")}
    tol = expected_tolerance(keras_tier, "step", "float64", activation, loss)
    assert_params_close(actual, expected, tol, keras_tier)
    forward = expected_tolerance(keras_tier, "forward", "float64", activation, loss)
    np.testing.assert_allclose(loss_keras, loss_np, rtol=forward.rtol, atol=forward.atol)
    if demoted(keras_tier, activation, loss):
        worst = max(param_errors(actual, expected).values())
        assert worst > 1e-12, "Keras no longer demotes float64 here: update mlp_tiers.parity"


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_default_hyper_parameters(keras_tier, backend, optimizer):
    """Two steps with Keras's defaults (lr 0.01 or 0.001, momentum 0.9, betas 0.9 and 0.999)."""
    model = ModelSpec(5, 3, (8, 6), "relu")
    train = TrainSpec(optimizer=optimizer, dtype="float64")
    _, expected = steps("numpy", model, train, n=2)
    _, actual = steps(keras_tier, model, train, n=2, jit_compile=False)
    cast = backend == "tensorflow" and optimizer in ("momentum", "nesterov", "adam")
    if cast:
        assert_params_close(actual, expected, QUIRKS["keras-tf-hyperparameter-cast"], keras_tier)
        assert max(param_errors(actual, expected).values()) > 1e-9
    else:
        tol = expected_tolerance(keras_tier, "step", "float64")
        assert_params_close(actual, expected, tol, keras_tier)


@pytest.mark.parametrize("extra", [dict(l2=0.0625), dict(hidden=())], ids=["l2", "no-hidden"])
def test_l2_and_no_hidden_layer_match_numpy(keras_tier, extra):
    model = ModelSpec(5, 3, extra.get("hidden", (8, 6)), "relu")
    train = TrainSpec(optimizer="adam", dtype="float64", l2=extra.get("l2", 0.0), **EXACT)
    _, expected = steps("numpy", model, train, n=2)
    _, actual = steps(keras_tier, model, train, n=2, jit_compile=False)
    assert_params_close(actual, expected, expected_tolerance(keras_tier, "step", "float64"))


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize(
    ("optimizer", "activation", "loss"),
    [("rmsprop", "sigmoid", "cross_entropy"), ("nesterov", "relu", "cross_entropy"),
     ("adam", "tanh", "cross_entropy"), ("sgd", "relu", "mse")],
)  # fmt: skip
@pytest.mark.slow
def test_fit_matches_numpy_epoch_by_epoch(
    keras_tier, blob_data, optimizer, activation, loss, jit_compile
):
    """``model.fit`` over the shared batches (batch 7: a partial last batch) for two epochs."""
    output = "identity" if loss == "mse" else "softmax"
    model = ModelSpec(5, 3, (8, 6), activation, output, loss)
    train = TrainSpec(optimizer=optimizer, dtype="float64", batch_size=7, epochs=2, **EXACT)
    params = init_params(model, 0, "float64")
    reference = get_tier("numpy")(model, train, params)
    tier = get_tier(keras_tier)(model, train, params, jit_compile=jit_compile)
    assert len(blob_data.y_train) % 7 != 0
    reference.fit(blob_data)
    tier.fit(blob_data)
    tol = expected_tolerance(keras_tier, "epoch", "float64", activation, loss)
    assert_params_close(tier.get_params(), reference.get_params(), tol, f"{keras_tier} fit")
    for ours, theirs in zip(tier.history.records, reference.history.records, strict=True):
        assert ours["loss"] == pytest.approx(theirs["loss"], rel=max(tol.rtol, 1e-10), abs=tol.atol)
        assert ours["val_loss"] == pytest.approx(
            theirs["val_loss"], rel=max(tol.rtol, 1e-10), abs=tol.atol
        )
        # Keras's accuracy metric is a float32 mean on some backends: same count, rounded.
        assert ours["val_accuracy"] == pytest.approx(theirs["val_accuracy"], rel=1e-7)
        assert ours["accuracy"] == pytest.approx(theirs["accuracy"], rel=1e-7)


def test_float32_step_matches_numpy(keras_tier):
    model = ModelSpec(5, 3, (8, 6), "relu")
    train = TrainSpec(optimizer="adam", dtype="float32", **EXACT)
    _, expected = steps("numpy", model, train)
    _, actual = steps(keras_tier, model, train, jit_compile=False)
    assert {a.dtype for pair in actual for a in pair} == {np.dtype("float32")}
    assert_params_close(actual, expected, tolerance("step", "float32"), keras_tier)
