"""The registered datasets: bundled, generated and downloaded (read from local files here)."""

import random

import numpy as np
import pytest

from shared.data import DATASETS, load_dataset
from shared.data.sources import make_spirals, read_idx_gz
from shared.errors import DataError, UnknownNameError
from shared.spec import DataSpec
from tests.helpers import write_idx_gz


def test_digits_split_is_stratified_deterministic_and_scaled_on_train_only():
    data = load_dataset(DataSpec())
    assert data.n_features == 64 and data.n_classes == 10
    sizes = data.sizes()
    assert sum(sizes.values()) == 1797
    assert sizes["test"] == 360  # ceil(0.2 * 1797)
    # Stratified: every class is in every split, in about its overall share.
    for y in (data.y_train, data.y_val, data.y_test):
        assert set(np.unique(y)) == set(range(10))
    # Standardized with training statistics only.
    np.testing.assert_allclose(data.x_train.mean(axis=0), 0.0, atol=1e-12)
    constant = data.feature_scale == 1.0
    np.testing.assert_allclose(data.x_train[:, ~constant].std(axis=0), 1.0, rtol=1e-12)
    assert np.abs(data.x_test.mean(axis=0)).max() > 1e-3  # the test set was not used
    again = load_dataset(DataSpec())
    np.testing.assert_array_equal(again.x_train, data.x_train)
    other = load_dataset(DataSpec(split_seed=1))
    assert not np.array_equal(other.y_test, data.y_test)


@pytest.mark.parametrize("k", [2, 3, 7])
def test_spirals_any_number_of_classes(k):
    data = load_dataset(DataSpec(name="spirals", n_classes=k, n_samples=50))
    assert data.n_classes == k and data.n_features == 2
    assert sum(data.sizes().values()) == 50 * k
    x, y = make_spirals(k, 50, seed=0)
    radius = np.hypot(x[:, 0], x[:, 1])
    assert radius.max() == pytest.approx(1.0)
    np.testing.assert_array_equal(np.bincount(y), [50] * k)


def test_options_that_do_not_apply_are_refused():
    with pytest.raises(DataError, match="option n_classes does not apply to dataset 'digits'"):
        load_dataset(DataSpec(n_classes=3))


def test_mnist1d_is_generated_locally_and_leaves_global_rng_alone():
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.random(), random.random()
    np.random.seed(123)
    random.seed(123)
    data = load_dataset(DataSpec(name="mnist1d"))
    assert np.random.random() == expected_np and random.random() == expected_py
    assert data.n_features == 40 and data.n_classes == 10
    assert len(data.y_test) == 1000 and len(data.y_train) + len(data.y_val) == 4000


def test_unknown_dataset():
    with pytest.raises(
        UnknownNameError, match="unknown dataset 'cifar'; registered datasets are digits"
    ):
        load_dataset(DataSpec(name="cifar"))
    assert "digits" in DATASETS


# -- the downloaded formats, read from small files written here ------------------------------


def test_read_idx_gz(tmp_path):
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4).astype(np.uint8)
    write_idx_gz(tmp_path / "x.gz", images)
    np.testing.assert_array_equal(read_idx_gz(tmp_path / "x.gz"), images)
    labels = np.array([3, 1, 4], dtype=np.uint8)
    write_idx_gz(tmp_path / "y.gz", labels)
    np.testing.assert_array_equal(read_idx_gz(tmp_path / "y.gz"), labels)


def test_read_idx_gz_rejects_bad_files(tmp_path):
    import gzip

    with gzip.open(tmp_path / "bad.gz", "wb") as handle:
        handle.write(b"\x00\x00\x0d\x01\x00\x00\x00\x02ab")
    with pytest.raises(DataError, match="not an IDX file of unsigned bytes"):
        read_idx_gz(tmp_path / "bad.gz")
    with gzip.open(tmp_path / "short.gz", "wb") as handle:
        handle.write(b"\x00\x00\x08\x01\x00\x00\x00\x05ab")
    with pytest.raises(DataError, match="is truncated"):
        read_idx_gz(tmp_path / "short.gz")


def test_mnist_shaped_has_mnists_shapes_and_is_learnable_by_design():
    data = load_dataset(DataSpec(name="mnist_shaped", n_samples=350))
    assert data.n_features == 784 and data.n_classes == 10
    assert len(data.y_test) == 500 and len(data.y_train) + len(data.y_val) == 3000
    again = load_dataset(DataSpec(name="mnist_shaped", n_samples=350))
    np.testing.assert_array_equal(data.x_train, again.x_train)
    # The nearest class mean of the training set is right most of the time, not always.
    means = np.stack([data.x_train[data.y_train == k].mean(axis=0) for k in range(10)])
    nearest = np.argmin(((data.x_test[:, None, :] - means) ** 2).sum(axis=2), axis=1)
    assert 0.8 < np.mean(nearest == data.y_test) < 0.99
    with pytest.raises(
        DataError, match="option n_classes does not apply to dataset 'mnist_shaped'"
    ):
        load_dataset(DataSpec(name="mnist_shaped", n_classes=3))


def test_diabetes_is_bundled_for_regression_and_refused_for_classification():
    data = load_dataset(DataSpec(name="diabetes"), "regression")
    assert data.task == "regression" and data.n_features == 10 and data.n_outputs == 1
    assert sum(data.sizes().values()) == 442 and data.sizes()["test"] == 89
    # standardized on the training split only: mean 0 and std 1 there, not elsewhere
    assert abs(data.y_train.mean()) < 1e-12 and abs(data.y_train.std() - 1) < 1e-12
    assert abs(data.y_test.mean()) > 1e-3 and abs(data.y_val.mean()) > 1e-3  # their own stats
    progression = data.in_target_units(data.y_test)
    assert progression.min() >= 25 and progression.max() <= 346  # the dataset's own range
    with pytest.raises(
        DataError, match="'diabetes' is a regression dataset.*pass --task regression"
    ):
        load_dataset(DataSpec(name="diabetes"))
    with pytest.raises(DataError, match="'digits' is a classification dataset.*leave out"):
        load_dataset(DataSpec(name="digits"), "regression")


@pytest.mark.parametrize(
    ("name", "curve"),
    [("line", lambda x: 2 * x + 1), ("parabola", lambda x: 2 * x**2 - 1),
     ("serpentine", lambda x: np.sin(2 * np.pi * x))],
)  # fmt: skip
def test_curves_are_their_formula_plus_the_noise_asked_for(name, curve):
    exact = load_dataset(DataSpec(name=name, noise=0.0, n_samples=50), "regression")
    x = np.concatenate([exact.x_train, exact.x_val, exact.x_test]) * exact.feature_scale
    x = x + exact.feature_mean
    y = exact.in_target_units(np.concatenate([exact.y_train, exact.y_val, exact.y_test]))
    assert x.shape == (50, 1) and x.min() >= -1 and x.max() <= 1
    np.testing.assert_allclose(y[:, 0], curve(x[:, 0]), atol=1e-12)
    noisy = load_dataset(DataSpec(name=name, noise=0.3, n_samples=4000), "regression")
    xs = noisy.x_train * noisy.feature_scale + noisy.feature_mean
    residual = noisy.in_target_units(noisy.y_train)[:, 0] - curve(xs[:, 0])
    assert residual.std() == pytest.approx(0.3, rel=0.05)
    again = load_dataset(DataSpec(name=name, noise=0.3, n_samples=4000), "regression")
    np.testing.assert_array_equal(again.y_train, noisy.y_train)
    other = load_dataset(DataSpec(name=name, noise=0.3, n_samples=4000, split_seed=1), "regression")
    assert not np.array_equal(other.y_train, noisy.y_train)
