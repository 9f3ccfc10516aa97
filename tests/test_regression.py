"""Regression in every installed tier: the degenerate models against their closed forms, parity
with the NumPy tier in float64 (through the lockstep engine and through each tier's own ``fit``),
and a regressor's checkpoint, early stopping and resume.

Each test runs once per installed tier (``mlp_tiers.registry.available_tiers``); the Keras tiers
of another backend run in that backend's pass of ``make test``.
"""

import dataclasses

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from mlp_tiers.parity import compare_levels, demoted, expected_tolerance, param_errors, trace
from mlp_tiers.registry import available_tiers, get_tier
from shared.checkpoint import CheckpointFile, load_checkpoint
from shared.data import load_dataset, make_dataset
from shared.init import init_params
from shared.spec import DataSpec, ModelSpec, TrainSpec
from tests.helpers import EXACT, skip_if_other_keras_backend


@pytest.fixture(params=available_tiers())
def tier_name(request):
    skip_if_other_keras_backend(request.param)
    return request.param


@pytest.fixture(scope="module")
def linear_data():
    """400 samples of 4 correlated features and 2 targets, each a linear function plus noise."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4))
    x[:, 1] += 0.5 * x[:, 0]
    w = np.array([[1.0, 0.0], [-2.0, 1.0], [0.5, 1.0], [3.0, -1.0]])
    y = x @ w + [0.5, -2.0] + rng.normal(0.0, 0.3, (400, 2))
    data = make_dataset("linear", x, y, DataSpec(name="linear"), task="regression")
    return data.astype("float64")


def full_batch_descent(data, model, l2=0.0, epochs=60, lr=None):
    """Plain gradient descent on the whole training split (one batch per epoch), with the step
    ``2 / (lambda_min + lambda_max)`` of the mean squared error's Hessian, the fastest fixed
    step: each epoch shrinks the distance to the optimum by ``(kappa - 1) / (kappa + 1)``."""
    n, k = len(data.x_train), model.n_outputs
    x = np.column_stack([data.x_train, np.ones(n)])  # the bias is a weight too
    hessian = 2 * x.T @ x / (n * k) + 2 * l2 * np.diag([1.0] * data.n_features + [0.0])
    eigenvalues = np.linalg.eigvalsh(hessian)
    step = 2 / (eigenvalues[0] + eigenvalues[-1]) if lr is None else lr
    return TrainSpec(optimizer="sgd", lr=float(step), batch_size=n, epochs=epochs,
                     dtype="float64", l2=l2)  # fmt: skip


def closed_form_tolerance(tier, activation, loss):
    """Gradient descent in float64 stops at the optimum to within ``cond(H) * eps``: about
    1e-15 for these well-conditioned problems (cond(H) < 10), and 60 epochs of contraction 0.46
    (or 150 of the logistic loss's) leave far less of the start. 1e-10 leaves room for the
    order in which a library sums. A tier that computes the loss's mean in float32 (Keras on JAX
    and PyTorch, ``mlp_tiers.parity.DEMOTED``) stops within ``cond(H) * eps32``: 1e-5."""
    return 1e-5 if demoted(tier, activation, loss) else 1e-10


def linear_weights(tier_name, data, model, train):
    tier = get_tier(tier_name)(model, train, init_params(model, 0, "float64"))
    tier.fit(data)
    ((W, b),) = tier.get_params()
    return W, b


@pytest.mark.slow
def test_linear_regression_matches_least_squares(tier_name, linear_data):
    model = ModelSpec(hidden=(), task="regression").resolve(4, 2)
    W, b = linear_weights(tier_name, linear_data, model, full_batch_descent(linear_data, model))
    x = np.column_stack([linear_data.x_train, np.ones(len(linear_data.x_train))])
    solution, *_ = np.linalg.lstsq(x, linear_data.y_train, rcond=None)
    tol = closed_form_tolerance(tier_name, "identity", "mse")
    assert np.abs(W - solution[:4]).max() <= tol * np.abs(solution[:4]).max()
    assert np.abs(b - solution[4]).max() <= tol * np.abs(solution[:4]).max()


@pytest.mark.slow
def test_linear_regression_with_l2_matches_ridge(tier_name, linear_data):
    """The loss is ``(1/(n k)) sum (xW + b - t)^2 + l2 sum W^2`` (the bias not penalized), so its
    minimum solves ``(X^T X / (n k) + l2 I) W = X^T (t - mean t) / (n k)`` on the centred data,
    with ``b = mean t - mean x W`` (the standardized features have mean 0)."""
    l2 = 2.0**-4  # exact in float32: Keras on TensorFlow rounds the factor through it
    model = ModelSpec(hidden=(), task="regression").resolve(4, 2)
    train = full_batch_descent(linear_data, model, l2=l2)
    W, b = linear_weights(tier_name, linear_data, model, train)
    x, t = linear_data.x_train, linear_data.y_train
    n, k = x.shape[0], 2
    xc, tc = x - x.mean(axis=0), t - t.mean(axis=0)
    ridge = np.linalg.solve(xc.T @ xc / (n * k) + l2 * np.eye(4), xc.T @ tc / (n * k))
    intercept = t.mean(axis=0) - x.mean(axis=0) @ ridge
    tol = closed_form_tolerance(tier_name, "identity", "mse")
    assert np.abs(W - ridge).max() <= tol * np.abs(ridge).max()
    assert np.abs(b - intercept).max() <= tol * np.abs(ridge).max()
    unpenalized, *_ = np.linalg.lstsq(np.column_stack([x, np.ones(n)]), t, rcond=None)
    assert np.abs(W - unpenalized[:4]).max() > 1e-3  # the penalty changed the answer


@pytest.fixture(scope="module")
def spirals():
    """Three spirals: no line separates them, so the logistic loss has a finite minimum."""
    return load_dataset(DataSpec(name="spirals", n_samples=100)).astype("float64")


@pytest.mark.slow
@pytest.mark.parametrize("l2", [0.0, 2.0**-6])
def test_logistic_regression_matches_scikit_learn(tier_name, spirals, l2):
    """``--hidden none`` with softmax and cross-entropy is multinomial logistic regression.
    scikit-learn's minimizes ``sum_i loss_i + ||W||^2 / (2 C)``; ours is the mean loss plus
    ``l2 ||W||^2``, so ``C = 1 / (2 n l2)`` (no penalty: ``C = inf``). Its Newton solver reaches
    the optimum to rounding. Without a penalty the softmax's weights are unique only up to a
    vector added to every class's column, which gradient descent leaves where it starts: so the
    probabilities are compared, and the weights after subtracting each row's mean over classes.
    """
    n = len(spirals.x_train)
    model = ModelSpec(hidden=()).resolve(2, 3)
    train = TrainSpec(optimizer="sgd", lr=4.0, batch_size=n, epochs=150, dtype="float64", l2=l2)
    tier = get_tier(tier_name)(model, train, init_params(model, 0, "float64"))
    tier.fit(spirals)
    ((W, b),) = tier.get_params()
    reference = LogisticRegression(
        C=np.inf if l2 == 0 else 1 / (2 * n * l2), solver="newton-cg", tol=1e-14, max_iter=10_000
    ).fit(spirals.x_train, spirals.y_train)

    def centred(weights):
        return weights - weights.mean(axis=-1, keepdims=True)

    tol = closed_form_tolerance(tier_name, "identity", "cross_entropy")
    expected = reference.predict_proba(spirals.x_train)
    assert np.abs(tier.predict_proba(spirals.x_train) - expected).max() <= tol
    coef = centred(reference.coef_.T)
    assert np.abs(centred(W) - coef).max() <= tol * np.abs(coef).max()
    assert np.abs(centred(b) - centred(reference.intercept_)).max() <= tol * np.abs(coef).max()


# -- parity in float64 --------------------------------------------------------------------------


def regression_batches(n_inputs, n_targets, seed, n=40, batch_size=8):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_inputs))
    y = np.tanh(x @ rng.normal(size=(n_inputs, n_targets))) + rng.normal(0, 0.1, (n, n_targets))
    return [(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, n, batch_size)]


OTHERS = [name for name in available_tiers() if name != "numpy"]


@pytest.mark.skipif(not OTHERS, reason="only the NumPy tier is installed: nothing to compare")
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam", "rmsprop"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_lockstep_parity_of_a_regressor_in_float64(tier_name, optimizer, activation):
    """Every level (forward, loss, gradients, one update, five steps) within the table's float64
    rows, exactly as for a classifier: the same table, no row of its own."""
    if tier_name == "numpy":
        pytest.skip("the NumPy tier is the reference")
    model = ModelSpec(3, 2, (6, 5), activation, task="regression")
    train = TrainSpec(optimizer=optimizer, dtype="float64", l2=2.0**-8, batch_size=8, **EXACT)
    batches = regression_batches(3, 2, seed=1)
    params = init_params(model, 3, "float64")
    reference = trace("numpy", model, train, params, batches, {})
    levels = compare_levels(trace(tier_name, model, train, params, batches, {}), reference,
                            model, train)  # fmt: skip
    assert {level: r.outside for level, r in levels.items() if not r.within} == {}


@pytest.mark.slow
def test_each_tiers_own_fit_of_a_regressor_matches_the_numpy_tier(tier_name):
    """``fit`` on diabetes, 3 epochs of the shared batches, float64 and Keras's default Adam:
    every array within the table's epoch row of the NumPy tier's (the cast row where Keras on
    TensorFlow rounds Adam's betas through float32), and so is every epoch's loss."""
    data = load_dataset(DataSpec(name="diabetes"), "regression").astype("float64")
    model = ModelSpec(hidden=(16,), task="regression").resolve(data.n_features, data.n_outputs)
    train = TrainSpec(dtype="float64", epochs=3)
    tiers = {}
    for name in ("numpy", tier_name):
        tiers[name] = get_tier(name)(model, train, init_params(model, 0, "float64"))
        tiers[name].fit(data)
    tol = expected_tolerance(tier_name, "epoch", "float64", "relu", "mse", train)
    errors = param_errors(tiers[tier_name].get_params(), tiers["numpy"].get_params())
    assert max(errors.values()) <= tol.rtol + tol.atol, errors
    ours = [r["loss"] for r in tiers[tier_name].history.records]
    numpy_losses = [r["loss"] for r in tiers["numpy"].history.records]
    np.testing.assert_allclose(ours, numpy_losses, rtol=tol.rtol, atol=tol.atol)
    assert all(r["accuracy"] is None and r["val_accuracy"] is None
               for r in tiers[tier_name].history.records)  # fmt: skip


# -- checkpoints, early stopping, resume ------------------------------------------------------


@pytest.fixture(scope="module")
def curve():
    return load_dataset(DataSpec(name="parabola", n_samples=120), "regression").astype("float32")


@pytest.mark.slow
def test_a_regressor_resumes_bit_identically(tier_name, curve, tmp_path):
    model = ModelSpec(hidden=(8,), activation="tanh", task="regression").resolve(1, 1)
    train = TrainSpec(epochs=6, batch_size=16, lr=0.01, patience=50, dropout=0.1)
    straight = get_tier(tier_name)(model, train, init_params(model, 0, "float32"))
    straight.fit(curve)
    first = get_tier(tier_name)(model, dataclasses.replace(train, epochs=3),
                                init_params(model, 0, "float32"))  # fmt: skip
    # The checkpoint written after epoch 3, as a run folder's is: before fit's end restores the
    # best epoch's weights.
    first.fit(curve, checkpoint_file=CheckpointFile(tmp_path / "c.npz", None, curve))
    path = tmp_path / "c.npz"
    saved_mean, saved_scale = load_checkpoint(path).target_scaling
    np.testing.assert_array_equal(saved_mean, curve.target_mean)
    np.testing.assert_array_equal(saved_scale, curve.target_scale)
    resumed = get_tier(tier_name)(model, train, init_params(model, 0, "float32"))
    resumed.restore(load_checkpoint(path))
    resumed.fit(curve)
    for (Wa, ba), (Wb, bb) in zip(resumed.get_params(), straight.get_params(), strict=True):
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)


@pytest.mark.slow
def test_early_stopping_watches_the_validation_mse_and_restores_the_best_epoch(tier_name):
    """A wide network on 40 noisy points overfits within a few dozen epochs: the validation MSE
    rises, early stopping ends the run and restores the best epoch's weights."""
    data = load_dataset(DataSpec(name="parabola", n_samples=40, noise=0.5), "regression")
    data = data.astype("float32")
    model = ModelSpec(hidden=(64, 64), task="regression").resolve(1, 1)
    train = TrainSpec(epochs=300, batch_size=8, lr=0.02, patience=3)
    tier = get_tier(tier_name)(model, train, init_params(model, 0, "float32"))
    history = tier.fit(data)
    val = [r["val_loss"] for r in history.records]
    assert history.stopped_epoch is not None and history.stopped_epoch < 300
    assert val[history.best_epoch - 1] == min(val) < val[-1]
    restored = np.mean((tier.predict_proba(data.x_val).astype(np.float64) - data.y_val) ** 2)
    np.testing.assert_allclose(restored, min(val), rtol=1e-4)
