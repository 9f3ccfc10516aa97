"""The specification of a run: what model, trained how, on what data.

Three frozen dataclasses, validated on construction, so a spec that exists is a valid spec:

- ``ModelSpec``: the network (input and output widths, hidden sizes, activation, output and loss,
  initializer).
- ``TrainSpec``: the optimizer and its hyper-parameters, regularization, batch size, epochs, early
  stopping, seed, dtype, device and data-parallel replicas.
- ``DataSpec``: which dataset, and how it is split.

A ``RunConfig`` bundles them and is loaded from a TOML file (sections ``[data]``, ``[model]``,
``[train]``) with command-line flags on top. The input and output widths of the model usually come
from the dataset, so ``ModelSpec`` allows them to be unset until ``ModelSpec.resolve`` fills them.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from shared.errors import SpecError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

TASKS = ("classification", "regression")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "identity")
OUTPUTS = ("softmax", "identity")
LOSSES = ("cross_entropy", "mse")
INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "rmsprop")
DTYPES = ("float32", "float64")
DEVICES = ("cpu", "gpu", "auto")

# Keras's default learning rates, used when a spec names an optimizer but no learning rate.
DEFAULT_LR = {"sgd": 0.01, "momentum": 0.01, "nesterov": 0.01, "adam": 0.001, "rmsprop": 0.001}


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SpecError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def _integer(name: str, value: Any, minimum: int, maximum: int | None = None) -> None:
    ok = not isinstance(value, bool) and isinstance(value, int) and value >= minimum
    if ok and (maximum is None or value <= maximum):
        return
    allowed = f">= {minimum}" if maximum is None else f">= {minimum} and <= {maximum}"
    raise SpecError(f"{name} must be an integer {allowed}; got {value!r}")


# Seeds reach NumPy (any size), scikit-learn's splits (32 bits) and TensorFlow's stateless random
# ops (signed 64 bits): one range that all of them take.
MAX_SEED = 2**32 - 1
# Data-parallel replicas (processes or devices); more than any machine here holds, and few enough
# that a typing mistake (--replicas 1000000) is refused before anything starts.
MAX_REPLICAS = 1024


def _number(
    name: str, value: Any, low: float, high: float, *, low_open: bool, high_open: bool
) -> None:
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
        and (value > low if low_open else value >= low)
        and (value < high if high_open else value <= high)
    )
    if not ok:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        high_text = "inf" if math.isinf(high) else f"{high:g}"
        raise SpecError(
            f"{name} must be a number in {left}{low:g}, {high_text}{right}; got {value!r}"
        )


@dataclass(frozen=True)
class ModelSpec:
    """The network: ``n_inputs -> hidden[0] -> ... -> hidden[-1] -> n_outputs``.

    Every hidden layer computes ``a = activation(x @ W + b)``; the last layer emits logits
    ``z = x @ W + b`` and ``output`` turns them into predictions (``softmax``: class
    probabilities; ``identity``: the raw scores). ``hidden=()`` is a valid spec: a classifier
    with a softmax output is then softmax (multinomial logistic) regression, and a regressor is
    linear regression.

    Attributes:
        n_inputs: input width; ``None`` until taken from a dataset by ``resolve``.
        n_outputs: number of classes, or of target columns for a regressor; ``None`` until taken
            from a dataset by ``resolve``.
        hidden: hidden layer widths, first to last.
        activation: hidden-layer activation, one of ``ACTIVATIONS``.
        output: ``softmax`` or ``identity``; ``None`` picks the task's (``softmax`` for a
            classifier, ``identity`` for a regressor, which allows nothing else).
        loss: ``cross_entropy`` (softmax cross-entropy from logits; needs ``output="softmax"``) or
            ``mse`` (mean squared error, averaged over samples and outputs, after the output
            function: against one-hot targets for a classifier, against the standardized
            targets for a regressor); ``None`` picks the task's (``cross_entropy``, ``mse``).
        init: weight initializer, one of ``INITIALIZERS``; biases start at zero.
        task: ``classification`` (labels, one output per class) or ``regression`` (numbers,
            one output per target column).
    """

    # None until ``resolve`` takes them from a dataset; every tier is built from a resolved spec.
    n_inputs: int = None  # type: ignore[assignment]
    n_outputs: int = None  # type: ignore[assignment]
    hidden: tuple[int, ...] = (128, 64)
    activation: str = "relu"
    output: str = None  # type: ignore[assignment]  # None: the task's own (see above)
    loss: str = None  # type: ignore[assignment]  # None: the task's own
    init: str = "glorot_uniform"
    task: str = "classification"

    def __post_init__(self) -> None:
        _choice("task", self.task, TASKS)
        regression = self.task == "regression"
        if self.output is None:
            object.__setattr__(self, "output", "identity" if regression else "softmax")
        if self.loss is None:
            object.__setattr__(self, "loss", "mse" if regression else "cross_entropy")
        if isinstance(self.hidden, (list, tuple)):
            object.__setattr__(self, "hidden", tuple(self.hidden))
        else:
            raise SpecError(f"hidden must be a list of layer sizes; got {self.hidden!r}")
        for size in self.hidden:
            _integer("every hidden layer size", size, 1)
        for name in ("n_inputs", "n_outputs"):
            if getattr(self, name) is not None:
                _integer(name, getattr(self, name), 1)
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("output", self.output, OUTPUTS)
        _choice("loss", self.loss, LOSSES)
        _choice("init", self.init, INITIALIZERS)
        if regression and (self.output, self.loss) != ("identity", "mse"):
            raise SpecError(
                "task 'regression' predicts numbers: it takes output 'identity' and loss 'mse' "
                f"(the defaults); got output {self.output!r} and loss {self.loss!r}"
            )
        if self.loss == "cross_entropy" and self.output != "softmax":
            raise SpecError(
                "loss 'cross_entropy' needs output 'softmax'; use loss 'mse' with output 'identity'"
            )

    @property
    def is_regression(self) -> bool:
        return self.task == "regression"

    @property
    def is_resolved(self) -> bool:
        return self.n_inputs is not None and self.n_outputs is not None

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """``(n_inputs, *hidden, n_outputs)``; the spec must be resolved."""
        if not self.is_resolved:
            raise SpecError(
                "the model's n_inputs and n_outputs are not set; resolve the spec first"
            )
        return (self.n_inputs, *self.hidden, self.n_outputs)

    def resolve(self, n_inputs: int, n_outputs: int) -> ModelSpec:
        """Fill the input and output widths from a dataset, checking any that were given."""
        for name, given, actual in (
            ("n_inputs", self.n_inputs, n_inputs),
            ("n_outputs", self.n_outputs, n_outputs),
        ):
            if given is not None and given != actual:
                raise SpecError(f"the model has {name}={given} but the dataset needs {actual}")
        return dataclasses.replace(self, n_inputs=n_inputs, n_outputs=n_outputs)


@dataclass(frozen=True)
class TrainSpec:
    """How the network is trained. Update rules follow Keras 3 (see ``docs/numerics.md``).

    Attributes:
        optimizer: ``sgd``, ``momentum``, ``nesterov``, ``adam`` or ``rmsprop``.
        lr: learning rate; ``None`` picks Keras's default for the optimizer (``DEFAULT_LR``).
        momentum: for ``momentum`` and ``nesterov``: ``v = momentum * v - lr * g``.
        beta1, beta2: Adam's decay rates for the first and second moments.
        rho: RMSprop's decay rate of the squared-gradient average.
        eps: Adam's and RMSprop's epsilon (Keras's default 1e-7).
        batch_size: samples per step; the last batch of an epoch may be smaller.
        epochs: passes over the training set (the total, also when resuming).
        l2: penalty ``l2 * sum(W**2)`` over kernels (not biases), added to the loss.
        dropout: drop probability after every hidden activation (inverted dropout), in [0, 1).
        patience: stop after this many epochs without a lower validation loss and restore the
            best weights; ``None`` turns early stopping off.
        seed: seeds initial weights, batch order and dropout masks.
        dtype: ``float32`` or ``float64``.
        device: ``cpu``, ``gpu``, or ``auto`` (a GPU when one is usable, else the CPU).
        replicas: data-parallel replicas (``docs/distributed.md``): each takes its share of
            every batch of ``batch_size`` rows, and their gradients are summed into one update,
            the update one replica takes on the whole batch (up to the order of a sum).
    """

    optimizer: str = "adam"
    lr: float = None  # type: ignore[assignment]  # None becomes DEFAULT_LR[optimizer]
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    rho: float = 0.9
    eps: float = 1e-7
    batch_size: int = 32
    epochs: int = 20
    l2: float = 0.0
    dropout: float = 0.0
    patience: int | None = None
    seed: int = 0
    dtype: str = "float32"
    device: str = "cpu"
    replicas: int = 1

    def __post_init__(self) -> None:
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.lr is None:
            object.__setattr__(self, "lr", DEFAULT_LR[self.optimizer])
        inf = math.inf
        _number("lr", self.lr, 0.0, inf, low_open=True, high_open=True)
        _number("momentum", self.momentum, 0.0, 1.0, low_open=False, high_open=True)
        _number("beta1", self.beta1, 0.0, 1.0, low_open=False, high_open=True)
        _number("beta2", self.beta2, 0.0, 1.0, low_open=False, high_open=True)
        _number("rho", self.rho, 0.0, 1.0, low_open=False, high_open=True)
        _number("eps", self.eps, 0.0, inf, low_open=True, high_open=True)
        _integer("batch_size", self.batch_size, 1)
        _integer("epochs", self.epochs, 1)
        _number("l2", self.l2, 0.0, inf, low_open=False, high_open=True)
        _number("dropout", self.dropout, 0.0, 1.0, low_open=False, high_open=True)
        if self.patience is not None:
            _integer("patience", self.patience, 1)
        _integer("seed", self.seed, 0, MAX_SEED)
        _choice("dtype", self.dtype, DTYPES)
        _choice("device", self.device, DEVICES)
        _integer("replicas", self.replicas, 1, MAX_REPLICAS)
        if self.replicas > self.batch_size:
            raise SpecError(
                f"replicas ({self.replicas}) must not exceed batch_size ({self.batch_size}): "
                f"each replica takes its share of every batch's rows"
            )
        for name in ("lr", "momentum", "beta1", "beta2", "rho", "eps", "l2", "dropout"):
            object.__setattr__(self, name, float(getattr(self, name)))


@dataclass(frozen=True)
class DataSpec:
    """Which dataset, and how it is split.

    Attributes:
        name: a registered dataset (``shared.data.DATASETS``: ``digits``, ``mnist``, ``diabetes``,
            ``serpentine`` ...) or a path to the user's own ``.npz`` or ``.csv`` file.
        val_fraction: share of the training data held out for validation.
        test_fraction: share held out for testing, for datasets without an official test split.
        split_seed: seeds the splits (and synthetic data), independently of the training seed,
            so that changing the training seed never changes the test set.
        n_classes: number of arms of ``spirals``.
        n_samples: samples per class of ``spirals`` and ``mnist_shaped``; samples of the curves
            ``line``, ``parabola`` and ``serpentine``.
        noise: standard deviation of the noise added to the curves' targets (0.1).
        target: for a ``.csv`` file, the column to predict (by header name or 0-based index; the
            last column by default); a regressor may name several.
        label_column: the older name of ``target``, for one column; folded into it.
    """

    name: str = "digits"
    val_fraction: float = 0.15
    test_fraction: float = 0.2
    split_seed: int = 0
    n_classes: int | None = None
    n_samples: int | None = None
    noise: float | None = None
    target: tuple[str, ...] | None = None
    label_column: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpecError(f"dataset must be a dataset name or a file path; got {self.name!r}")
        _number("val_fraction", self.val_fraction, 0.0, 1.0, low_open=True, high_open=True)
        _number("test_fraction", self.test_fraction, 0.0, 1.0, low_open=True, high_open=True)
        if self.val_fraction + self.test_fraction >= 1.0:
            raise SpecError("val_fraction + test_fraction must be below 1, leaving training data")
        _integer("split_seed", self.split_seed, 0, MAX_SEED)
        if self.label_column is not None:
            if self.target is not None:
                raise SpecError("give target or label_column (its older name), not both")
            object.__setattr__(self, "target", self.label_column)
            object.__setattr__(self, "label_column", None)
        if self.target is not None:
            object.__setattr__(self, "target", _columns(self.target))
        if self.noise is not None:
            _number("noise", self.noise, 0.0, math.inf, low_open=False, high_open=True)
            object.__setattr__(self, "noise", float(self.noise))
        if self.n_classes is not None:
            _integer("n_classes", self.n_classes, 2)
        if self.n_samples is not None:
            _integer("n_samples", self.n_samples, 2)


def _columns(value: Any) -> tuple[str, ...]:
    """Target columns as a tuple of names or indices: from a list (TOML), one name or index, or
    a comma-separated string (the command line's ``--target price,rent``)."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    elif isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise SpecError(f"target must name one or more columns; got {value!r}")
    columns = []
    for column in value:
        if isinstance(column, int) and not isinstance(column, bool):
            column = str(column)  # TOML: 2, not "2"
        if not isinstance(column, str) or not column:
            raise SpecError(f"target must name columns by header name or index; got {column!r}")
        columns.append(column)
    if len(set(columns)) != len(columns):
        raise SpecError(f"target names a column twice: {', '.join(columns)}")
    return tuple(columns)


@dataclass(frozen=True)
class RunConfig:
    """A data spec, the model options (widths still unresolved), and a training spec."""

    data: DataSpec = field(default_factory=DataSpec)
    model: ModelSpec = field(default_factory=ModelSpec)
    train: TrainSpec = field(default_factory=TrainSpec)


SECTIONS: dict[str, type] = {"data": DataSpec, "model": ModelSpec, "train": TrainSpec}


def field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def build(cls: type, values: Mapping[str, Any], where: str) -> Any:
    """Construct ``cls`` from a mapping, with a clear error for unknown keys."""
    allowed = field_names(cls)
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise SpecError(f"unknown key {unknown[0]!r} in {where}; allowed: {', '.join(allowed)}")
    try:
        return cls(**values)
    except TypeError as exc:  # pragma: no cover - guarded by the key check above
        raise SpecError(f"invalid {where}: {exc}") from None


def config_from_dict(raw: Mapping[str, Any], where: str = "the config") -> RunConfig:
    """A ``RunConfig`` from ``{"data": {...}, "model": {...}, "train": {...}}``."""
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise SpecError(
            f"unknown section [{unknown[0]}] in {where}; allowed: {', '.join(SECTIONS)}"
        )
    for name, section in raw.items():
        if not isinstance(section, Mapping):
            raise SpecError(f"[{name}] in {where} must be a table of keys and values")
    return RunConfig(
        **{
            name: build(cls, raw.get(name, {}), f"[{name}] of {where}")
            for name, cls in SECTIONS.items()
        }
    )


# A config is a few dozen lines; this bounds what a mistaken path (a log, a device) can cost.
MAX_CONFIG_BYTES = 2**20


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file into a plain dict, with clear errors."""
    from shared.fileio import Unreadable, read_bounded

    path = Path(path)
    try:
        return tomllib.loads(read_bounded(path, MAX_CONFIG_BYTES).decode("utf-8"))
    except Unreadable as exc:
        if str(exc) == "not found":
            raise SpecError(f"config file not found: {path}") from None
        raise SpecError(f"cannot read config file {path}: {exc}; give a TOML file") from None
    except UnicodeDecodeError:
        raise SpecError(f"config file {path} is not UTF-8 text, as TOML must be") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"config file {path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise SpecError(f"config file {path} nests its values too deep for a config") from None


def to_dict(spec: Any) -> dict[str, Any]:
    """A JSON-ready dict of a spec dataclass (tuples become lists)."""
    return {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in dataclasses.asdict(spec).items()
    }
