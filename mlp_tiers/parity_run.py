"""``mlp-tiers parity``: every named tier stepped on the NumPy tier's batches, compared with it
level by level (forward pass, loss, gradients, one update) and step by step, each against the
tolerance ``mlp_tiers.parity`` expects for it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from mlp_tiers.parity import (
    REPLICA_TOLERANCES,
    compare_levels,
    compare_traces,
    expected_tolerance,
    first_nonfinite,
    trace,
    trace_in_new_process,
)
from mlp_tiers.registry import TIERS
from mlp_tiers.runner import Run
from shared.batching import epoch_batches
from shared.errors import BackendError, SpecError


@dataclasses.dataclass
class ParityRun:
    """Each entry's comparison with the NumPy tier (``results``, by entry), and where the NumPy
    tier itself first computed a NaN or an infinity, if it did."""

    run: Run
    steps: int
    results: dict[str, dict[str, Any]]
    reference_nonfinite: dict[str, Any] | None

    @property
    def failed(self) -> list[str]:
        return [entry for entry, result in self.results.items() if not result["within"]]

    def to_dict(self) -> dict[str, Any]:
        """``parity.json``."""
        from mlp_tiers.report import machine
        from shared.packages import versions
        from shared.spec import to_dict

        spec = self.run.train
        return {"machine": machine(), "versions": versions(), "device": spec.device,
                "dtype": spec.dtype, "data": to_dict(self.run.data_spec),
                "model": to_dict(self.run.model), "train": to_dict(spec),
                "reference_nonfinite": self.reference_nonfinite, "tiers": self.results}  # fmt: skip


def check_request(entries: dict[str, tuple[str, dict[str, Any]]], steps: int) -> None:
    """A clear ``SpecError`` unless some entry is named and ``steps`` is at least 1."""
    if not entries:
        raise SpecError("--tiers names no tier; give one or more, such as --tiers tf-nn,keras")
    if steps < 1:
        raise SpecError(f"--steps must be an integer >= 1; got {steps}")


def run_parity(
    run: Run,
    entries: dict[str, tuple[str, dict[str, Any]]],
    steps: int,
    status: Callable[[str], AbstractContextManager[Any]] = lambda _: nullcontext(),
) -> ParityRun:
    """Step each of ``entries`` (``{"tf-nn:jit": ("tf-nn", {"mode": "jit"})}``) ``steps`` steps
    on the first batches of the shared order and compare it with the NumPy tier on the CPU.
    ``status(text)`` is entered while an entry trains (the command line shows a spinner)."""
    check_request(entries, steps)
    spec, data, model = run.train, run.data, run.model
    rows = epoch_batches(len(data.y_train), spec.batch_size, spec.seed, 0)[:steps]
    batches = [(data.x_train[r], data.y_train[r]) for r in rows]
    cpu = dataclasses.replace(spec, device="cpu")
    reference = trace("numpy", model, cpu, run.params, batches, {})
    comparison = "step" if len(batches) == 1 else "epoch"
    results = {}
    for entry, (name, options) in entries.items():
        tracer = trace_in_new_process if TIERS[name].conflicts() else trace
        with status(f"stepping {entry} ..."):
            traced = tracer(name, model, spec, run.params, batches, options)
        levels = compare_levels(traced, reference, model, spec)
        tol = expected_tolerance(name, comparison, spec.dtype, model.activation, model.loss, spec)
        bad = first_nonfinite(traced)
        results[entry] = {
            "options": options,
            "levels": {level: result.to_dict() for level, result in levels.items()},
            "nonfinite": bad,
            "within": bad is None and all(result.within for result in levels.values()),
            "steps": compare_traces(traced, reference, tol),
            "tolerance": dataclasses.asdict(tol),
        }
    return ParityRun(run, len(batches), results, first_nonfinite(reference))


def write_report(folder: Path, parity: ParityRun | ReplicaParity) -> Path:
    """``parity.json`` (against the NumPy tier), or ``replicas.json`` (against one device)."""
    from mlp_tiers.report import write_json

    path = folder / ("replicas.json" if isinstance(parity, ReplicaParity) else "parity.json")
    write_json(path, parity.to_dict())
    return path


@dataclasses.dataclass
class ReplicaParity:
    """Each entry data parallel against itself on one device (``results``, by entry)."""

    run: Run
    steps: int
    results: dict[str, dict[str, Any]]

    @property
    def failed(self) -> list[str]:
        return [entry for entry, result in self.results.items() if not result["within"]]

    def to_dict(self) -> dict[str, Any]:
        """``replicas.json``."""
        from mlp_tiers.report import machine
        from shared.packages import versions
        from shared.spec import to_dict

        spec = self.run.train
        return {"machine": machine(), "versions": versions(), "replicas": spec.replicas,
                "dtype": spec.dtype, "data": to_dict(self.run.data_spec),
                "model": to_dict(self.run.model), "train": to_dict(spec),
                "tiers": self.results}  # fmt: skip


def run_replica_parity(
    run: Run,
    entries: dict[str, tuple[str, dict[str, Any]]],
    steps: int,
    status: Callable[[str], AbstractContextManager[Any]] = lambda _: nullcontext(),
) -> ReplicaParity:
    """Step each of ``entries`` ``steps`` steps on the shared batches twice, from the same
    weights: with ``run.train.replicas`` data-parallel replicas (in processes of their own,
    ``mlp_tiers.replicas``) and on one device, and compare the two after every step."""
    from mlp_tiers.replicas import check_capable, run_replicated

    check_request(entries, steps)
    for name, _ in entries.values():
        check_capable(name)
    spec, data, model = run.train, run.data, run.model
    n = len(data.y_train)
    order = [rows for epoch in range(spec.epochs)
             for rows in epoch_batches(n, spec.batch_size, spec.seed, epoch)]  # fmt: skip
    batches = [(data.x_train[rows], data.y_train[rows]) for rows in order[:steps]]
    one = dataclasses.replace(spec, replicas=1)
    tol = REPLICA_TOLERANCES[spec.dtype]
    results = {}
    for entry, (name, options) in entries.items():
        tracer = trace_in_new_process if TIERS[name].conflicts() else trace
        with status(f"stepping {entry} on one device ..."):
            reference = tracer(name, model, one, run.params, batches, options, False)
        with status(f"stepping {entry} on {spec.replicas} replicas ..."):
            replicated = run_replicated(
                name, spec.replicas, trace, name, model, spec, run.params, batches, options, False
            )
        if replicated.replicas != spec.replicas:  # the engine's own count, not the spec's
            raise BackendError(
                f"{entry} ran {replicated.replicas} replicas where {spec.replicas} were asked for"
            )
        per_step = compare_traces(replicated, reference, tol)
        bad = first_nonfinite(replicated)
        results[entry] = {
            "engine": check_capable(name),
            "replicas_run": replicated.replicas,
            "note": replicated.note,
            "options": options,
            "steps": per_step,
            "error": max(step["error"] for step in per_step),
            "nonfinite": bad,
            "within": bad is None and all(step["within"] for step in per_step),
            "tolerance": dataclasses.asdict(tol),
        }
    return ReplicaParity(run, len(batches), results)
