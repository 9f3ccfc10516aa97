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
