"""The hand-written backward pass against centred finite differences, in float64."""

import numpy as np
import pytest

from lowlevel_numpy import activations
from lowlevel_numpy.gradcheck import check_gradients, numerical_gradient, relative_error
from lowlevel_numpy.model import MLP
from shared.init import init_params
from shared.spec import ACTIVATIONS, ModelSpec

HEADS = [("softmax", "cross_entropy"), ("softmax", "mse"), ("identity", "mse")]
TOLERANCE = 1e-7  # docs/numerics.md: relative error <= 1e-7 in float64 with h = 1e-5


def model(activation="tanh", output="softmax", loss="cross_entropy", hidden=(7, 5), l2=0.0):
    spec = ModelSpec(
        n_inputs=4, n_outputs=3, hidden=hidden, activation=activation, output=output, loss=loss
    )
    return MLP(spec, init_params(spec, seed=1), l2=l2)


def batch(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)), rng.integers(0, 3, size=n)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize(("output", "loss"), HEADS)
def test_data_loss_gradients(activation, output, loss):
    x, y = batch()
    result = check_gradients(model(activation, output, loss), x, y, term="data")
    assert result.max_error <= TOLERANCE, result.errors
    assert set(result.errors) == {"W1", "b1", "W2", "b2", "W3", "b3"}


@pytest.mark.parametrize(("output", "loss"), HEADS)
def test_no_hidden_layer(output, loss):
    x, y = batch()
    result = check_gradients(model(hidden=(), output=output, loss=loss), x, y, term="data")
    assert result.max_error <= TOLERANCE, result.errors


def test_l2_term():
    x, y = batch()
    l2 = check_gradients(model(l2=0.01), x, y, term="l2")
    assert l2.max_error <= TOLERANCE, l2.errors
    assert l2.errors["b1"] == 0.0  # biases carry no penalty: both gradients are exactly zero


def test_data_loss_and_l2_together():
    # Where the data and L2 gradients nearly cancel (one entry of W3 here: |g| = 3.3e-5), the
    # relative error meets the round-off floor of centred differences, |L| * 1e-16 / h = 1e-11
    # absolute, which is 1.7e-7 relative. Each term alone passes at 1e-7 (the tests above).
    x, y = batch()
    total = check_gradients(model(activation="sigmoid", l2=0.01), x, y, term="total")
    assert total.max_error <= 1e-6, total.errors


def test_a_wrong_derivative_is_caught(monkeypatch):
    broken = activations.Activation(
        "tanh", activations.tanh, lambda z, a: 1 - a
    )  # should be 1 - a^2
    net = model("tanh")
    monkeypatch.setattr(net, "activation", broken)
    x, y = batch()
    assert check_gradients(net, x, y, term="data").max_error > 1e-3


def test_numerical_gradient_of_a_known_function():
    w = np.array([1.0, 2.0, -3.0])
    grads = numerical_gradient(lambda: float(np.sum(w**3)), w, [(0,), (2,)])
    np.testing.assert_allclose(grads, [3.0, 27.0], rtol=1e-9)
    np.testing.assert_array_equal(w, [1.0, 2.0, -3.0])  # restored
    assert relative_error(np.array([0.0]), np.array([0.0]))[0] == 0.0


def test_the_gradient_report_covers_every_case_and_passes(capsys):
    from lowlevel_numpy.gradcheck import main

    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.count("data") == 12 and "l2" in out


def test_help_describes_the_check_instead_of_running_it(capsys):
    from lowlevel_numpy.gradcheck import main

    with pytest.raises(SystemExit) as exit:
        main(["--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert "finite differences" in out and "worst" not in out
