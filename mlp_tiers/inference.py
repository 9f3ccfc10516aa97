"""Using a trained model: predictions for new data, and an evaluation on any labelled data.

A run folder (or its ``checkpoint.npz``) holds what inference needs: the specs, the weights, the
class names, and the training split's feature statistics, so that new data is standardized
exactly as the training data was (``x_std = (x - mean) / scale``); a regressor's also holds its
training targets' statistics, which turn its predictions back into the targets' units. Any
installed tier can load the weights: by default the tier that trained them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlp_tiers.registry import TIERS, get_tier
from shared.checkpoint import Checkpoint, load_checkpoint
from shared.data.dataset import validate_features
from shared.data.files import read_table
from shared.errors import CheckpointError, DataError, SpecError

if TYPE_CHECKING:
    from shared.contract import Tier
    from shared.metrics import Evaluation, RegressionEvaluation


def checkpoint_path(run_or_checkpoint: str | Path, tier: str | None = None) -> Path:
    """The checkpoint of a run folder (its ``checkpoint.npz``), of a compare folder (the one
    ``compare`` kept for ``tier``, under ``checkpoints/``), or the checkpoint file itself."""
    from shared.fileio import Unreadable, inside

    path = Path(run_or_checkpoint).expanduser()
    if not path.is_dir():
        return path
    name = "checkpoint.npz"
    if (path / "compare.json").is_file():
        name = _compared_checkpoint(path, tier)
    try:  # a run folder's own checkpoint, not a link out of it
        found = inside(path, name)
    except Unreadable as exc:
        raise CheckpointError(f"{path}: {exc}; give a run folder or a checkpoint file") from None
    if not found.exists():
        raise CheckpointError(
            f"{path} holds no {name}; give a run folder of mlp-tiers train (written without "
            "--no-save), a compare folder with --tier, or a checkpoint file"
        )
    return found


def _compared_checkpoint(folder: Path, tier: str | None) -> str:
    """The name of the checkpoint ``compare`` kept in ``folder`` for ``tier``."""
    kept = sorted(p.stem for p in (folder / "checkpoints").glob("*.npz"))
    if not kept:
        raise CheckpointError(
            f"{folder} is a compare folder that kept no checkpoints (written by an older "
            "mlp-tiers); run compare again, or train one tier with mlp-tiers train"
        )
    if tier is None:
        raise CheckpointError(
            f"{folder} is a compare folder of {', '.join(kept)}; choose the model with --tier"
        )
    if tier not in kept:
        raise CheckpointError(
            f"--tier {tier}: the compare folder {folder} holds the models of {', '.join(kept)} only"
        )
    return f"checkpoints/{tier}.npz"


@dataclass
class Trained:
    """A trained model ready for inference: its checkpoint, scaling and class names (for a
    regressor: its target names and the training targets' scaling)."""

    checkpoint: Checkpoint
    mean: np.ndarray
    scale: np.ndarray
    class_names: tuple[str, ...]
    target_scaling: tuple[np.ndarray, np.ndarray] | None = None
    target_names: tuple[str, ...] = ()

    @property
    def is_regression(self) -> bool:
        return self.checkpoint.model.is_regression

    def standardize(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.scale

    def in_target_units(self, outputs: np.ndarray) -> np.ndarray:
        """A regressor's standardized predictions in the targets' units."""
        assert self.target_scaling is not None
        mean, scale = self.target_scaling
        return np.asarray(outputs, dtype=np.float64) * scale + mean

    def tier(self, name: str | None = None) -> Tier:
        """An instance of tier ``name`` (by default the one that trained the model) holding the
        trained weights, on the CPU."""
        name = name or self.checkpoint.tier
        if name not in TIERS:
            raise SpecError(f"unknown tier {name!r}; registered tiers are {', '.join(TIERS)}")
        train = dataclasses.replace(self.checkpoint.train, device="cpu", dropout=0.0)
        return get_tier(name)(self.checkpoint.model, train, self.checkpoint.params)


def load_trained(run_or_checkpoint: str | Path, tier: str | None = None) -> Trained:
    """The model of a run folder, compare folder (``tier``'s) or checkpoint, with its scaling
    statistics (recomputed from its dataset for a checkpoint written before the statistics
    travelled with it)."""
    checkpoint = load_checkpoint(checkpoint_path(run_or_checkpoint, tier))
    model = checkpoint.model
    regression = model.is_regression
    scaling, targets = checkpoint.scaling, checkpoint.target_scaling
    names = checkpoint.target_names if regression else checkpoint.class_names
    if (scaling is None or (regression and targets is None)) and checkpoint.data is not None:
        from shared.data import load_dataset

        data = load_dataset(checkpoint.data, model.task)
        scaling, targets = (data.feature_mean, data.feature_scale), data.target_scaling
        names = data.target_names if regression else data.class_names
    if scaling is None or (regression and targets is None):
        raise CheckpointError(
            f"{run_or_checkpoint} records neither the scaling of its features (and targets) nor "
            "its dataset, so new data cannot be standardized as its training data was"
        )
    mean, scale = scaling
    if regression:
        names = names or tuple(f"target_{j}" for j in range(model.n_outputs))
        return Trained(checkpoint, np.asarray(mean), np.asarray(scale), (), targets, tuple(names))
    names = names or tuple(str(i) for i in range(model.n_outputs))
    return Trained(checkpoint, np.asarray(mean), np.asarray(scale), tuple(names))


def read_inputs(
    path: str | Path, trained: Trained, target: str | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The features of a user's ``.npz`` or ``.csv`` file, standardized for ``trained``, and its
    labels (a regressor's targets, standardized) if it has any; a clear ``DataError`` when the
    shapes do not fit the model."""
    path = Path(path).expanduser()
    model = trained.checkpoint.model
    n_inputs = model.n_inputs
    # a regressor's file may end in its target columns, all of them by default
    n_targets = model.n_outputs if model.is_regression else 1
    table = read_table(path, target, n_features=n_inputs, task=model.task, n_targets=n_targets)
    x = validate_features(table.x, str(path))
    if x.shape[1] != n_inputs:
        extra = f"{model.n_outputs} target" if model.is_regression else "one label"
        raise DataError(
            f"{path} has {x.shape[1]} feature columns, but the model takes {n_inputs} (a CSV "
            f"may add {extra} column{'s' if model.n_outputs > 1 and model.is_regression else ''}"
            f": {n_inputs + (model.n_outputs if model.is_regression else 1)} columns in all)"
        )
    y = None
    if table.y is not None:
        y = targets_for(table, trained, path) if model.is_regression else labels_for(
            table, trained, path
        )  # fmt: skip
    return model_inputs(trained, x, str(path)), y


# The largest standardized feature a model computes with, by its dtype: beyond it a square (the
# L2 of a first layer's products, a regressor's error) leaves the dtype's range (float32's ends
# at 3.4e38, float64's at 1.8e308).
MAX_INPUT = {"float32": 1e18, "float64": 1e150}


def model_inputs(trained: Trained, x: np.ndarray, source: str) -> np.ndarray:
    """``x`` standardized as the training data was and cast to the model's dtype, refused with a
    ``DataError`` naming the first value the model cannot compute with in its dtype."""
    dtype = trained.checkpoint.train.dtype
    standardized = trained.standardize(x)
    limit = MAX_INPUT.get(dtype, MAX_INPUT["float32"])
    huge = ~(np.abs(standardized) <= limit)
    if huge.any():
        row, col = (int(i) for i in np.argwhere(huge)[0])
        raise DataError(
            f"{source}: row {row}, column {col} holds {x[row, col]:.3g}, which standardized as "
            f"the training data was is {standardized[row, col]:.3g}, beyond the ±{limit:.0e} a "
            f"{dtype} model computes with (rescale that column as the training data was)"
        )
    return standardized.astype(dtype)


def model_outputs(tier: Tier, x: np.ndarray, source: str) -> np.ndarray:
    """``tier.predict_proba(x)``, refused with a ``DataError`` when an output is not finite
    (inputs far from the training data can overflow the model's dtype in a hidden layer)."""
    outputs = np.asarray(tier.predict_proba(x))
    bad = ~np.isfinite(outputs).all(axis=1)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            f"{source}: the model's outputs for row {row} are not finite ({int(bad.sum())} rows "
            f"in all): its inputs overflow the {tier.dtype} model; those rows are far outside "
            "the training data"
        )
    return outputs


def targets_for(table: Any, trained: Trained, path: Path) -> np.ndarray:
    """A file's regression targets, standardized as the model's training targets were."""
    from shared.data.dataset import validate_targets

    y, _ = validate_targets(table.y, len(table.x), str(path))
    k = trained.checkpoint.model.n_outputs
    if y.shape[1] != k:
        raise DataError(f"{path} has {y.shape[1]} target columns, but the model predicts {k}")
    assert trained.target_scaling is not None
    mean, scale = trained.target_scaling
    return ((y - mean) / scale).astype(trained.checkpoint.train.dtype)


def labels_for(table: Any, trained: Trained, path: Path) -> np.ndarray:
    """The file's labels as indices into the model's classes: matched by name where the file
    names its classes, else taken as indices; a clear error for a label the model lacks."""
    k = len(trained.class_names)
    y = np.asarray(table.y, dtype=np.float64)
    if y.ndim != 1 or not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
        raise DataError(f"{path}: labels must be whole numbers or class names, one per sample")
    y = y.astype(np.int64)
    if table.class_names is not None:
        unknown = sorted(set(table.class_names) - set(trained.class_names))
        if unknown:
            raise DataError(
                f"{path} has classes {unknown} that the model does not know; its classes are "
                f"{', '.join(trained.class_names)}"
            )
        lookup = np.array([trained.class_names.index(name) for name in table.class_names])
        return lookup[y]
    if y.size and (y.min() < 0 or y.max() >= k):
        raise DataError(
            f"{path}: labels must lie in 0 .. {k - 1} (the model's {k} classes); got "
            f"{y.min()} .. {y.max()}"
        )
    return y


def evaluation_splits(
    trained: Trained, dataset: str, label_column: str | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The labelled data to evaluate ``trained`` on, standardized as its training data was: the
    three splits of a registered dataset (the run's own splits when it is the run's dataset),
    or the one labelled file ``dataset`` names."""
    from shared.data import SOURCES, load_dataset
    from shared.spec import DataSpec

    checkpoint = trained.checkpoint
    task = checkpoint.model.task
    if dataset not in SOURCES:
        x, y = read_inputs(Path(dataset), trained, label_column)
        if y is None:
            raise DataError(f"{dataset} has no labels to evaluate against; use mlp-tiers predict")
        return {Path(dataset).name: (x, y)}
    if SOURCES[dataset].task != task:
        kind = "regressor" if task == "regression" else "classifier"
        ours = [name for name, source in SOURCES.items() if source.task == task]
        raise DataError(
            f"the model is a {kind}, and {dataset} is a {SOURCES[dataset].task} dataset; "
            f"evaluate it on {task} data ({', '.join(ours)}, or a file)"
        )
    same = checkpoint.data is not None and checkpoint.data.name == dataset
    spec = checkpoint.data if same and checkpoint.data else DataSpec(name=dataset)
    data = load_dataset(spec, task)
    if data.n_features != checkpoint.model.n_inputs:
        raise DataError(
            f"{dataset} has {data.n_features} features, but the model takes "
            f"{checkpoint.model.n_inputs}"
        )
    splits = {}
    for split in ("train", "val", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        raw = x * data.feature_scale + data.feature_mean  # as the file had it
        x = model_inputs(trained, raw, f"{dataset} ({split} split)")
        if task == "regression":
            if data.n_outputs != checkpoint.model.n_outputs:
                raise DataError(
                    f"{dataset} has {data.n_outputs} targets, but the model predicts "
                    f"{checkpoint.model.n_outputs}"
                )
            mean, scale = trained.target_scaling  # type: ignore[misc]
            splits[split] = (x, ((data.in_target_units(y) - mean) / scale).astype(x.dtype))
            continue
        if y.size and y.max() >= len(trained.class_names):
            raise DataError(
                f"{dataset} has more classes than the model's {len(trained.class_names)}"
            )
        splits[split] = (x, y)
    return splits


def evaluate_trained(
    tier: Tier, splits: dict[str, tuple[np.ndarray, np.ndarray]], trained: Trained
) -> dict[str, Evaluation | RegressionEvaluation]:
    """``tier``'s evaluation on each split: loss, accuracy, per-class scores, confusion; for a
    regressor, MSE, RMSE, MAE and R² in the targets' units."""
    from shared.contract import check_inputs
    from shared.metrics import evaluate_for

    evaluations = {}
    for split, (x, y) in splits.items():
        check_inputs(x, tier.model_spec, tier.dtype)
        evaluations[split] = evaluate_for(
            tier.model_spec, model_outputs(tier, x, split), y, trained.target_scaling
        )
    return evaluations


def predictions_csv(
    predicted: np.ndarray, probabilities: np.ndarray, names: tuple[str, ...]
) -> str:
    """One CSV row per sample: the predicted class's name and index, then each probability."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["predicted", "class_index", *(f"p({name})" for name in names)])
    for index, row in zip(predicted, probabilities):
        writer.writerow([names[index], int(index), *(f"{p:.6g}" for p in row)])
    return buffer.getvalue()


def regression_csv(predicted: np.ndarray, names: tuple[str, ...]) -> str:
    """One CSV row per sample: each target's prediction, in the targets' units."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([f"predicted {name}" for name in names])
    for row in predicted:
        writer.writerow([f"{value:.8g}" for value in row])
    return buffer.getvalue()


def write_regression_predictions(path: str, predicted: np.ndarray, names: tuple[str, ...]) -> None:
    """A regressor's predictions as ``.npz`` (arrays ``predicted (n, n_targets)`` and
    ``target_names``) or ``.csv`` (``regression_csv``), by the file name's ending; atomically."""
    from shared.fileio import atomic_write

    if path.lower().endswith(".npz"):
        with atomic_write(path) as handle:
            np.savez(handle, predicted=predicted, target_names=np.array(names))
        return
    if not path.lower().endswith(".csv"):
        raise SpecError(f"--out takes a .csv or .npz file name; got {path!r}")
    with atomic_write(path, "w") as handle:
        handle.write(regression_csv(predicted, names))


def write_predictions(
    path: str, predicted: np.ndarray, probabilities: np.ndarray, names: tuple[str, ...]
) -> None:
    """The predictions as ``.npz`` (arrays ``predicted``, ``probabilities``, ``class_names``) or
    ``.csv`` (``predictions_csv``), by the file name's ending; written atomically."""
    from shared.fileio import atomic_write

    if path.lower().endswith(".npz"):
        with atomic_write(path) as handle:
            np.savez(handle, predicted=predicted, probabilities=probabilities,
                     class_names=np.array(names))  # fmt: skip
        return
    if not path.lower().endswith(".csv"):
        raise SpecError(f"--out takes a .csv or .npz file name; got {path!r}")
    with atomic_write(path, "w") as handle:
        handle.write(predictions_csv(predicted, probabilities, names))
