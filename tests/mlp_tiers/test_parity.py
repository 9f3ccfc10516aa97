"""Parity of every installed tier with the NumPy tier where Keras rounds hyper-parameters, level
by level, and over random specs (hypothesis). Runs once per tier of this process's Keras backend.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlp_tiers.parity import (
    QUIRKS,
    assert_params_close,
    cast_fields,
    compare_levels,
    demoted,
    expected_tolerance,
    param_errors,
    tolerance,
    trace,
)
from mlp_tiers.registry import available_tiers
from shared.init import init_params
from shared.spec import ModelSpec, TrainSpec
from tests.helpers import EXACT, HEADS, OPTIMIZERS, parity_batch, skip_if_other_keras_backend, steps

OTHERS = [name for name in available_tiers() if name != "numpy"] or [
    pytest.param(None, marks=pytest.mark.skip(reason="only the NumPy tier is installed: no other "
                                              "tier to compare with it"))
]  # fmt: skip


@pytest.fixture(params=OTHERS)
def tier_name(request):
    skip_if_other_keras_backend(request.param)
    return request.param


# One hyper-parameter at a time set to a value float32 cannot represent, the others exact.
INEXACT = [
    ("lr", 0.01, "sgd"), ("lr", 0.001, "adam"), ("momentum", 0.9, "momentum"),
    ("momentum", 0.9, "nesterov"), ("beta1", 0.9, "adam"), ("beta2", 0.999, "adam"),
    ("eps", 1e-7, "adam"), ("eps", 1e-7, "rmsprop"), ("rho", 0.9, "rmsprop"),
    ("l2", 1e-3, "sgd"), ("l2", 1e-3, "momentum"), ("l2", 1e-3, "adam"), ("l2", 1e-3, "rmsprop"),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value", "optimizer"), INEXACT)
def test_each_hyper_parameter_is_rounded_exactly_where_the_table_says(
    tier_name, field, value, optimizer
):
    """Measured, one field at a time: a field the table lists as cast moves the parameters
    measurably (so its row is needed) and within the cast row (so it suffices); any other field
    leaves the tier exact to rounding."""
    model = ModelSpec(5, 3, (8, 6), "relu")
    train = TrainSpec(
        optimizer=optimizer, dtype="float64", **{**EXACT, "l2": 2.0**-10, field: value}
    )
    _, expected = steps("numpy", model, train, n=2)
    _, actual = steps(tier_name, model, train, n=2)
    worst = max(param_errors(actual, expected).values())
    cast = field in cast_fields(tier_name, train)
    if demoted(tier_name, "relu", "cross_entropy"):  # float32 throughout: nothing to resolve
        assert not cast
        assert_params_close(actual, expected, expected_tolerance(tier_name, "step", "float64"))
    elif cast:
        assert worst > 1e-12, f"{tier_name} no longer rounds {field}: update mlp_tiers.parity"
        assert_params_close(actual, expected, QUIRKS["keras-tf-hyperparameter-cast"], tier_name)
    else:
        assert_params_close(actual, expected, tolerance("step", "float64"), tier_name)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize(("output", "loss"), HEADS)
def test_an_l2_factor_float32_cannot_represent_stays_within_its_row(
    tier_name, optimizer, output, loss
):
    """``l2 = 1e-3``, not float32-exact: every level within the row ``expected_tolerance``
    picks for this run, so a cast the table does not know of fails here."""
    model = ModelSpec(5, 3, (8, 6), "sigmoid", output, loss)
    train = TrainSpec(optimizer=optimizer, dtype="float64", **{**EXACT, "lr": 0.01, "l2": 1e-3})
    params = init_params(model, 0, "float64")
    batches = [parity_batch("float64", seed=seed) for seed in range(3)]
    reference = trace("numpy", model, train, params, batches, {})
    levels = compare_levels(
        trace(tier_name, model, train, params, batches, {}), reference, model, train
    )
    assert {level: result.within for level, result in levels.items()} == dict.fromkeys(levels, True)
    if cast_fields(tier_name, train) and not demoted(tier_name, "sigmoid", loss):
        # The cast row is needed: the rounded factor shows well above float64 rounding (1e-16).
        assert max(r.error for r in levels.values() if r.error is not None) > 1e-13


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    hidden=st.lists(st.integers(1, 6), max_size=2),
    activation=st.sampled_from(["relu", "tanh", "sigmoid", "identity"]),
    head=st.sampled_from(HEADS),
    optimizer=st.sampled_from(OPTIMIZERS),
    l2=st.sampled_from([0.0, 1e-3, 2.0**-8]),
    n=st.integers(5, 19),
    batch_size=st.integers(1, 8),
    seed=st.integers(0, 2**16),
)  # fmt: skip
@pytest.mark.slow
def test_random_specs_stay_within_the_table(
    tier_name, hidden, activation, head, optimizer, l2, n, batch_size, seed
):
    """Random small specs, float64, one epoch of batches (a partial last batch when n is not a
    multiple of the batch size), Keras's default learning rate: every level of this tier within
    its row of the table."""
    output, loss = head
    rng = np.random.default_rng(seed)
    n_in, n_out = int(rng.integers(1, 6)), int(rng.integers(2, 5))
    model = ModelSpec(n_in, n_out, tuple(hidden), activation, output, loss)
    train = TrainSpec(optimizer=optimizer, dtype="float64", l2=l2, batch_size=batch_size)
    x, y = rng.normal(size=(n, n_in)), rng.integers(0, n_out, n)
    batches = [(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, n, batch_size)]
    params = init_params(model, seed, "float64")
    reference = trace("numpy", model, train, params, batches, {})
    levels = compare_levels(
        trace(tier_name, model, train, params, batches, {}), reference, model, train
    )
    failed = {level: r.outside for level, r in levels.items() if not r.within}
    assert failed == {}, (model, train)


def test_a_distance_beyond_the_table_is_explained_with_its_cause():
    from mlp_tiers.parity import explain_distance

    adam = TrainSpec(lr=0.01)  # Keras's default betas, which float32 cannot hold
    assert explain_distance("tf-nn", 6.5e-7, adam, 390) is None  # within the epoch row
    keras = explain_distance("keras", 0.18, adam, 390)
    assert "keras ends 1.8e-01 from the NumPy tier's weights after 390 steps" in keras
    assert "rounds beta1, beta2 through float32" in keras
    assert "--beta1 0.875 --beta2 0.998046875" in keras
    exact = TrainSpec(lr=0.01, beta1=0.875, beta2=0.998046875)
    other = explain_distance("keras", 0.18, exact, 390)
    assert "rounds" not in other.split(":")[1] and "mlp-tiers parity --steps 200" in other
    assert explain_distance("keras", 0.18, TrainSpec(dropout=0.2), 390) is None  # said apart
