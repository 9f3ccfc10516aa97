"""Parity between tiers: how to measure a difference, and the one table of what is allowed.

Differences between tiers have three sources (docs/numerics.md): conventions, which are made
identical by construction; precision (float32, fused kernels, hyper-parameters rounded through
float32); and order (threads, reductions). The last two are bounded by the tolerances below,
every one of which is tested.

Parameters are compared **normwise**, per array: ``max|a - b| / max|b|``. Elementwise relative
error means nothing for entries near zero, and every weight moves by about the learning rate in a
step, so some always land near zero.

``lockstep`` drives tiers through the same batches and reports, per step, the loss of each and
the largest normwise difference of its parameters from the reference tier.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shared.init import Params
from shared.tiers import TIERS, get_tier, run_in_new_process


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

# (comparison, dtype) -> tolerance. The measured values are in docs/numerics.md.
TOLERANCES: dict[tuple[str, str], Tolerance] = {
    ("forward", "float64"): Tolerance(1e-12, 0.0, ROUNDING),
    ("forward", "float32"): Tolerance(1e-5, 1e-6, FLOAT32),
    ("step", "float64"): Tolerance(1e-10, 0.0, ROUNDING),
    ("step", "float32"): Tolerance(1e-4, 1e-5, FLOAT32),
    ("epoch", "float64"): Tolerance(1e-8, 0.0, ROUNDING + ", over one epoch of steps"),
    ("epoch", "float32"): Tolerance(1e-3, 1e-4, FLOAT32 + ", over one epoch of steps"),
}

# Differences with a known cause of their own (docs/numerics.md): cause, then the rows it needs.
HYPERPARAMETER_CAST = (
    "on TensorFlow, Keras's optimizers cast some Python-float hyper-parameters with "
    "ops.cast(x, 'float64'), and tf.cast makes a float32 tensor of a Python float first: SGD's "
    "momentum (0.9 becomes 0.8999999762) and Adam's betas in the bias correction (0.999 becomes "
    "0.99900001287, so 1 - beta2 is 1.3e-5 off and Adam's first update 6.4e-6 off). "
    "Hyper-parameters exact in float32 remove it."
)
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


def casts_hyperparameters(tier: str, train: Any) -> bool:
    """Whether ``tier`` (Keras's optimizers on TensorFlow) rounds this float64 run's
    hyper-parameters through float32."""
    if not TIERS[tier].casts_hyperparameters or train.dtype != "float64":
        return False
    cast = {"momentum": ("momentum",), "nesterov": ("momentum",), "adam": ("beta1", "beta2")}
    values = [getattr(train, field) for field in cast.get(train.optimizer, ())]
    return any(float(np.float32(value)) != value for value in values)


def expected_tolerance(
    tier: str,
    comparison: str,
    dtype: str,
    activation: str = "relu",
    loss: str = "cross_entropy",
    train: Any = None,
) -> Tolerance:
    """The tolerance of ``comparison`` for ``tier`` against the NumPy tier: the row of the quirk
    that applies, if one does, else the table's row. Without ``train``, the hyper-parameters are
    taken to be exact in float32."""
    quirk = demoted(tier, activation, loss) if dtype == "float64" else None
    if quirk:
        return QUIRKS[f"{quirk}/{comparison}"]
    if train is not None and casts_hyperparameters(tier, train):
        return QUIRKS["keras-tf-hyperparameter-cast"]
    return tolerance(comparison, dtype)


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
    """The normwise error of every array, by name (``W0``, ``b0``, ``W1``, ...)."""
    if len(actual) != len(expected):
        raise ValueError(f"{len(actual)} layers against {len(expected)}")
    errors = {}
    for i, ((W, b), (W_ref, b_ref)) in enumerate(zip(actual, expected)):
        errors[f"W{i}"] = normwise_error(W, W_ref)
        errors[f"b{i}"] = normwise_error(b, b_ref)
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
    tiers: dict[str, Any], batches: Sequence[tuple[np.ndarray, np.ndarray]], reference: str
) -> list[StepReport]:
    """Train every tier on each batch in turn; compare each to ``reference`` after every step."""
    reports = []
    for step, (x, y) in enumerate(batches, start=1):
        losses = {name: tier.train_step(x, y) for name, tier in tiers.items()}
        expected = tiers[reference].get_params()
        errors = {
            name: max(param_errors(tier.get_params(), expected).values())
            for name, tier in tiers.items()
            if name != reference
        }
        reports.append(StepReport(step, losses, errors))
    return reports


# -- tracing whole runs of steps, for `mlp-tiers parity` ---------------------------------------


@dataclass
class Trace:
    """A tier's loss and parameters after each of a run of steps."""

    tier: str
    losses: list[float]
    params: list[Params]


def trace(
    name: str, model: Any, train: Any, params: Params, batches: Sequence[tuple], options: dict
) -> Trace:
    """Train tier ``name`` on ``batches`` one step at a time, keeping every step's parameters."""
    tier = get_tier(name)(model, train, params, **options)
    losses, snapshots = [], []
    for x, y in batches:
        losses.append(tier.train_step(x, y))
        snapshots.append(tier.get_params())
    return Trace(name, losses, snapshots)


def trace_in_new_process(
    name: str, model: Any, train: Any, params: Params, batches: Sequence[tuple], options: dict
) -> Trace:
    """``trace`` in a fresh Python process (for a tier on another Keras backend)."""
    return run_in_new_process(trace, name, model, train, params, batches, options)


def params_close(actual: Params, expected: Params, tol: Tolerance) -> bool:
    """Whether every array of ``actual`` is within ``tol`` of ``expected``."""
    return all(
        close(a, e, tol) for pair, ref_pair in zip(actual, expected) for a, e in zip(pair, ref_pair)
    )


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
