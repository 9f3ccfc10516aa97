"""The ``Dataset`` every tier trains on, and how raw arrays become one.

Raw arrays are validated (shapes, numbers, NaN and infinity, labels), split deterministically into
train, validation and test sets (stratified by class where the class counts allow), and
standardized with statistics from the training split only: no information from the validation or
test sets leaks into training.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from shared.errors import DataError
from shared.spec import DataSpec

# Features whose training standard deviation is below this are constant: they are centred but
# not divided, so they stay finite.
MIN_SCALE = 1e-8


@dataclass(frozen=True)
class Dataset:
    """Train, validation and test splits of a classification dataset.

    Features are float64 arrays of shape ``(n, n_features)``, standardized with the training
    split's ``feature_mean`` and ``feature_scale``; labels are int64 arrays of shape ``(n,)`` with
    values in ``0 .. n_classes - 1``.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    feature_mean: np.ndarray
    feature_scale: np.ndarray
    feature_names: tuple[str, ...] | None = None
    description: str = ""

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def astype(self, dtype: str) -> Dataset:
        """The same dataset with features cast to ``dtype`` (labels stay int64)."""
        return dataclasses.replace(
            self,
            x_train=self.x_train.astype(dtype),
            x_val=self.x_val.astype(dtype),
            x_test=self.x_test.astype(dtype),
        )

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}


# Larger magnitudes overflow float64 when standardizing (the variance squares them).
MAX_FEATURE = 1e150


def validate_features(x: object, source: str) -> np.ndarray:
    """Features as a float64 ``(n, n_features)`` array; images are flattened row by row."""
    if np.iscomplexobj(x):  # type: ignore[arg-type]  # any object: that is what it checks
        raise DataError(f"{source}: features must be real numbers; got complex values")
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{source}: features must be numbers") from None
    if x.ndim < 2 or x.shape[0] == 0 or math.prod(x.shape[1:]) == 0:
        raise DataError(
            f"{source}: features must have shape (n_samples, n_features) with both above 0; "
            f"got {x.shape}"
        )
    x = x.reshape(x.shape[0], -1)
    bad = ~np.isfinite(x)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        what = "NaN" if np.isnan(x[row, col]) else "an infinite value"
        raise DataError(
            f"{source}: features contain {what} at row {row}, column {col} "
            f"({int(bad.sum())} non-finite values in all); remove or impute them"
        )
    huge = np.abs(x) > MAX_FEATURE
    if huge.any():
        row, col = (int(i) for i in np.argwhere(huge)[0])
        raise DataError(
            f"{source}: features must lie within ±{MAX_FEATURE:.0e}, so that their mean and "
            f"standard deviation can be computed; row {row}, column {col} holds "
            f"{x[row, col]:.3g} (rescale that column)"
        )
    return x


def validate_labels(
    y: object, n_samples: int, source: str, class_names: tuple[str, ...] | None = None
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Labels as int64 in ``0 .. k-1`` and the class names.

    Without ``class_names``, ``k = max(y) + 1`` and the names are ``"0" .. "k-1"``.
    """
    try:
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{source}: labels must be integers 0 .. n_classes-1") from None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != n_samples:
        raise DataError(
            f"{source}: labels must have shape ({n_samples},), one per sample; got {y.shape}"
        )
    bad = ~np.isfinite(y) | (y != np.round(y))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{source}: label {y[i]!r} at row {i} is not an integer class index")
    k = len(class_names) if class_names is not None else int(y.max()) + 1
    if class_names is None and k > max(n_samples, 2):
        raise DataError(
            f"{source}: labels go up to {k - 1} for {n_samples} samples; labels are class indices "
            f"0 .. k-1, and {k} classes would leave most of them without a sample"
        )
    out_of_range = (y < 0) | (y >= k)
    if out_of_range.any():
        i = int(np.argmax(out_of_range))
        raise DataError(
            f"{source}: label {int(y[i])} at row {i} is out of range; "
            f"labels must be in 0 .. {k - 1}"
        )
    if k < 2:
        raise DataError(f"{source}: a classifier needs at least 2 classes; the labels hold {k}")
    names = class_names if class_names is not None else tuple(str(c) for c in range(k))
    return y.astype(np.int64), tuple(names)


def _split(
    x: np.ndarray, y: np.ndarray, fraction: float, seed: int, n_classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out ``fraction`` of the samples; stratified when every class can appear in both."""
    n = len(y)
    n_held = math.ceil(fraction * n)
    if n_held < 1 or n - n_held < 1:
        raise DataError(f"cannot split {n} samples with fraction {fraction}: too few samples")
    counts = np.bincount(y, minlength=n_classes)
    present = counts > 0
    stratify = (
        y
        if counts[present].min() >= 2 and n_held >= present.sum() and n - n_held >= present.sum()
        else None
    )
    from sklearn.model_selection import train_test_split  # loaded when a split is made

    x_keep, x_held, y_keep, y_held = train_test_split(
        x, y, test_size=n_held, random_state=seed, stratify=stratify
    )
    return x_keep, y_keep, x_held, y_held


def make_dataset(
    name: str,
    x: object,
    y: object,
    spec: DataSpec,
    *,
    class_names: tuple[str, ...] | None = None,
    test: tuple[object, object] | None = None,
    feature_names: tuple[str, ...] | None = None,
    description: str = "",
) -> Dataset:
    """Validate, split and standardize raw arrays.

    ``test`` is an official test split, when the dataset has one; otherwise ``spec.test_fraction``
    of the samples is held out. The validation set is ``spec.val_fraction`` of what remains.
    """
    x = validate_features(x, name)
    y, class_names = validate_labels(y, x.shape[0], name, class_names)
    k = len(class_names)
    if test is None:
        x, y, x_test, y_test = _split(x, y, spec.test_fraction, spec.split_seed, k)
    else:
        x_test = validate_features(test[0], f"{name} (test split)")
        y_test, _ = validate_labels(test[1], x_test.shape[0], f"{name} (test split)", class_names)
        if x_test.shape[1] != x.shape[1]:
            raise DataError(
                f"{name}: the test split has {x_test.shape[1]} features, the training split "
                f"{x.shape[1]}"
            )
    # A different seed for the second split keeps the two choices independent.
    x_train, y_train, x_val, y_val = _split(x, y, spec.val_fraction, spec.split_seed + 1, k)
    if feature_names is not None and len(feature_names) != x.shape[1]:
        feature_names = None
    mean = x_train.mean(axis=0)
    scale = x_train.std(axis=0)
    scale = np.where(scale < MIN_SCALE, 1.0, scale)
    return Dataset(
        name=name,
        x_train=(x_train - mean) / scale,
        y_train=y_train,
        x_val=(x_val - mean) / scale,
        y_val=y_val,
        x_test=(x_test - mean) / scale,
        y_test=y_test,
        class_names=class_names,
        feature_mean=mean,
        feature_scale=scale,
        feature_names=feature_names,
        description=description,
    )
