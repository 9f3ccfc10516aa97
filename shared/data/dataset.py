"""The ``Dataset`` every tier trains on, and how raw arrays become one.

Raw arrays are validated (shapes, numbers, NaN and infinity, labels or numeric targets), split
deterministically into train, validation and test sets (stratified by class where the class
counts allow), and standardized with statistics from the training split only: no information
from the validation or test sets leaks into training. A regression's targets are standardized
the same way, so that every output starts on the same scale; predictions go back to the
targets' own units with ``Dataset.in_target_units``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from shared.errors import DataError
from shared.spec import DataSpec

# Features whose training standard deviation is below this are constant: they are centred but
# not divided, so they stay finite.
MIN_SCALE = 1e-8


@dataclass(frozen=True)
class Dataset:
    """Train, validation and test splits of a classification or regression dataset.

    Features are float64 arrays of shape ``(n, n_features)``, standardized with the training
    split's ``feature_mean`` and ``feature_scale``. For classification, ``y_*`` are int64 labels
    of shape ``(n,)`` with values in ``0 .. n_classes - 1``. For regression, ``y_*`` are float
    arrays of shape ``(n, n_targets)``, standardized with the training split's ``target_mean``
    and ``target_scale``; ``class_names`` is empty and ``target_names`` names the columns.
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
    task: str = "classification"
    target_names: tuple[str, ...] = ()
    target_mean: np.ndarray | None = None
    target_scale: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def n_outputs(self) -> int:
        """The model's output width: one per class, or one per target column."""
        return len(self.target_names) if self.task == "regression" else self.n_classes

    @property
    def target_scaling(self) -> tuple[np.ndarray, np.ndarray] | None:
        """A regression's ``(target_mean, target_scale)``; None for classification."""
        if self.target_mean is None or self.target_scale is None:
            return None
        return self.target_mean, self.target_scale

    def in_target_units(self, values: np.ndarray) -> np.ndarray:
        """Standardized targets or predictions ``(n, n_targets)`` in the targets' own units."""
        if self.target_scaling is None:
            raise ValueError("a classification dataset has no target units")
        return to_units(values, *self.target_scaling)

    def astype(self, dtype: str) -> Dataset:
        """The same dataset with features (and a regression's targets) cast to ``dtype``;
        labels stay int64."""
        cast = {f"x_{split}": getattr(self, f"x_{split}").astype(dtype) for split in SPLITS}
        if self.task == "regression":
            cast.update(
                {f"y_{split}": getattr(self, f"y_{split}").astype(dtype) for split in SPLITS}
            )
        return dataclasses.replace(self, **cast)

    def frozen(self) -> Dataset:
        """The same dataset with every split's arrays read-only (views: nothing is copied). A
        tier may then keep what it made of them (a framework's copy of the training set) from
        one ``fit`` call to the next, knowing they cannot have changed."""

        def read_only(a: np.ndarray) -> np.ndarray:
            view = a.view()
            view.flags.writeable = False
            return view

        arrays: dict[str, Any] = {f"{kind}_{split}": read_only(getattr(self, f"{kind}_{split}"))
                  for kind in ("x", "y") for split in SPLITS}  # fmt: skip
        return dataclasses.replace(self, **arrays)

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}


SPLITS = ("train", "val", "test")


def to_units(values: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Undo the targets' standardization: ``values * scale + mean``, in float64."""
    return np.asarray(values, dtype=np.float64) * scale + mean


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
    _check_values(x, f"{source}: features", "values", "remove or impute them",
                  ", so that their mean and standard deviation can be computed")  # fmt: skip
    return x


def _check_values(a: np.ndarray, what: str, unit: str, remedy: str, why: str = "") -> None:
    """A clear ``DataError`` at the first NaN, infinity or value beyond ``MAX_FEATURE`` of the
    2-D array ``a``, naming its row and column."""
    bad = ~np.isfinite(a)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(a[row, col]) else "an infinite value"
        raise DataError(
            f"{what} contain {kind} at row {row}, column {col} "
            f"({int(bad.sum())} non-finite {unit} in all); {remedy}"
        )
    huge = np.abs(a) > MAX_FEATURE
    if huge.any():
        row, col = (int(i) for i in np.argwhere(huge)[0])
        raise DataError(
            f"{what} must lie within ±{MAX_FEATURE:.0e}{why}; row {row}, column {col} holds "
            f"{a[row, col]:.3g} (rescale that column)"
        )


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
        raise DataError(
            f"{source}: label {y[i]:g} at row {i} is not an integer class index; for numbers to "
            f"predict, pass --task regression"
        )
    k = len(class_names) if class_names is not None else int(y.max()) + 1
    if class_names is None and k > max(n_samples, 2):
        raise DataError(
            f"{source}: labels go up to {k - 1} for {n_samples} samples; labels are class indices "
            f"0 .. k-1, and {k} classes would leave most of them without a sample (for numbers "
            f"to predict, pass --task regression)"
        )
    unused = k - len(np.unique(y[(y >= 0) & (y < k)]))
    if class_names is None and k > 4 and unused > k / 4:
        raise DataError(
            f"{source}: the labels leave {unused} of the classes 0 .. {k - 1} without a sample, "
            f"so they look like numbers to predict: pass --task regression, or number the "
            f"classes 0 .. k-1"
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


def validate_targets(
    y: object, n_samples: int, source: str, target_names: tuple[str, ...] | None = None
) -> tuple[np.ndarray, tuple[str, ...]]:
    """A regression's targets as float64 ``(n, n_targets)`` (a 1-D array is one target), and
    their names (``target``, or ``target_0`` ... for several, unless given)."""
    try:
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{source}: regression targets must be numbers") from None
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != n_samples or y.shape[1] == 0:
        raise DataError(
            f"{source}: regression targets must have shape ({n_samples},) or ({n_samples}, "
            f"n_targets), one row per sample; got {y.shape}"
        )
    _check_values(y, f"{source}: targets", "targets", "remove those rows")
    k = y.shape[1]
    if target_names is None or len(target_names) != k:
        target_names = ("target",) if k == 1 else tuple(f"target_{j}" for j in range(k))
    return y, tuple(target_names)


def standardization(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The training split's column means and standard deviations (1 for a constant column)."""
    mean = train.mean(axis=0)
    scale = train.std(axis=0)
    return mean, np.where(scale < MIN_SCALE, 1.0, scale)


def _standardized_targets(
    ys: dict[str, np.ndarray], names: tuple[str, ...], task: str
) -> dict[str, object]:
    """A regression's splits ``ys`` standardized in place with the training split's statistics,
    and the ``Dataset`` fields that describe them."""
    mean, scale = standardization(ys["y_train"])
    for key, value in ys.items():
        ys[key] = (value - mean) / scale
    return {"class_names": (), "task": task, "target_names": names, "target_mean": mean,
            "target_scale": scale}  # fmt: skip


def hold_out(
    x: np.ndarray, y: np.ndarray, fraction: float, seed: int, n_classes: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out ``fraction`` of the samples; for classification (``n_classes`` given),
    stratified when every class can appear in both parts."""
    n = len(y)
    n_held = math.ceil(fraction * n)
    if n_held < 1 or n - n_held < 1:
        raise DataError(f"cannot split {n} samples with fraction {fraction}: too few samples")
    stratify = None
    if n_classes is not None:
        counts = np.bincount(y, minlength=n_classes)
        present = counts > 0
        if (counts[present].min() >= 2 and n_held >= present.sum()
                and n - n_held >= present.sum()):  # fmt: skip
            stratify = y
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
    task: str = "classification",
    class_names: tuple[str, ...] | None = None,
    test: tuple[object, object] | None = None,
    feature_names: tuple[str, ...] | None = None,
    target_names: tuple[str, ...] | None = None,
    description: str = "",
) -> Dataset:
    """Validate, split and standardize raw arrays: ``y`` holds class labels (``task``
    ``classification``) or numeric targets (``regression``).

    ``test`` is an official test split, when the dataset has one; otherwise ``spec.test_fraction``
    of the samples is held out. The validation set is ``spec.val_fraction`` of what remains.
    """
    regression = task == "regression"

    def targets(values: object, n: int, source: str, classes: Any) -> tuple[np.ndarray, Any]:
        if regression:
            return validate_targets(values, n, source, target_names)
        return validate_labels(values, n, source, classes)

    x = validate_features(x, name)
    y, names = targets(y, x.shape[0], name, class_names)
    k = None if regression else len(names)
    if test is None:
        x, y, x_test, y_test = hold_out(x, y, spec.test_fraction, spec.split_seed, k)
    else:
        x_test = validate_features(test[0], f"{name} (test split)")
        # the training split's classes: a test label beyond them is out of range
        y_test, _ = targets(test[1], x_test.shape[0], f"{name} (test split)", names)
        if x_test.shape[1] != x.shape[1]:
            raise DataError(f"{name}: the test split has {x_test.shape[1]} features, the "
                            f"training split {x.shape[1]}")  # fmt: skip
    # A different seed for the second split keeps the two choices independent.
    x_train, y_train, x_val, y_val = hold_out(x, y, spec.val_fraction, spec.split_seed + 1, k)
    feature_names = feature_names if feature_names and len(feature_names) == x.shape[1] else None
    mean, scale = standardization(x_train)
    ys = {"y_train": y_train, "y_val": y_val, "y_test": y_test}
    extra: dict[str, object] = {"class_names": names}
    if regression:
        extra = _standardized_targets(ys, names, task)
    return Dataset(
        name=name,
        x_train=(x_train - mean) / scale,
        x_val=(x_val - mean) / scale,
        x_test=(x_test - mean) / scale,
        y_train=ys["y_train"],
        y_val=ys["y_val"],
        y_test=ys["y_test"],
        feature_mean=mean,
        feature_scale=scale,
        feature_names=feature_names,
        description=description,
        **extra,  # type: ignore[arg-type]
    )
