"""A user's own data: an ``.npz`` file with arrays ``x`` and ``y``, or a ``.csv`` file.

- ``.npz``: ``x`` of shape ``(n, ...)`` (images are flattened), ``y`` of shape ``(n,)`` with integer
  labels ``0 .. k-1``, and optionally ``class_names`` (``k`` strings). Read without pickle.
- ``.csv``: one sample per row; every column but the label column is a numeric feature. The first
  row is a header when none of its cells is a number. The label column is the last one unless
  ``label_column`` names another (by header name or 0-based index); labels are integers ``0 ..
  k-1`` or any strings, which become classes in sorted order. Empty cells count as missing (NaN),
  and are rejected.
"""

from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.data.dataset import Dataset, make_dataset
from shared.errors import DataError
from shared.fileio import npz_bytes, npz_problem
from shared.resources import require_dataset
from shared.spec import DataSpec

SUFFIXES = (".npz", ".csv")


def load_file(path: Path, spec: DataSpec) -> Dataset:
    """A user's ``.npz`` or ``.csv`` file as a split, standardized ``Dataset``."""
    table = read_table(path, spec.label_column)
    if table.y is None:
        raise DataError(
            f"{path} must hold arrays 'x' and 'y' (and optionally 'class_names'); it has no 'y'"
        )
    return make_dataset(
        path.name,
        table.x,
        table.y,
        spec,
        class_names=table.class_names,
        feature_names=table.feature_names,
        description=f"user data from {path}",
    )


@dataclass
class Table:
    """The contents of a user's file before any split: features, labels (None when the file has
    none), and the names found in it."""

    x: np.ndarray
    y: np.ndarray | None
    class_names: tuple[str, ...] | None = None
    feature_names: tuple[str, ...] | None = None


def read_table(path: Path, label_column: str | None = None, n_features: int | None = None) -> Table:
    """The arrays of an ``.npz`` (``x``, optional ``y`` and ``class_names``) or ``.csv`` file.

    A CSV holds feature columns and a label column (``label_column``, by name or index; the last
    by default), except when ``n_features`` is given and the file has exactly that many
    columns: then every column is a feature and there are no labels (data to predict).
    """
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a dataset file; give an .npz or .csv file")
    if not path.is_file():
        raise DataError(f"dataset file not found: {path}")
    if path.suffix.lower() == ".npz":
        return _read_npz(path, labels=n_features is None)
    if path.suffix.lower() == ".csv":
        return _read_csv(path, label_column, n_features)
    raise DataError(f"unsupported dataset file type {path.suffix!r} ({path}); use .npz or .csv")


def _read_npz(path: Path, labels: bool) -> Table:
    problem = npz_problem(path)
    if problem:
        raise DataError(f"cannot read {path}: {problem}")
    try:
        claimed = npz_bytes(path)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise DataError(f"cannot read {path}: not a valid .npz archive ({exc})") from None
    # require_dataset counts 8-byte values twice (the file's and its standardized copy).
    require_dataset((claimed / 16,), f"{path}, as its array headers describe it,")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise DataError(f"cannot read {path}: not a valid .npz archive ({exc})") from None
    found = sorted(arrays) or "none"
    if labels and ("x" not in arrays or "y" not in arrays):
        raise DataError(
            f"{path} must hold arrays 'x' and 'y' (and optionally 'class_names'); it has {found}"
        )
    if "x" not in arrays:
        raise DataError(
            f"{path} must hold an array 'x' of features (and optionally 'y' and 'class_names'); "
            f"it has {found}"
        )
    names = arrays.get("class_names")
    class_names = None if names is None else tuple(str(n) for n in np.ravel(names))
    return Table(arrays["x"], arrays.get("y"), class_names)


def _read_csv(path: Path, label_column: str | None, n_features: int | None) -> Table:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {path} as CSV ({exc})") from None
    if not rows:
        raise DataError(f"{path} is empty")
    header = None
    if not any(_is_number(cell) for cell in rows[0]):
        header, rows = [cell.strip() for cell in rows[0]], rows[1:]
    if not rows:
        raise DataError(f"{path} has a header but no data rows")
    width = len(header) if header else len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise DataError(f"{path}: data row {i} has {len(row)} columns, expected {width}")
    unlabelled = n_features is not None and width == n_features and label_column is None
    if width < 2 and not unlabelled:
        raise DataError(f"{path} needs at least one feature column and a label column")
    label = None if unlabelled else _label_index(label_column, header, width, path)
    feature_cols = [c for c in range(width) if c != label]
    x = np.empty((len(rows), len(feature_cols)))
    for i, row in enumerate(rows):
        for j, c in enumerate(feature_cols):
            cell = row[c].strip()
            if cell == "":
                x[i, j] = np.nan
            elif _is_number(cell):
                x[i, j] = float(cell)
            else:
                raise DataError(f"{path}: data row {i}, column {c} holds {cell!r}, not a number")
    feature_names = tuple(header[c] for c in feature_cols) if header else None
    if label is None:
        return Table(x, None, None, feature_names)
    raw_labels = [row[label].strip() for row in rows]
    if all(_is_number(cell) for cell in raw_labels):
        y, class_names = np.array([float(cell) for cell in raw_labels]), None
    else:
        class_names = tuple(sorted(set(raw_labels)))
        lookup = {name: i for i, name in enumerate(class_names)}
        y = np.array([lookup[cell] for cell in raw_labels])
    return Table(x, y, class_names, feature_names)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _label_index(label_column: str | None, header: list[str] | None, width: int, path: Path) -> int:
    if label_column is None:
        return width - 1
    if header is not None and label_column in header:
        return header.index(label_column)
    if label_column.lstrip("-").isdigit() and -width <= int(label_column) < width:
        return int(label_column) % width
    known = f"; the header has {', '.join(header)}" if header else " (the file has no header)"
    raise DataError(f"{path}: no label column {label_column!r}{known}")
