"""Framework-neutral checkpoints: one ``.npz`` file that any tier writes and any tier reads.

Layout of the archive (every entry a plain NumPy array, read with ``allow_pickle=False``):

- ``params/{i}/W``, ``params/{i}/b``: kernel ``(n_in, n_out)`` and bias of layer ``i + 1`` (the
  keys count from 0, the layers from 1: ``params/0/W`` is ``W_1``);
- ``slots/{name}/{i}/W``, ``slots/{name}/{i}/b``: the optimizer's per-parameter state, with the
  same shapes (``v`` for momentum and Nesterov; ``m`` and ``v`` for Adam; ``s`` for RMSprop);
- ``best/{i}/W``, ``best/{i}/b``: the best weights so far, when early stopping is on;
- ``scaling/mean``, ``scaling/scale``: the training split's feature statistics, so that new data
  is standardized as the training data was (``mlp-tiers predict`` and ``evaluate``);
- ``target_scaling/mean``, ``target_scaling/scale``: a regressor's training-target statistics,
  so that its predictions go back to the targets' units;
- ``meta``: a JSON document (a string array): format and version, the tier that wrote it, the
  step and epoch counters, the three specs, the history so far, early-stopping state and the
  library versions.

Files are written to a temporary name and renamed, so an interrupted save leaves the previous
checkpoint intact.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from shared.errors import CheckpointError, SpecError
from shared.fileio import atomic_write, npz_bytes, npz_problem
from shared.init import Params, check_params
from shared.packages import versions
from shared.resources import available_memory, size
from shared.spec import DataSpec, ModelSpec, TrainSpec, build, to_dict

if TYPE_CHECKING:
    from shared.data import Dataset

FORMAT = "mlp-tiers-checkpoint"
# Version 2: every history record holds the training accuracy, a number, or null for an epoch
# trained before it was recorded (and both accuracies are null for a regressor, which has none).
# Version 1 files, written before that, are read too: their records may lack it, and are read
# with it null (an empty cell in history.csv).
VERSION = 2
READS = (1, 2)


@dataclass
class Checkpoint:
    """Everything needed to continue a run exactly where it stopped.

    Attributes:
        params: ``[(W, b), ...]`` as NumPy arrays.
        slots: optimizer state by slot name, each shaped like ``params``.
        step: optimizer steps taken so far (Keras's ``optimizer.iterations``).
        epoch: completed epochs.
        model, train, data: the specs of the run.
        tier: name of the tier that wrote the checkpoint.
        history: per-epoch records so far (see ``shared.history.History``).
        best: best weights so far, when early stopping is on.
        early_stopping: early-stopping counters, when early stopping is on.
        scaling: the training features' ``(mean, scale)``: ``x_std = (x - mean) / scale``.
        class_names: the names of the classes, in label order.
        target_scaling: a regressor's training targets' ``(mean, scale)``.
        target_names: a regressor's target columns, in output order.
    """

    params: Params
    model: ModelSpec
    train: TrainSpec
    slots: dict[str, Params] = field(default_factory=dict)
    step: int = 0
    epoch: int = 0
    data: DataSpec | None = None
    tier: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    best: Params | None = None
    early_stopping: dict[str, Any] | None = None
    scaling: tuple[np.ndarray, np.ndarray] | None = None
    class_names: tuple[str, ...] | None = None
    target_scaling: tuple[np.ndarray, np.ndarray] | None = None
    target_names: tuple[str, ...] | None = None

    @classmethod
    def of(
        cls,
        tier: str,
        model: ModelSpec,
        train: TrainSpec,
        params: Params,
        slots: dict[str, list[np.ndarray]],
        step: int,
        epoch: int,
        history: Sequence[dict[str, Any]],
        best: Params | None = None,
        early_stopping: dict[str, Any] | None = None,
    ) -> Checkpoint:
        """The checkpoint of tier ``tier`` after ``epoch`` epochs and ``step`` optimizer steps,
        with its optimizer ``slots`` given flat (``{name: [W1, b1, W2, b2, ...]}``)."""
        return cls(
            params=params,
            model=model,
            train=train,
            slots={name: pairs(arrays) for name, arrays in slots.items()},
            step=step,
            epoch=epoch,
            tier=tier,
            history=list(history),
            best=best,
            early_stopping=early_stopping,
        )

    def check_fits(self, model: ModelSpec, optimizer: str, slot_names: Any) -> None:
        """A clear ``CheckpointError`` unless this checkpoint fits a tier built for ``model``
        whose optimizer ``optimizer`` keeps the slots ``slot_names``."""
        if self.model != model:
            raise CheckpointError(
                "the checkpoint's model spec differs from this model's; build the tier from "
                "checkpoint.model"
            )
        if set(self.slots) != set(slot_names):
            raise CheckpointError(
                f"the checkpoint holds optimizer state {sorted(self.slots) or 'none'}, but "
                f"optimizer {optimizer!r} keeps {list(slot_names) or 'none'}"
            )

    def flat_slots(self, dtype: str) -> dict[str, list[np.ndarray]]:
        """The optimizer slots as ``{name: [W1, b1, W2, b2, ...]}`` in ``dtype``."""
        return {
            name: [np.asarray(a, dtype) for pair in slot for a in pair]
            for name, slot in self.slots.items()
        }


def pairs(arrays: list[Any]) -> Params:
    """``[W1, b1, W2, b2, ...]`` -> ``[(W1, b1), (W2, b2), ...]``."""
    return [(arrays[i], arrays[i + 1]) for i in range(0, len(arrays), 2)]


def _flatten(prefix: str, params: Params) -> dict[str, np.ndarray]:
    arrays = {}
    for i, (W, b) in enumerate(params):
        arrays[f"{prefix}/{i}/W"] = np.asarray(W)
        arrays[f"{prefix}/{i}/b"] = np.asarray(b)
    return arrays


def _unflatten(prefix: str, archive: dict[str, np.ndarray]) -> Params:
    params: Params = []
    while f"{prefix}/{len(params)}/W" in archive:
        i = len(params)
        params.append((archive[f"{prefix}/{i}/W"], archive[f"{prefix}/{i}/b"]))
    return params


def save_checkpoint(path: str | Path, checkpoint: Checkpoint) -> Path:
    """Write ``checkpoint`` to ``path`` atomically and return the path."""
    path = Path(path)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "tier": checkpoint.tier,
        "step": int(checkpoint.step),
        "epoch": int(checkpoint.epoch),
        "model": to_dict(checkpoint.model),
        "train": to_dict(checkpoint.train),
        "data": None if checkpoint.data is None else to_dict(checkpoint.data),
        "slots": sorted(checkpoint.slots),
        "history": checkpoint.history,
        "early_stopping": checkpoint.early_stopping,
        "class_names": None if checkpoint.class_names is None else list(checkpoint.class_names),
        "target_names": None if checkpoint.target_names is None else list(checkpoint.target_names),
        "versions": versions(),
    }
    arrays = _flatten("params", checkpoint.params)
    for name, slot in checkpoint.slots.items():
        arrays.update(_flatten(f"slots/{name}", slot))
    if checkpoint.best is not None:
        arrays.update(_flatten("best", checkpoint.best))
    if checkpoint.scaling is not None:
        arrays["scaling/mean"], arrays["scaling/scale"] = map(np.asarray, checkpoint.scaling)
    if checkpoint.target_scaling is not None:
        arrays["target_scaling/mean"], arrays["target_scaling/scale"] = map(
            np.asarray, checkpoint.target_scaling
        )
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_write(path) as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy's stub types allow_pickle only
    return path


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by any tier; a clear ``CheckpointError`` if it cannot."""
    path = Path(path)
    archive, meta = _read_archive(path)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an mlp-tiers checkpoint")
    if meta.get("version") not in READS:
        raise CheckpointError(
            f"checkpoint {path} has format version {meta.get('version')}; "
            f"this mlp-tiers reads versions {' and '.join(map(str, READS))}"
        )
    _check_meta(meta, path)
    try:
        checkpoint = _checkpoint_from(archive, meta, path)
    except (KeyError, TypeError, SpecError) as exc:
        raise CheckpointError(f"checkpoint {path} is incomplete or inconsistent: {exc}") from None
    _check_shapes(checkpoint, path)
    _check_finite(checkpoint, path)
    return checkpoint


def _read_archive(path: Path) -> tuple[dict[str, np.ndarray], Any]:
    """The arrays of the ``.npz`` file at ``path`` and its parsed ``meta`` entry, after checking
    that it is a readable archive whose arrays fit in memory."""
    corrupted = "the file is corrupted or not an .npz archive"
    problem = npz_problem(path)
    if problem == "not found":
        raise CheckpointError(f"checkpoint not found: {path}")
    if problem and problem.startswith("it is not a valid .npz"):
        raise CheckpointError(f"cannot read checkpoint {path}: {corrupted} ({problem})")
    if problem:  # a folder, a pipe or device, a file this user may not read
        raise CheckpointError(f"cannot read checkpoint {path}: {problem}")
    try:
        claimed = npz_bytes(path)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {corrupted} ({exc})") from None
    if claimed > available_memory():
        raise CheckpointError(
            f"checkpoint {path} describes arrays of {size(claimed)} in all, more than this "
            f"machine has free ({size(available_memory())}); it is not a checkpoint of a model "
            "that fits here"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            archive = {key: npz[key] for key in npz.files}
        return archive, json.loads(str(archive.pop("meta")))
    except RecursionError:
        raise CheckpointError(f"checkpoint {path} has metadata nested too deep to read") from None
    except KeyError:
        raise CheckpointError(
            f"{path} is not an mlp-tiers checkpoint (it has no 'meta' entry)"
        ) from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {corrupted} ({exc})") from None


def _checkpoint_from(
    archive: dict[str, np.ndarray], meta: dict[str, Any], path: Path
) -> Checkpoint:
    """The ``Checkpoint`` the checked ``meta`` and the arrays describe."""
    model = build(ModelSpec, meta["model"], f"the model spec in {path}")
    train = build(TrainSpec, meta["train"], f"the training spec in {path}")
    data = (
        None if meta["data"] is None else build(DataSpec, meta["data"], f"the data spec in {path}")
    )
    return Checkpoint(
        params=_unflatten("params", archive),
        model=model,
        train=train,
        slots={name: _unflatten(f"slots/{name}", archive) for name in meta["slots"]},
        step=int(meta["step"]),
        epoch=int(meta["epoch"]),
        data=data,
        tier=str(meta["tier"]),
        history=list(meta["history"]),
        best=_unflatten("best", archive) or None,
        early_stopping=meta["early_stopping"],
        scaling=_scaling(archive, "scaling", model.n_inputs),
        class_names=_names("class_names", meta.get("class_names"), model.n_outputs),
        target_scaling=_scaling(archive, "target_scaling", model.n_outputs),
        target_names=_names("target_names", meta.get("target_names"), model.n_outputs),
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


HISTORY_KEYS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")
# What a version 1 record must hold: all but the training accuracy, which it may hold.
HISTORY_KEYS_V1 = tuple(key for key in HISTORY_KEYS if key != "accuracy")
NULLABLE = ("accuracy", "val_loss", "val_accuracy")


def _check_meta(meta: dict[str, Any], path: Path) -> None:
    """The counters, history and early-stopping state, checked before anything uses them: types,
    ranges, and agreement with each other. One sentence naming the field when they do not."""

    def fail(name: str, what: str) -> NoReturn:
        raise CheckpointError(f"checkpoint {path}: {name} {what}")

    for counter in ("step", "epoch"):
        if not _is_int(meta.get(counter)) or meta[counter] < 0:
            fail(f"'{counter}'", f"must be a whole number >= 0; got {meta.get(counter)!r}")
    step, epoch = meta["step"], meta["epoch"]
    if step < epoch:
        fail("'step'", f"is {step}, fewer than one per epoch of its {epoch} epochs")
    if not isinstance(meta.get("tier"), str):
        fail("'tier'", f"must be a tier name; got {meta.get('tier')!r}")
    history = meta.get("history")
    if not isinstance(history, list) or len(history) != epoch:
        count = len(history) if isinstance(history, list) else "no list of"
        fail("'history'", f"holds {count} records for {epoch} epochs")
    required = HISTORY_KEYS_V1 if meta["version"] == 1 else HISTORY_KEYS
    for i, record in enumerate(history):
        if not isinstance(record, dict) or set(required) - set(record):
            fail(f"history record {i + 1}", f"must hold {', '.join(required)}")
        record.setdefault("accuracy", None)  # version 1: not recorded yet
        # Accuracies are null where none was recorded (version 1), or none exists (a regressor);
        # the validation figures, where there was no validation split (an estimator's fit).
        numbers = [k for k in HISTORY_KEYS if not (k in NULLABLE and record[k] is None)]
        if record["epoch"] != i + 1 or not all(_is_number(record[k]) for k in numbers):
            fail(f"history record {i + 1}", "must be numbers, for epochs 1, 2, ... in order")
    stopping = meta.get("early_stopping")
    if stopping is None:
        return
    if not isinstance(stopping, dict) or not {"patience", "best", "best_epoch", "wait",
                                              "stopped_epoch"} <= set(stopping):  # fmt: skip
        fail("'early_stopping'", "must hold patience, best, best_epoch, wait and stopped_epoch")
    if not _is_int(stopping["patience"]) or stopping["patience"] < 1:
        fail(
            "early_stopping 'patience'",
            f"must be a whole number >= 1; got {stopping['patience']!r}",
        )
    if not _is_int(stopping["wait"]) or not 0 <= stopping["wait"] <= epoch:
        fail("early_stopping 'wait'", f"must be a whole number from 0 to {epoch}")
    if stopping["best"] is not None and not _is_number(stopping["best"]):
        fail("early_stopping 'best'", "must be a number or null")
    for counter in ("best_epoch", "stopped_epoch"):
        value = stopping[counter]
        if value is not None and (not _is_int(value) or not 1 <= value <= epoch):
            fail(f"early_stopping '{counter}'", f"must be null or an epoch from 1 to {epoch}")


def _check_finite(checkpoint: Checkpoint, path: Path) -> None:
    groups = {"params": checkpoint.params, **{f"slot {k}": v for k, v in checkpoint.slots.items()}}
    if checkpoint.best is not None:
        groups["best weights"] = checkpoint.best
    for name, params in groups.items():
        for layer, pair in enumerate(params, start=1):
            for kind, array in zip("Wb", pair):
                if array.dtype.kind != "f" or not np.isfinite(array).all():
                    raise CheckpointError(
                        f"checkpoint {path}: {name} {kind}{layer} holds NaN, infinite or non-float "
                        "values; a checkpoint is written only after an epoch that ended finite"
                    )


def _check_shapes(checkpoint: Checkpoint, path: Path) -> None:
    groups = {"params": checkpoint.params, **{f"slot {k}": v for k, v in checkpoint.slots.items()}}
    if checkpoint.best is not None:
        groups["best weights"] = checkpoint.best
    for name, params in groups.items():
        try:
            check_params(params, checkpoint.model, what=name)
        except ValueError as exc:
            raise CheckpointError(f"checkpoint {path}: {exc}") from None


def _scaling(
    archive: dict[str, np.ndarray], prefix: str, width: int
) -> tuple[np.ndarray, np.ndarray] | None:
    if f"{prefix}/mean" not in archive:
        return None  # saved without its dataset, or a classifier's (no target scaling)
    mean, scale = archive[f"{prefix}/mean"], archive[f"{prefix}/scale"]
    for name, array in (("mean", mean), ("scale", scale)):
        if array.shape != (width,) or array.dtype.kind != "f":
            raise SpecError(f"{prefix} {name} has shape {array.shape}, not ({width},)")
        if not np.isfinite(array).all() or (name == "scale" and (array <= 0).any()):
            raise SpecError(f"{prefix} {name} holds values that cannot standardize")
    return mean, scale


def _names(key: str, names: Any, n_outputs: int) -> tuple[str, ...] | None:
    if names is None:
        return None
    if not isinstance(names, list) or len(names) != n_outputs:
        raise SpecError(f"{key} must list {n_outputs} names")
    return tuple(str(name) for name in names)


class CheckpointFile:
    """Where a run writes its checkpoint after every epoch (atomically), with what travels
    beside the training state: the dataset's spec, its scaling statistics and class names."""

    def __init__(
        self, path: str | Path, data_spec: DataSpec | None = None, data: Dataset | None = None
    ) -> None:
        self.path = Path(path)
        self.data_spec = data_spec
        self.data = data
        self.saved_epoch: int | None = None  # the epoch of the last checkpoint written

    def save(self, checkpoint: Checkpoint) -> None:
        checkpoint.data = self.data_spec
        if self.data is not None:
            checkpoint.scaling = (self.data.feature_mean, self.data.feature_scale)
            if self.data.task == "regression":
                checkpoint.target_scaling = self.data.target_scaling
                checkpoint.target_names = tuple(self.data.target_names)
            else:
                checkpoint.class_names = tuple(self.data.class_names)
        save_checkpoint(self.path, checkpoint)
        self.saved_epoch = checkpoint.epoch
