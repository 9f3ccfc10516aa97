"""The user's own .npz and .csv files."""

import numpy as np
import pytest

from shared.data import load_dataset
from shared.errors import DataError
from shared.spec import DataSpec
from tests.shared.data.test_dataset import raw


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
    rows = [
        ",".join(f"{v:.4f}" for v in row) + f",{label}" for row, label in zip(x, y, strict=True)
    ]
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
    with pytest.raises(DataError, match="no target column 'y'; the header has a, b"):
        load_dataset(DataSpec(name=str(tmp_path / "d.csv"), label_column="y"))


def test_unsupported_suffix(tmp_path):
    (tmp_path / "d.txt").write_text("1 2 3")
    with pytest.raises(DataError, match="unsupported dataset file type '.txt'"):
        load_dataset(DataSpec(name=str(tmp_path / "d.txt")))


def test_a_csv_regression_with_two_target_columns_named_anywhere(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["price,rooms,rent,area"] + [
        f"{100 + 3 * i + 0.5},{i % 5},{10 + i * 0.25},{40 + rng.integers(0, 60)}" for i in range(60)
    ]
    (tmp_path / "houses.csv").write_text("\n".join(rows) + "\n")
    spec = DataSpec(name=str(tmp_path / "houses.csv"), target="rent,price")
    data = load_dataset(spec, "regression")
    assert data.target_names == ("rent", "price") and data.feature_names == ("rooms", "area")
    assert data.n_outputs == 2 and data.y_train.shape[1] == 2
    values = data.in_target_units(np.concatenate([data.y_train, data.y_val, data.y_test]))
    assert sorted(values[:, 1]) == pytest.approx([100.5 + 3 * i for i in range(60)])


def test_an_npz_regression_keeps_its_target_names_and_refuses_integer_class_codes(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    np.savez(tmp_path / "r.npz", x=x, y=x @ [[1.0, 2.0], [0.0, 1.0], [3.0, 0.0]],
             target_names=np.array(["a", "b"]))  # fmt: skip
    data = load_dataset(DataSpec(name=str(tmp_path / "r.npz")), "regression")
    assert data.target_names == ("a", "b")
    np.savez(tmp_path / "codes.npz", x=x, y=np.arange(40) % 4)
    with pytest.raises(DataError, match="'y' holds only the integers 0 .. 3, which look like"):
        load_dataset(DataSpec(name=str(tmp_path / "codes.npz")), "regression")
    np.savez(tmp_path / "floats.npz", x=x, y=(np.arange(40) % 4).astype(float))
    assert load_dataset(DataSpec(name=str(tmp_path / "floats.npz")), "regression").n_outputs == 1


def test_labels_that_leave_most_classes_empty_ask_for_regression(tmp_path):
    x = np.random.default_rng(0).normal(size=(40, 2))
    np.savez(tmp_path / "prices.npz", x=x, y=(np.arange(40) % 13) * 3)  # 13 of 37 classes used
    with pytest.raises(DataError, match="look like numbers to predict: pass --task regression"):
        load_dataset(DataSpec(name=str(tmp_path / "prices.npz")))
