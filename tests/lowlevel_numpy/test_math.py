"""Activations, losses and layers against closed forms and independent references (SciPy)."""

import numpy as np
import pytest
from scipy.special import expit
from scipy.special import log_softmax as scipy_log_softmax
from scipy.special import softmax as scipy_softmax

from lowlevel_numpy.activations import ACTIVATIONS
from lowlevel_numpy.layers import Dense, Dropout
from lowlevel_numpy.losses import (
    log_softmax,
    loss_and_gradient,
    mean_squared_error,
    softmax,
    softmax_backward,
    softmax_cross_entropy,
)

Z = np.linspace(-30, 30, 121)


def test_activation_values():
    np.testing.assert_array_equal(
        ACTIVATIONS["relu"].forward(np.array([-1.0, 0.0, 2.0])), [0, 0, 2]
    )
    np.testing.assert_allclose(ACTIVATIONS["sigmoid"].forward(Z), expit(Z), rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(ACTIVATIONS["tanh"].forward(Z), np.tanh(Z), rtol=0)
    np.testing.assert_array_equal(ACTIVATIONS["identity"].forward(Z), Z)


def test_sigmoid_does_not_overflow():
    out = ACTIVATIONS["sigmoid"].forward(np.array([-1000.0, 1000.0], dtype=np.float32))
    np.testing.assert_array_equal(out, [0.0, 1.0])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_derivatives_by_finite_differences(name):
    act = ACTIVATIONS[name]
    z = np.linspace(-3, 3, 61) + 0.013  # avoid relu's kink at exactly 0
    h = 1e-6
    numeric = (act.forward(z + h) - act.forward(z - h)) / (2 * h)
    np.testing.assert_allclose(act.derivative(z, act.forward(z)), numeric, rtol=1e-7, atol=1e-9)


def test_relu_derivative_at_the_kink_is_zero():
    assert ACTIVATIONS["relu"].derivative(np.array([0.0]), np.array([0.0]))[0] == 0.0


def test_log_softmax_matches_scipy_and_survives_huge_logits():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(5, 4)) * 10
    np.testing.assert_allclose(log_softmax(z), scipy_log_softmax(z, axis=1), rtol=1e-13)
    np.testing.assert_allclose(softmax(z), scipy_softmax(z, axis=1), rtol=1e-13)
    huge = np.array([[1000.0, 0.0, -1000.0]])
    assert np.all(np.isfinite(log_softmax(huge)))
    np.testing.assert_allclose(softmax(huge).sum(), 1.0)


def test_cross_entropy_value_and_gradient():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(4, 3))
    y = np.array([0, 2, 1, 2])
    t = np.eye(3)[y]
    loss, dz = softmax_cross_entropy(z, t)
    assert loss == pytest.approx(-np.mean(scipy_log_softmax(z, axis=1)[np.arange(4), y]), rel=1e-14)
    np.testing.assert_allclose(dz, (scipy_softmax(z, axis=1) - t) / 4, rtol=1e-13)


def test_mse_value_and_gradient():
    y, t = np.array([[1.0, 2.0], [0.0, -1.0]]), np.array([[0.0, 2.0], [1.0, 1.0]])
    loss, dy = mean_squared_error(y, t)
    assert loss == pytest.approx((1 + 0 + 1 + 4) / 4)
    np.testing.assert_allclose(dy, 2 * (y - t) / 4)


def test_softmax_backward_by_finite_differences():
    rng = np.random.default_rng(2)
    z, dp = rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    # d/dz of sum(dp * softmax(z)) must equal softmax_backward(p, dp)
    h, numeric = 1e-6, np.zeros_like(z)
    for index in np.ndindex(z.shape):
        e = np.zeros_like(z)
        e[index] = h
        numeric[index] = (np.sum(dp * softmax(z + e)) - np.sum(dp * softmax(z - e))) / (2 * h)
    np.testing.assert_allclose(softmax_backward(softmax(z), dp), numeric, rtol=1e-7, atol=1e-10)


def test_identity_mse_head_is_plain_mse():
    z, t = np.array([[0.5, -0.5]]), np.array([[1.0, 0.0]])
    loss, dz = loss_and_gradient("identity", "mse", z, t)
    assert loss == pytest.approx(0.25)
    np.testing.assert_allclose(dz, [[-0.5, -0.5]])


def test_dense_forward_and_backward_shapes_and_values():
    W, b = np.arange(6.0).reshape(2, 3), np.array([1.0, 0.0, -1.0])
    layer = Dense(W, b)
    x = np.array([[1.0, 2.0]])
    np.testing.assert_array_equal(layer.forward(x), [[0 + 6 + 1, 1 + 8 + 0, 2 + 10 - 1]])
    dx = layer.backward(np.array([[1.0, 0.0, 2.0]]))
    np.testing.assert_array_equal(layer.dW, [[1, 0, 2], [2, 0, 4]])
    np.testing.assert_array_equal(layer.db, [1, 0, 2])
    np.testing.assert_array_equal(dx, [[0 + 0 + 4, 3 + 0 + 10]])


def test_dropout_statistics_and_mask_reuse():
    dropout = Dropout(rate=0.25)
    a = np.ones((400, 250))
    out = dropout.forward(a, np.random.default_rng(0))
    dropped = out == 0
    assert abs(dropped.mean() - 0.25) < 0.005  # 100000 draws
    np.testing.assert_allclose(out[~dropped], 1 / 0.75)  # survivors scaled up
    assert abs(out.mean() - 1.0) < 0.01  # the expectation is kept
    grad = dropout.backward(np.ones_like(a))
    np.testing.assert_array_equal(grad == 0, dropped)  # the same mask flows back
    np.testing.assert_array_equal(dropout.forward(a, None), a)  # off at inference
