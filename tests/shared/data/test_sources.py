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
