"""A user's own data: an ``.npz`` file with arrays ``x`` and ``y``, or a ``.csv`` file.

- ``.npz``: ``x`` of shape ``(n, ...)`` (images are flattened) and ``y``: integer labels
  ``0 .. k-1`` of shape ``(n,)``, with optionally ``class_names`` (``k`` strings); or, for a
  regression, numbers of shape ``(n,)`` or ``(n, n_targets)``, with optionally
  ``target_names``. Read without pickle.
- ``.csv``: one sample per row; every column but the target columns is a numeric feature. The
  first row is a header when none of its cells is a number, or when it numbers the columns
  ``0, 1, ..., k-1`` (what pandas writes for an array's columns; four columns or more). A UTF-8
  byte-order mark (Excel's "CSV UTF-8") is skipped. The target is the last column unless
  ``target`` names others (by header name or 0-based index; a regression may name several).
  A classifier's labels are integers ``0 .. k-1`` or any strings, which become classes in sorted
  order; a regression's targets are numbers. Empty cells count as missing, and are rejected.

A target that looks like the other task's (class codes 0 .. k-1 given to a regression, say) is
refused with the flag to pass, never guessed.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.data.dataset import Dataset, make_dataset
from shared.errors import DataError
from shared.fileio import Unreadable, file_problem, npz_bytes, npz_problem, read_bounded
from shared.resources import available_memory, require_dataset
from shared.spec import DataSpec

SUFFIXES = (".npz", ".csv")
# A regression target made of the whole numbers 0 .. k-1, every one present, with k at most this,
# is a column of class codes.
MAX_CODES = 20
CSV_MEMORY = 16
# A first row 0, 1, ..., k-1 of at least this many columns is a header (``_column_numbers``).
MIN_NUMBERED = 4


def load_file(path: Path, spec: DataSpec, task: str = "classification") -> Dataset:
    """A user's ``.npz`` or ``.csv`` file as a split, standardized ``Dataset`` for ``task``."""
    table = read_table(path, spec.target, task=task)
    if table.y is None:
        raise DataError(
            f"{path} must hold arrays 'x' and 'y' (and optionally "
            f"'{'target_names' if task == 'regression' else 'class_names'}'); it has no 'y'"
        )
    return make_dataset(
        path.name,
        table.x,
        table.y,
        spec,
        task=task,
        class_names=table.class_names,
        feature_names=table.feature_names,
        target_names=table.target_names,
        description=f"user data from {path}",
    )


@dataclass
class Table:
    """The contents of a user's file before any split: features, targets (None when the file
    has none), and the names found in it."""

    x: np.ndarray
    y: np.ndarray | None
    class_names: tuple[str, ...] | None = None
    feature_names: tuple[str, ...] | None = None
    target_names: tuple[str, ...] | None = None


def read_table(
    path: Path,
    target: tuple[str, ...] | str | None = None,
    n_features: int | None = None,
    task: str = "classification",
    n_targets: int = 1,
) -> Table:
    """The arrays of an ``.npz`` (``x``, optional ``y``, ``class_names``, ``target_names``) or
    ``.csv`` file, read for ``task``.

    A CSV holds feature columns and target columns (``target``, by name or index; the last
    ``n_targets`` by default), except when ``n_features`` is given and the file has exactly that
    many columns: then every column is a feature and there are no targets (data to predict).
    """
    if isinstance(target, str):  # one column, or several as on the command line: a,b
        target = tuple(part.strip() for part in target.split(","))
    problem = file_problem(path)
    if problem == "it is a folder":
        raise DataError(f"{path} is a folder, not a dataset file; give an .npz or .csv file")
    if problem == "not found":
        raise DataError(f"dataset file not found: {path}")
    if problem:  # a pipe, a device, a file this user may not read
        raise DataError(f"cannot read {path}: {problem}")
    if path.suffix.lower() == ".npz":
        return _read_npz(path, labels=n_features is None, task=task)
    if path.suffix.lower() == ".csv":
        return _read_csv(path, target, n_features, task, n_targets)
    raise DataError(f"unsupported dataset file type {path.suffix!r} ({path}); use .npz or .csv")


def _read_npz(path: Path, labels: bool, task: str) -> Table:
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
    y = arrays.get("y")
    if task != "regression" or y is None:
        return Table(arrays["x"], y, class_names)
    if y.dtype.kind in "iub" and y.ndim == 1 and _class_codes(y.tolist()):
        raise DataError(
            f"{path}: 'y' holds only the integers 0 .. {int(y.max())}, which look like class "
            "labels: for a classifier leave out --task regression; to predict them as numbers, "
            "store 'y' as floats"
        )
    if y.dtype.kind not in "iuf":
        raise DataError(f"{path}: 'y' holds {y.dtype} values; regression targets are numbers")
    names = arrays.get("target_names")
    target_names = None if names is None else tuple(str(n) for n in np.ravel(names))
    return Table(arrays["x"], y, target_names=target_names)


def _class_codes(values: list) -> bool:
    """Whether ``values`` are whole numbers making up exactly 0 .. k-1 with 2 <= k <= MAX_CODES:
    the codes of classes."""
    distinct = set(values)
    return 2 <= len(distinct) <= MAX_CODES and distinct == set(range(len(distinct)))


def _read_csv(
    path: Path, target: tuple[str, ...] | None, n_features: int | None, task: str, n_targets: int
) -> Table:
    header, rows = _csv_rows(path)
    width = len(header) if header else len(rows[0])
    unlabelled = n_features is not None and width == n_features and target is None
    if width < 2 and not unlabelled:
        raise DataError(f"{path} needs at least one feature column and a target column")
    targets = [] if unlabelled else _target_indices(target, header, width, path, n_targets)
    if len(targets) > 1 and task != "regression":
        raise DataError(
            f"{path}: a classifier predicts one label column, and target names {len(targets)}; "
            "to predict several numbers, pass --task regression"
        )
    if len(targets) == width:
        raise DataError(f"{path}: every column is a target, which leaves no features")
    feature_cols = [c for c in range(width) if c not in targets]
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
    if not targets:
        return Table(x, None, None, feature_names)
    if task == "regression":
        return _regression_targets(path, header, rows, targets, x, feature_names)
    raw_labels = [row[targets[0]].strip() for row in rows]
    if all(_is_number(cell) for cell in raw_labels):
        y, class_names = np.array([float(cell) for cell in raw_labels]), None
    else:
        class_names = tuple(sorted(set(raw_labels)))
        lookup = {name: i for i, name in enumerate(class_names)}
        y = np.array([lookup[cell] for cell in raw_labels])
    return Table(x, y, class_names, feature_names)


def _csv_rows(path: Path) -> tuple[list[str] | None, list[list[str]]]:
    """The header (None when the first row holds a number) and the data rows, each as wide as
    the first."""
    # Parsed into rows of strings, a CSV takes about CSV_MEMORY times its size in memory.
    limit = max(available_memory() // CSV_MEMORY, 1)
    try:
        # utf-8-sig: a byte-order mark (Excel's "CSV UTF-8" writes one) is not part of a name
        text = read_bounded(path, limit).decode("utf-8-sig")
        rows = [row for row in csv.reader(io.StringIO(text, newline=""))
                if any(cell.strip() for cell in row)]  # fmt: skip
    except Unreadable as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {path} as CSV ({exc})") from None
    if not rows:
        raise DataError(f"{path} is empty")
    header = None
    if not any(_is_number(cell) for cell in rows[0]) or _column_numbers(rows[0]):
        header, rows = [cell.strip() for cell in rows[0]], rows[1:]
    if not rows:
        raise DataError(f"{path} has a header but no data rows")
    width = len(header) if header else len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise DataError(f"{path}: data row {i} has {len(row)} columns, expected {width}")
    return header, rows


def _column_numbers(row: list[str]) -> bool:
    """Whether ``row`` is the header pandas writes for an array's columns: exactly ``0, 1, ...,
    k-1``, with at least ``MIN_NUMBERED`` columns (fewer could be a sample such as ``0,1``)."""
    return len(row) >= MIN_NUMBERED and [cell.strip() for cell in row] == [
        str(i) for i in range(len(row))
    ]


def _regression_targets(
    path: Path,
    header: list[str] | None,
    rows: list[list[str]],
    targets: list[int],
    x: np.ndarray,
    feature_names: tuple[str, ...] | None,
) -> Table:
    """The target columns as numbers, refusing a column that looks like class labels."""
    names = tuple(header[c] if header else str(c) for c in targets)
    y = np.empty((len(rows), len(targets)))
    for j, (c, name) in enumerate(zip(targets, names)):
        cells = [row[c].strip() for row in rows]
        for i, cell in enumerate(cells):
            if cell == "":
                raise DataError(
                    f"{path}: data row {i} has no value in target column {name!r}; remove the "
                    "row or fill it in"
                )
            if not _is_number(cell):
                raise DataError(
                    f"{path}: data row {i}, target column {name!r} holds {cell!r}, not a number; "
                    "a regression predicts numbers (for class labels, leave out --task regression)"
                )
        if all(cell.lstrip("+-").isdigit() for cell in cells) and _class_codes(
            [int(cell) for cell in cells]
        ):
            raise DataError(
                f"{path}: target column {name!r} holds only the integers 0 .. "
                f"{max(int(cell) for cell in cells)}, which look like class labels: for a "
                "classifier leave out --task regression; to predict them as numbers, write them "
                "with a decimal point (1.0)"
            )
        y[:, j] = [float(cell) for cell in cells]
    return Table(x, y, None, feature_names, names if header else None)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _target_indices(
    target: tuple[str, ...] | None, header: list[str] | None, width: int, path: Path,
    n_targets: int = 1,
) -> list[int]:  # fmt: skip
    if target is None:
        return list(range(max(width - n_targets, 0), width))
    indices = []
    for column in target:
        if header is not None and column in header:
            index = header.index(column)
        elif column.lstrip("-").isdigit() and -width <= int(column) < width:
            index = int(column) % width
        else:
            known = (
                f"; the header has {', '.join(header)}" if header else " (the file has no header)"
            )
            raise DataError(f"{path}: no target column {column!r}{known}")
        if index in indices:
            raise DataError(f"{path}: target names column {column!r} twice")
        indices.append(index)
    return indices
