import random

import numpy as np
import pytest

from shared.data import DATASETS, load_dataset, make_dataset
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


def test_astype_casts_features_only():
    data = load_dataset(DataSpec()).astype("float32")
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64


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


# -- validation of raw arrays ------------------------------------------------------------


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


# -- the user's own files --------------------------------------------------------------------


def test_npz_file(tmp_path):
    x, y = raw()
    np.savez(tmp_path / "mine.npz", x=x, y=y, class_names=np.array(["a", "b", "c"]))
    data = load_dataset(DataSpec(name=str(tmp_path / "mine.npz")))
    assert data.class_names == ("a", "b", "c") and data.n_features == 4


def test_npz_file_errors(tmp_path):
    np.savez(tmp_path / "wrong.npz", features=np.zeros((3, 2)))
    with pytest.raises(DataError, match="must hold arrays 'x' and 'y'"):
        load_dataset(DataSpec(name=str(tmp_path / "wrong.npz")))
    (tmp_path / "broken.npz").write_bytes(b"garbage")
    with pytest.raises(DataError, match="not a valid .npz archive"):
        load_dataset(DataSpec(name=str(tmp_path / "broken.npz")))
    with pytest.raises(DataError, match="dataset file not found"):
        load_dataset(DataSpec(name=str(tmp_path / "absent.npz")))


def test_csv_with_header_and_string_labels(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["width,species,height"]
    for i in range(30):
        lines.append(f"{rng.normal():.3f},{['setosa', 'virginica'][i % 2]},{rng.normal():.3f}")
    (tmp_path / "iris.csv").write_text("\n".join(lines) + "\n")
    data = load_dataset(DataSpec(name=str(tmp_path / "iris.csv"), label_column="species"))
    assert data.class_names == ("setosa", "virginica")
    assert data.feature_names == ("width", "height")


def test_csv_without_header_uses_last_column(tmp_path):
    x, y = raw()
    rows = [",".join(f"{v:.4f}" for v in row) + f",{label}" for row, label in zip(x, y)]
    (tmp_path / "plain.csv").write_text("\n".join(rows))
    data = load_dataset(DataSpec(name=str(tmp_path / "plain.csv")))
    assert data.n_features == 4 and data.class_names == ("0", "1", "2")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b,label\n1,2,0\n3,,1\n5,6,0\n7,8,1\n", "NaN at row 1, column 1"),
        ("a,b,label\n1,2,0\n3,x,1\n", "data row 1, column 1 holds 'x', not a number"),
        ("a,b,label\n1,2,0\n3,4\n", "data row 1 has 2 columns, expected 3"),
        ("", "is empty"),
        ("a,b,label\n", "has a header but no data rows"),
    ],
)
def test_csv_errors(tmp_path, text, message):
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(DataError, match=message):
        load_dataset(DataSpec(name=str(tmp_path / "bad.csv")))


def test_csv_unknown_label_column(tmp_path):
    (tmp_path / "d.csv").write_text("a,b\n1,0\n2,1\n")
    with pytest.raises(DataError, match="no label column 'y'; the header has a, b"):
        load_dataset(DataSpec(name=str(tmp_path / "d.csv"), label_column="y"))


def test_unsupported_suffix(tmp_path):
    (tmp_path / "d.txt").write_text("1 2 3")
    with pytest.raises(DataError, match="unsupported dataset file type '.txt'"):
        load_dataset(DataSpec(name=str(tmp_path / "d.txt")))


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
