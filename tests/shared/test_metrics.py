import numpy as np
import pytest

from shared.metrics import data_loss, evaluate, evaluate_regression, l2_penalty, one_hot


def test_one_hot():
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])


def test_cross_entropy_from_probabilities_by_hand():
    p = np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]])
    y = np.array([0, 1])
    assert data_loss(p, y, "cross_entropy") == pytest.approx(
        -(np.log(0.5) + np.log(0.8)) / 2, rel=1e-15
    )


def test_cross_entropy_of_a_zero_probability_is_large_but_finite():
    loss = data_loss(np.array([[0.0, 1.0]]), np.array([0]), "cross_entropy")
    assert np.isfinite(loss) and loss > 700


def test_mse_averages_over_samples_and_outputs():
    out = np.array([[1.0, 0.0], [0.5, 0.5]])
    # targets [[0, 1], [0, 1]]: squared errors 1, 1, 0.25, 0.25 -> mean 0.625
    assert data_loss(out, np.array([1, 1]), "mse") == pytest.approx(0.625, rel=1e-15)


def test_l2_penalty_covers_kernels_not_biases():
    params = [
        (np.array([[1.0, 2.0]]), np.array([100.0, 100.0])),
        (np.array([[3.0], [0.0]]), np.array([5.0])),
    ]
    assert l2_penalty(params, 0.5) == pytest.approx(0.5 * (1 + 4 + 9))
    assert l2_penalty(params, 0.0) == 0.0


def test_evaluate_against_scikit_learn():
    from sklearn.metrics import accuracy_score, f1_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, size=200)
    p = rng.dirichlet(np.ones(4), size=200)
    ev = evaluate(p, y, "cross_entropy")
    predicted = p.argmax(axis=1)
    assert ev.accuracy == accuracy_score(y, predicted)
    np.testing.assert_allclose(ev.f1, f1_score(y, predicted, average=None))
    assert ev.confusion.sum() == 200
    assert np.trace(ev.confusion) == (predicted == y).sum()
    np.testing.assert_array_equal(ev.support, np.bincount(y, minlength=4))
    d = ev.to_dict(("a", "b", "c", "d"))
    assert set(d["per_class"]) == {"a", "b", "c", "d"}
    assert d["macro_f1"] == pytest.approx(np.mean(ev.f1))


def test_absent_class_gets_zero_scores_not_warnings():
    p = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0]])
    ev = evaluate(p, np.array([0, 1]), "cross_entropy")
    assert ev.support.tolist() == [1, 1, 0]
    assert ev.precision[2] == 0.0


def test_shape_mismatch():
    with pytest.raises(ValueError, match="do not match 3 labels"):
        evaluate(np.ones((2, 2)) / 2, np.array([0, 1, 1]), "mse")


def test_regression_metrics_are_scikit_learns_in_the_targets_units():
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    rng = np.random.default_rng(0)
    true = rng.normal(size=(50, 2)) * [10.0, 0.5] + [100.0, -3.0]
    predicted = true + rng.normal(size=(50, 2)) * [4.0, 0.1]
    mean, scale = np.array([90.0, -2.0]), np.array([8.0, 0.4])
    ev = evaluate_regression((predicted - mean) / scale, (true - mean) / scale, mean, scale)
    assert ev.mse == pytest.approx(mean_squared_error(true, predicted), rel=1e-12)
    assert ev.mae == pytest.approx(mean_absolute_error(true, predicted), rel=1e-12)
    assert ev.r2 == pytest.approx(r2_score(true, predicted), rel=1e-12)
    per_target_rmse = np.sqrt(mean_squared_error(true, predicted, multioutput="raw_values"))
    assert ev.rmse == pytest.approx(per_target_rmse.mean(), rel=1e-12)
    assert ev.per_target[1]["r2"] == pytest.approx(r2_score(true[:, 1], predicted[:, 1]))
    # the loss is the MSE of the standardized values: what training minimizes
    standardized = ((predicted - true) / scale) ** 2
    assert ev.loss == pytest.approx(standardized.mean(), rel=1e-12)
    assert set(ev.to_dict(("price", "rent"))["per_target"]) == {"price", "rent"}


def test_r2_of_a_constant_target_follows_scikit_learn():
    one = np.ones((4, 1))
    assert evaluate_regression(one, one, np.zeros(1), np.ones(1)).r2 == 1.0
    assert evaluate_regression(one * 2, one, np.zeros(1), np.ones(1)).r2 == 0.0
