"""A dataset from raw arrays: features and labels checked, split, standardized on the training split."""

import numpy as np
import pytest

from shared.data import load_dataset, make_dataset
from shared.errors import DataError
from shared.spec import DataSpec


def test_astype_casts_features_only():
    data = load_dataset(DataSpec()).astype("float32")
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64


def spec():
    return DataSpec(name="t")


def raw(n=60, k=3, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), np.arange(n) % k


def test_nan_and_inf_are_rejected_with_their_position():
    x, y = raw()
    x[7, 2] = np.nan
    with pytest.raises(DataError, match="features contain NaN at row 7, column 2"):
        make_dataset("t", x, y, spec())
    x[7, 2] = np.inf
    with pytest.raises(DataError, match="an infinite value at row 7, column 2"):
        make_dataset("t", x, y, spec())


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (lambda y: np.where(np.arange(len(y)) == 5, -1, y), "label -1 at row 5 is out of range"),
        (lambda y: y + 0.5, "is not an integer class index"),
        (lambda y: y[:-1], "labels must have shape \\(60,\\)"),
        (lambda y: np.zeros_like(y), "at least 2 classes"),
    ],
)
def test_bad_labels(labels, message):
    x, y = raw()
    with pytest.raises(DataError, match=message):
        make_dataset("t", x, labels(y), spec())


def test_labels_beyond_the_class_names():
    x, y = raw()
    with pytest.raises(
        DataError, match="label 2 at row 2 is out of range; labels must be in 0 .. 1"
    ):
        make_dataset("t", x, y, spec(), class_names=("a", "b"))


def test_bad_feature_shapes():
    with pytest.raises(DataError, match="features must have shape"):
        make_dataset("t", np.zeros(10), np.arange(10) % 2, spec())
    with pytest.raises(DataError, match="features must be numbers"):
        make_dataset("t", [["a", "b"], ["c", "d"]], [0, 1], spec())


def test_images_are_flattened():
    x = np.random.default_rng(0).normal(size=(50, 3, 4))
    data = make_dataset("t", x, np.arange(50) % 2, spec())
    assert data.n_features == 12


def test_constant_features_stay_finite():
    x, y = raw()
    x[:, 1] = 5.0
    data = make_dataset("t", x, y, spec())
    assert np.all(np.isfinite(data.x_train)) and np.all(data.x_train[:, 1] == 0.0)


def test_too_few_samples():
    with pytest.raises(DataError, match="too few samples"):
        make_dataset("t", np.ones((2, 2)), [0, 1], spec())


def test_an_official_test_split_may_not_hold_a_class_the_training_split_lacks():
    """Its labels are checked against the training split's classes: a label 3 in the test
    split of a three-class training split was once taken in, and failed deep inside later."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 2)), np.arange(30) % 3
    with pytest.raises(DataError, match=r"test split\): label 3 at row 3 is out of range"):
        make_dataset("d", x, y, DataSpec(), test=(x[:6], np.arange(6)))
