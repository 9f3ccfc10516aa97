"""Parity between tiers: how to measure a difference, and the one table of what is allowed.

Differences between tiers have three sources (docs/parity.md): conventions, which are made
identical by construction; precision (float32, fused kernels, hyper-parameters rounded through
float32); and order (threads, reductions). The last two are bounded by the tolerances below,
every one of which is tested.

Parameters are compared **normwise**, per array: ``max|a - b| / max|b|``. Elementwise relative
error means nothing for entries near zero, and every weight moves by about the learning rate in a
step, so some always land near zero.

Parity is measured at five levels (``LEVELS``), where two tiers could part: the forward pass
(the logits of one batch from the initial weights), the loss of that batch, the gradients of that
loss (where a tier can show them), the parameters after one update, and after every step of a run
of steps. ``trace`` records what a tier shows at each level; ``compare_levels`` judges a trace
against the NumPy tier's, each level against its own row of the tolerance table, and names the
first step and array where a NaN or an infinity appears.

``lockstep`` drives tiers through the same batches and reports, per step, the loss of each and
the largest normwise difference of its parameters from the reference tier.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mlp_tiers.registry import TIERS, get_tier, run_in_new_process
from shared.init import Params

if TYPE_CHECKING:
    from shared.contract import Tier


@dataclass(frozen=True)
class Tolerance:
    """``|a - b| <= atol + rtol * max|b|`` per array; ``cause`` says why it is not zero."""

    rtol: float
    atol: float
    cause: str


ROUNDING = "rounding: the same formulas, evaluated in another order by another library"
FLOAT32 = (
    "float32 rounding (eps 1.2e-7), amplified by the steps: by ReLU kinks, and by Adam and "
    "RMSprop, which move an entry whose gradient is at the rounding level by about lr either way"
)

# (comparison, dtype) -> tolerance. The measured values are in docs/parity.md.
TOLERANCES: dict[tuple[str, str], Tolerance] = {
    ("forward", "float64"): Tolerance(1e-12, 0.0, ROUNDING),
    ("forward", "float32"): Tolerance(1e-5, 1e-6, FLOAT32),
    ("step", "float64"): Tolerance(1e-10, 0.0, ROUNDING),
    ("step", "float32"): Tolerance(1e-4, 1e-5, FLOAT32),
    ("epoch", "float64"): Tolerance(1e-8, 0.0, ROUNDING + ", over one epoch of steps"),
    ("epoch", "float32"): Tolerance(1e-3, 1e-4, FLOAT32 + ", over one epoch of steps"),
}

# Data parallel against one device, the same tier (mlp-tiers parity --replicas, docs/parity.md):
# the replicas' gradients are summed in another order than one device's matrix products sum
# them. Measured over two epochs of digits: 1.3e-16 to 3.6e-16 in float64 for every engine;
# every planted mistake (a loss averaged per replica, the L2 term on every replica) at 1e-3 and
# more. The float32 row is float32's own rounding, amplified by the steps as above.
ALL_REDUCE = (
    "the all-reduce: each replica sums its rows' gradients and the replicas' sums are added, "
    "in another order than one device sums the whole batch"
)
REPLICA_TOLERANCES: dict[str, Tolerance] = {
    "float64": Tolerance(1e-13, 0.0, ALL_REDUCE),
    "float32": Tolerance(1e-4, 1e-5, ALL_REDUCE + "; " + FLOAT32),
}

# Differences with a known cause of their own (docs/parity.md): cause, then the rows it needs.
HYPERPARAMETER_CAST = (
    "on TensorFlow, Keras casts some Python-float hyper-parameters with ops.cast(x, 'float64'), "
    "and tf.cast makes a float32 tensor of a Python float first: SGD's momentum (0.9 becomes "
    "0.8999999762), Adam's betas in the bias correction (0.999 becomes 0.99900001287, so "
    "1 - beta2 is 1.3e-5 off and Adam's first update 6.4e-6 off), and the L2 regularizer's "
    "factor (L2(0.001) adds 0.0010000000475 * sum(W^2)). The learning rate, epsilon and rho "
    "keep float64. Hyper-parameters exact in float32 remove it."
)
# The TrainSpec fields Keras on TensorFlow rounds through float32, per optimizer (measured:
# tests/midlevel_tf/test_parity.py and tests/highlevel_keras/test_parity.py test each field).
CAST_FIELDS = {
    "sgd": ("l2",),
    "momentum": ("momentum", "l2"),
    "nesterov": ("momentum", "l2"),
    "adam": ("beta1", "beta2", "l2"),
    "rmsprop": ("l2",),
}
DEMOTED = (
    "on every backend but TensorFlow, Keras's type promotion (backend.result_type) maps float64 "
    "to float32, whatever jax_enable_x64 says, so the Keras ops that promote through it compute "
    "float64 inputs in float32 and round the result to float32: on JAX ops.tanh (the tanh "
    "activation) and ops.mean (the MSE loss); on PyTorch ops.matmul (every Dense layer) and "
    "ops.mean. Those runs are float32 where it matters and get the float32 rows."
)

QUIRKS: dict[str, Tolerance] = {
    "keras-tf-hyperparameter-cast": Tolerance(2e-5, 0.0, HYPERPARAMETER_CAST),
    **{
        f"keras-float64-demoted/{comparison}": dataclasses.replace(
            TOLERANCES[(comparison, "float32")], cause=DEMOTED
        )
        for comparison in ("forward", "step", "epoch")
    },
}


def demoted(tier: str, activation: str, loss: str) -> str | None:
    """The float64-demotion quirk, if ``tier`` computes an op of this model in float32."""
    used = {"matmul", activation, *(("mean",) if loss == "mse" else ())}
    if used & set(TIERS[tier].float64_demoted_ops):
        return "keras-float64-demoted"
    return None


def rounded_through_float32(tier: str, train: Any) -> list[str]:
    """The hyper-parameters of this run, in any dtype, that ``tier`` rounds through float32
    where the NumPy tier does not (Keras on TensorFlow): in a float32 run too, Adam's
    ``1 - beta`` is taken after rounding beta, where the NumPy tier rounds the difference."""
    if not TIERS[tier].casts_hyperparameters:
        return []
    fields = CAST_FIELDS[train.optimizer]
    if train.dtype == "float32":  # there the others round the same way in both
        fields = tuple(name for name in fields if name in ("beta1", "beta2"))
    return [name for name in fields
            if float(np.float32(getattr(train, name))) != getattr(train, name)]  # fmt: skip


def explain_distance(tier: str, distance: float, train: Any, steps: int) -> str | None:
    """Why ``tier`` ended ``distance`` (normwise) from the NumPy tier's weights after ``steps``
    steps, when that is more than the parity table's epoch row allows; None when it is not."""
    allowed = tolerance("epoch", train.dtype)
    if distance <= allowed.rtol + allowed.atol or train.dropout:
        return None
    fields = rounded_through_float32(tier, train)
    head = (f"{tier} ends {distance:.1e} from the NumPy tier's weights after {steps} steps, more "
            f"than the {train.dtype} rounding the parity table allows over an epoch "
            f"({allowed.rtol:g})")  # fmt: skip
    if fields:
        exact = {"beta1": "0.875", "beta2": "0.998046875", "momentum": "0.875",
                 "l2": "0.0009765625"}  # fmt: skip
        flags = " ".join(f"--{name} {exact[name]}" for name in fields)
        return (
            f"{head}: Keras on TensorFlow rounds {', '.join(fields)} through float32 "
            f"(docs/parity.md), a difference of about 1e-5 in each update that the steps "
            f"compound; with values float32 holds exactly ({flags}) it disappears"
        )
    return (
        f"{head}: rounding compounded by the steps (ReLU kinks, Adam's normalization); "
        f"mlp-tiers parity --steps {min(steps, 200)} shows where it grows"
    )


def cast_fields(tier: str, train: Any) -> list[str]:
    """The hyper-parameters of this float64 run that ``tier`` rounds through float32 (Keras on
    TensorFlow, with values that float32 does not represent exactly); empty for other tiers."""
    if not TIERS[tier].casts_hyperparameters or train.dtype != "float64":
        return []
    return [
        name
        for name in CAST_FIELDS[train.optimizer]
        if float(np.float32(getattr(train, name))) != getattr(train, name)
    ]


def casts_hyperparameters(tier: str, train: Any) -> bool:
    """Whether ``tier`` rounds some hyper-parameter of this float64 run through float32."""
    return bool(cast_fields(tier, train))


# The levels of `mlp-tiers parity`, and the row of the table that bounds each: the forward pass,
# the loss and the gradients are computed once from the same weights; an update and a run of
# steps accumulate.
LEVELS = ("forward", "loss", "gradients", "update", "steps")
LEVEL_ROWS = {"forward": "forward", "loss": "forward", "gradients": "forward", "update": "step",
              "steps": "epoch"}  # fmt: skip


def expected_tolerance(
    tier: str,
    comparison: str,
    dtype: str,
    activation: str = "relu",
    loss: str = "cross_entropy",
    train: Any = None,
) -> Tolerance:
    """The tolerance of ``comparison`` for ``tier`` against the NumPy tier: the row of the quirk
    that applies, if one does, else the table's row. ``comparison`` is a row of the table
    (forward, step, epoch) or a level (``LEVELS``). Without ``train``, the hyper-parameters are
    taken to be exact in float32."""
    row = LEVEL_ROWS.get(comparison, comparison)
    quirk = demoted(tier, activation, loss) if dtype == "float64" else None
    if quirk:
        return QUIRKS[f"{quirk}/{row}"]
    if train is not None:
        cast = cast_fields(tier, train)
        # The forward pass uses no hyper-parameter; the loss and its gradients only the L2 factor.
        if comparison in ("loss", "gradients"):
            cast = [name for name in cast if name == "l2"]
        if cast and comparison != "forward":
            return QUIRKS["keras-tf-hyperparameter-cast"]
    return tolerance(row, dtype)


def tolerance(comparison: str, dtype: str) -> Tolerance:
    """The row of ``TOLERANCES`` for ``comparison`` (forward, step, epoch) in ``dtype``."""
    return TOLERANCES[(comparison, dtype)]


def normwise_error(actual: Any, expected: Any) -> float:
    """``max|actual - expected| / max|expected|``; the absolute difference if expected is 0."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    if actual.shape != expected.shape:
        raise ValueError(f"shapes differ: {actual.shape} and {expected.shape}")
    difference = float(np.max(np.abs(actual - expected), initial=0.0))
    scale = float(np.max(np.abs(expected), initial=0.0))
    return difference / scale if scale > 0 else difference


def param_errors(actual: Params, expected: Params) -> dict[str, float]:
    """The normwise error of every array, by name (``W1``, ``b1``, ``W2``, ...: layers from 1)."""
    if len(actual) != len(expected):
        raise ValueError(f"{len(actual)} layers against {len(expected)}")
    errors = {}
    for layer, ((W, b), (W_ref, b_ref)) in enumerate(zip(actual, expected), start=1):
        errors[f"W{layer}"] = normwise_error(W, W_ref)
        errors[f"b{layer}"] = normwise_error(b, b_ref)
    return errors


def close(actual: Any, expected: Any, tol: Tolerance) -> bool:
    """Whether one array is within ``tol`` of another (normwise, with ``atol``)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    difference = float(np.max(np.abs(actual - expected), initial=0.0))
    return difference <= tol.atol + tol.rtol * float(np.max(np.abs(expected), initial=0.0))


def assert_params_close(actual: Params, expected: Params, tol: Tolerance, what: str = "") -> None:
    """Raise ``AssertionError`` naming every array outside ``tol``, with its error."""
    failures = [
        f"{name}: normwise error {error:.2e}"
        for (name, error), a, e in zip(
            param_errors(actual, expected).items(),
            [array for pair in actual for array in pair],
            [array for pair in expected for array in pair],
        )
        if not close(a, e, tol)
    ]
    if failures:
        raise AssertionError(
            f"{what or 'parameters'} differ beyond rtol {tol.rtol:g}, atol {tol.atol:g} "
            f"({tol.cause}): " + "; ".join(failures)
        )


@dataclass
class StepReport:
    """One step of ``lockstep``: each tier's loss and its largest normwise parameter error."""

    step: int
    losses: dict[str, float]
    errors: dict[str, float]  # tier -> max over arrays of the normwise error vs the reference


def lockstep(
    tiers: dict[str, Tier], batches: Sequence[tuple[np.ndarray, np.ndarray]], reference: str
) -> list[StepReport]:
    """Train every tier on each batch in turn; compare each to ``reference`` after every step."""
    reports = []
    for step, (x, y) in enumerate(batches, start=1):
        losses = {name: tier.train_on_batch(x, y) for name, tier in tiers.items()}
        expected = tiers[reference].get_params()
        errors = {
            name: max(param_errors(tier.get_params(), expected).values())
            for name, tier in tiers.items()
            if name != reference
        }
        reports.append(StepReport(step, losses, errors))
    return reports


# -- tracing whole runs of steps, level by level, for `mlp-tiers parity` ------------------------


@dataclass
class Probe:
    """What a tier shows for one batch at its current weights, changing nothing: the logits
    ``(n, n_outputs)``, the loss (data loss + L2) and its gradients ``[(dW, db), ...]`` (None
    where the tier cannot show them), all as NumPy."""

    logits: np.ndarray
    loss: float
    grads: Params | None


@dataclass
class Trace:
    """A tier's probe of the first batch, then its loss and parameters after each step."""

    tier: str
    losses: list[float]
    params: list[Params]
    probe: Probe | None = None
    # Data parallel: how many replicas the tier ran (1: one device), and what it says such a
    # run does not share with one device (Keras on TensorFlow's dropout masks), if anything.
    replicas: int = 1
    note: str | None = None


def trace(
    name: str,
    model: Any,
    train: Any,
    params: Params,
    batches: Sequence[tuple],
    options: dict,
    probe_first: bool = True,
) -> Trace:
    """Train tier ``name`` on ``batches`` one step at a time, keeping every step's parameters;
    first (unless ``probe_first`` is false), the tier's ``probe`` of the first batch."""
    tier = get_tier(name)(model, train, params, **options)
    # A diverging run is reported by ``first_nonfinite``; NumPy's overflow warnings would only
    # repeat it.
    with np.errstate(all="ignore"):
        probe = Probe(**tier.probe(*batches[0])) if probe_first else None
        losses, snapshots = [], []
        for x, y in batches:
            losses.append(tier.train_on_batch(x, y))
            snapshots.append(tier.get_params())
    return Trace(name, losses, snapshots, probe, replicas_run(tier),
                 getattr(tier, "replica_note", None))  # fmt: skip


def replicas_run(tier: Tier) -> int:
    """How many data-parallel replicas a built tier runs, as its engine counts them: the MPI
    processes, the strategy's replicas in sync, the distribution's devices (1: one device)."""
    replicas = getattr(tier, "replicas", None)  # NumPy: its MPI processes
    if replicas is not None:
        return replicas.comm.Get_size()
    strategy = getattr(tier, "strategy", None)  # TensorFlow
    if strategy is not None:
        return strategy.num_replicas_in_sync
    distribution = getattr(tier, "distribution", None)  # Keras: a distribution or a strategy
    if distribution is None:
        return 1
    if hasattr(distribution, "num_replicas_in_sync"):
        return distribution.num_replicas_in_sync
    return len(distribution.device_mesh.devices.ravel())


def trace_in_new_process(
    name: str,
    model: Any,
    train: Any,
    params: Params,
    batches: Sequence[tuple],
    options: dict,
    probe_first: bool = True,
) -> Trace:
    """``trace`` in a fresh Python process (for a tier on another Keras backend)."""
    return run_in_new_process(trace, name, model, train, params, batches, options, probe_first)


def params_close(actual: Params, expected: Params, tol: Tolerance) -> bool:
    """Whether every array of ``actual`` is within ``tol`` of ``expected``."""
    return all(
        close(a, e, tol) for pair, ref_pair in zip(actual, expected) for a, e in zip(pair, ref_pair)
    )


def named_arrays(params: Params, prefix: str = "") -> dict[str, np.ndarray]:
    """``{"W1": W1, "b1": b1, "W2": ...}``, layers from 1 (``prefix`` before each name: ``"d"``
    for gradients)."""
    return {
        f"{prefix}{kind}{layer}": np.asarray(array)
        for layer, pair in enumerate(params, start=1)
        for kind, array in zip("Wb", pair)
    }


def first_nonfinite(trace: Trace) -> dict[str, Any] | None:
    """Where a NaN or an infinity first appears in ``trace``: the level, the step (0 for the
    probe of the initial weights), the quantity (``logits``, ``loss``, a gradient such as
    ``dW1``, or, after a step, the first parameter array such as ``W1``, else that step's loss)
    and the value found; None when everything is finite."""

    def bad(value: Any) -> str | None:
        array = np.asarray(value, dtype=np.float64)
        if np.isfinite(array).all():
            return None
        return "nan" if np.isnan(array).any() else "inf"

    if trace.probe is not None:
        checks = [("forward", "logits", trace.probe.logits), ("loss", "loss", trace.probe.loss)]
        if trace.probe.grads is not None:
            checks += [("gradients", k, v) for k, v in named_arrays(trace.probe.grads, "d").items()]
        for level, what, value in checks:
            if bad(value):
                return {"level": level, "step": 0, "what": what, "value": bad(value)}
    for step, (loss, params) in enumerate(zip(trace.losses, trace.params), start=1):
        level = "update" if step == 1 else "steps"
        for what, value in [*named_arrays(params).items(), ("loss", loss)]:
            if bad(value):
                return {"level": level, "step": step, "what": what, "value": bad(value)}
    return None


@dataclass
class LevelResult:
    """One level of one tier against the NumPy tier: the worst normwise error, its tolerance,
    and where it first went outside (step and array), if it did."""

    error: float | None  # None: the tier cannot show this level
    tolerance: Tolerance
    within: bool = True
    outside: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.error, "tolerance": dataclasses.asdict(self.tolerance),
                "within": self.within, "outside": self.outside}  # fmt: skip


def _judge(
    arrays: dict[str, tuple[np.ndarray, np.ndarray]], tol: Tolerance, step: int
) -> tuple[float, dict[str, Any] | None]:
    """The worst normwise error over ``arrays`` (name -> (actual, expected)), and the first
    array outside ``tol``."""
    worst, outside = 0.0, None
    for name, (actual, expected) in arrays.items():
        error = normwise_error(actual, expected)
        worst = max(worst, error) if np.isfinite(error) else np.inf
        if outside is None and not (np.isfinite(error) and close(actual, expected, tol)):
            outside = {"step": step, "what": name, "error": error}
    return worst, outside


def compare_levels(tier: Trace, reference: Trace, model: Any, train: Any) -> dict[str, LevelResult]:
    """Every level of ``tier`` against ``reference`` (the NumPy tier), each against its own
    tolerance (``expected_tolerance``, quirk rows included)."""

    def tol(level: str) -> Tolerance:
        return expected_tolerance(
            tier.tier, level, train.dtype, model.activation, model.loss, train
        )

    results: dict[str, LevelResult] = {}
    probe, ref = tier.probe, reference.probe
    if probe is not None and ref is not None:
        shown = {
            "forward": {"logits": (probe.logits, ref.logits)},
            "loss": {"loss": (np.float64(probe.loss), np.float64(ref.loss))},
            "gradients": None if probe.grads is None or ref.grads is None else {
                name: (actual, named_arrays(ref.grads, "d")[name])
                for name, actual in named_arrays(probe.grads, "d").items()
            },
        }  # fmt: skip
        for level, arrays in shown.items():
            if arrays is None:
                results[level] = LevelResult(None, tol(level))
                continue
            error, outside = _judge(arrays, tol(level), 0)
            results[level] = LevelResult(error, tol(level), outside is None, outside)
    for level, steps in (("update", [1]), ("steps", range(1, len(tier.params) + 1))):
        worst, first = 0.0, None
        for step in steps:
            reference_arrays = named_arrays(reference.params[step - 1])
            arrays = {
                name: (actual, reference_arrays[name])
                for name, actual in named_arrays(tier.params[step - 1]).items()
            }
            error, outside = _judge(arrays, tol(level), step)
            worst = max(worst, error)
            first = first or outside
        results[level] = LevelResult(worst, tol(level), first is None, first)
    return results


def compare_traces(tier: Trace, reference: Trace, tol: Tolerance) -> list[dict[str, Any]]:
    """Per step: both losses, the largest normwise parameter error against the reference, and
    whether every array is within ``tol``."""
    return [
        {
            "step": step,
            "loss": loss,
            "reference_loss": ref_loss,
            "error": max(param_errors(params, ref_params).values()),
            "within": params_close(params, ref_params, tol),
        }
        for step, (loss, ref_loss, params, ref_params) in enumerate(
            zip(tier.losses, reference.losses, tier.params, reference.params), start=1
        )
    ]
