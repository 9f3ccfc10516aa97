"""Each optimizer against its update rule worked by hand for two steps on tiny arrays.

w = [1, -2]; the gradients are g1 = [0.5, 0.25], then g2 = [-1, 0.5]. The expected values are
written out from the formulas in docs/numerics.md, independently of the code under test.
"""

import numpy as np
import pytest

from lowlevel_numpy.optimizers import make_optimizer
from shared.spec import TrainSpec

G1, G2 = np.array([0.5, 0.25]), np.array([-1.0, 0.5])


def two_steps(**spec):
    w = np.array([1.0, -2.0])
    optimizer = make_optimizer([w], TrainSpec(dtype="float64", **spec))
    optimizer.apply_update([w], [G1.copy()])
    after_one = w.copy()
    optimizer.apply_update([w], [G2.copy()])
    assert optimizer.iterations == 2
    return after_one, w


def test_sgd():
    one, two = two_steps(optimizer="sgd", lr=0.1)
    # w - 0.1 g1 = [1 - 0.05, -2 - 0.025]; then - 0.1 g2 = [+0.1, -0.05]
    np.testing.assert_allclose(one, [0.95, -2.025], rtol=1e-15)
    np.testing.assert_allclose(two, [1.05, -2.075], rtol=1e-15)


def test_momentum():
    one, two = two_steps(optimizer="momentum", lr=0.1, momentum=0.9)
    # v1 = -0.1 g1 = [-0.05, -0.025];            w1 = w0 + v1 = [0.95, -2.025]
    # v2 = 0.9 v1 - 0.1 g2 = [0.055, -0.0725];   w2 = w1 + v2 = [1.005, -2.0975]
    np.testing.assert_allclose(one, [0.95, -2.025], rtol=1e-15)
    np.testing.assert_allclose(two, [1.005, -2.0975], rtol=1e-15)


def test_nesterov():
    one, two = two_steps(optimizer="nesterov", lr=0.1, momentum=0.9)
    # v1 = [-0.05, -0.025];   w1 = w0 + 0.9 v1 - 0.1 g1 = [1 - 0.045 - 0.05, -2 - 0.0225 - 0.025]
    # v2 = [0.055, -0.0725];  w2 = w1 + 0.9 v2 - 0.1 g2 = [0.905 + 0.0495 + 0.1, -2.0475 - 0.06525 - 0.05]
    np.testing.assert_allclose(one, [0.905, -2.0475], rtol=1e-15)
    np.testing.assert_allclose(two, [1.0545, -2.16275], rtol=1e-15)


def test_adam():
    one, two = two_steps(optimizer="adam", lr=0.1, beta1=0.9, beta2=0.999, eps=1e-7)
    # t = 1: m1 = 0.1 g1 = [0.05, 0.025]; v1 = 0.001 g1^2 = [2.5e-4, 6.25e-5]
    #        alpha1 = 0.1 sqrt(1 - 0.999) / (1 - 0.9) = sqrt(0.001)
    m1, v1 = np.array([0.05, 0.025]), np.array([2.5e-4, 6.25e-5])
    w1 = np.array([1.0, -2.0]) - np.sqrt(0.001) * m1 / (np.sqrt(v1) + 1e-7)
    np.testing.assert_allclose(one, w1, rtol=1e-15)
    np.testing.assert_allclose(one, [0.9, -2.1], atol=1e-5)  # Adam's first step: about lr * sign(g)
    # t = 2: m2 = m1 + (g2 - m1) 0.1 = [-0.055, 0.0725]
    #        v2 = v1 + (g2^2 - v1) 0.001 = [1.24975e-3, 3.124375e-4]
    #        alpha2 = 0.1 sqrt(1 - 0.999^2) / (1 - 0.9^2) = 0.1 sqrt(0.001999) / 0.19
    m2, v2 = np.array([-0.055, 0.0725]), np.array([1.24975e-3, 3.124375e-4])
    w2 = w1 - (0.1 * np.sqrt(0.001999) / 0.19) * m2 / (np.sqrt(v2) + 1e-7)
    np.testing.assert_allclose(two, w2, rtol=1e-14)


def test_rmsprop():
    one, two = two_steps(optimizer="rmsprop", lr=0.1, rho=0.9, eps=1e-7)
    # s1 = 0.1 g1^2 = [0.025, 0.00625];  w1 = w0 - 0.1 g1 / sqrt(s1 + eps)
    w1 = np.array([1.0, -2.0]) - 0.1 * G1 / np.sqrt(np.array([0.025, 0.00625]) + 1e-7)
    # s2 = 0.9 s1 + 0.1 g2^2 = [0.1225, 0.030625] (square roots 0.35 and 0.175)
    w2 = w1 - 0.1 * G2 / np.sqrt(np.array([0.1225, 0.030625]) + 1e-7)
    np.testing.assert_allclose(one, w1, rtol=1e-15)
    np.testing.assert_allclose(two, w2, rtol=1e-14)
    np.testing.assert_allclose(two - one, [0.1 / 0.35, -0.05 / 0.175], rtol=1e-5)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam", "rmsprop"])
def test_float32_stays_float32_and_updates_in_place(optimizer):
    w = np.array([1.0, -2.0], dtype=np.float32)
    opt = make_optimizer([w], TrainSpec(optimizer=optimizer, dtype="float32"))
    same = w
    opt.apply_update([w], [G1.astype(np.float32)])
    assert w is same and w.dtype == np.float32
    assert all(a.dtype == np.float32 for slot in opt.state.values() for a in slot)


def in_place_rule(name, spec, state, w, g, t):
    """The order of operations of the in-place form the optimizers once had (each product and
    sum rounded in this order, through scratch arrays): the plain formulas must round alike."""
    dtype = w.dtype.type
    lr, mom, b1, b2, rho, eps = (dtype(v) for v in (spec.lr, spec.momentum, spec.beta1,
                                                     spec.beta2, spec.rho, spec.eps))  # fmt: skip
    s = np.empty_like(w)
    if name == "sgd":
        w -= np.multiply(lr, g, out=s)
    elif name in ("momentum", "nesterov"):
        v = state["v"]
        np.multiply(lr, g, out=s)
        v *= mom
        v -= s
        w += mom * v - s if name == "nesterov" else v
    elif name == "adam":
        m, v = state["m"], state["v"]
        alpha = lr * np.sqrt(1 - b2 ** dtype(t)) / (1 - b1 ** dtype(t))
        np.subtract(g, m, out=s)
        s *= 1 - b1
        m += s
        np.multiply(g, g, out=s)
        s -= v
        s *= 1 - b2
        v += s
        np.sqrt(v, out=s)
        s += eps
        w -= np.multiply(m, alpha) / s
    else:  # rmsprop
        v, a = state["s"], np.empty_like(w)
        v *= rho
        np.multiply(g, g, out=a)
        a *= 1 - rho
        v += a
        np.add(v, eps, out=a)
        np.sqrt(a, out=a)
        w -= np.multiply(lr, g, out=s) / a


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam", "rmsprop"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_formulas_round_exactly_as_the_in_place_form_did(name, dtype):
    rng = np.random.default_rng(3)
    spec = TrainSpec(optimizer=name, lr=0.01, dtype=dtype)
    w = rng.standard_normal((7, 5)).astype(dtype)
    reference = w.copy()
    optimizer = make_optimizer([w], spec)
    state = {key: np.zeros_like(w) for key in ("v", "m", "s")}
    for t in range(1, 6):
        g = rng.standard_normal(w.shape).astype(dtype)
        optimizer.apply_update([w], [g])
        in_place_rule(name, spec, state, reference, g, t)
        np.testing.assert_array_equal(w, reference)
