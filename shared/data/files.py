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
from pathlib import Path

import numpy as np

from shared.data.dataset import Dataset, make_dataset
from shared.errors import DataError
from shared.spec import DataSpec

SUFFIXES = (".npz", ".csv")


def load_file(path: Path, spec: DataSpec) -> Dataset:
    if not path.is_file():
        raise DataError(f"dataset file not found: {path}")
    if path.suffix.lower() == ".npz":
        return _load_npz(path, spec)
    if path.suffix.lower() == ".csv":
        return _load_csv(path, spec)
    raise DataError(f"unsupported dataset file type {path.suffix!r} ({path}); use .npz or .csv")


def _load_npz(path: Path, spec: DataSpec) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise DataError(f"cannot read {path}: not a valid .npz archive ({exc})") from None
    missing = [key for key in ("x", "y") if key not in arrays]
    if missing:
        raise DataError(
            f"{path} must hold arrays 'x' and 'y' (and optionally 'class_names'); "
            f"it has {sorted(arrays) or 'none'}"
        )
    names = arrays.get("class_names")
    class_names = None if names is None else tuple(str(n) for n in np.ravel(names))
    return make_dataset(
        path.name,
        arrays["x"],
        arrays["y"],
        spec,
        class_names=class_names,
        description=f"user data from {path}",
    )


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _load_csv(path: Path, spec: DataSpec) -> Dataset:
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
    if width < 2:
        raise DataError(f"{path} needs at least one feature column and a label column")
    label = _label_index(spec.label_column, header, width, path)
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
    raw_labels = [row[label].strip() for row in rows]
    if all(_is_number(cell) for cell in raw_labels):
        y, class_names = np.array([float(cell) for cell in raw_labels]), None
    else:
        class_names = tuple(sorted(set(raw_labels)))
        lookup = {name: i for i, name in enumerate(class_names)}
        y = np.array([lookup[cell] for cell in raw_labels])
    feature_names = tuple(header[c] for c in feature_cols) if header else None
    return make_dataset(
        path.name,
        x,
        y,
        spec,
        class_names=class_names,
        feature_names=feature_names,
        description=f"user data from {path}",
    )


def _label_index(label_column: str | None, header: list[str] | None, width: int, path: Path) -> int:
    if label_column is None:
        return width - 1
    if header is not None and label_column in header:
        return header.index(label_column)
    if label_column.lstrip("-").isdigit() and -width <= int(label_column) < width:
        return int(label_column) % width
    known = f"; the header has {', '.join(header)}" if header else " (the file has no header)"
    raise DataError(f"{path}: no label column {label_column!r}{known}")
