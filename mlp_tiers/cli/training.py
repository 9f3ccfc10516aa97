"""``python -m <tier>.train`` and ``mlp-tiers train``: one tier trained as the flags say, its
progress and its evaluation printed."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from mlp_tiers.flags import config_from_args, flag_names, given_flags, resume_overrides, use_threads

if TYPE_CHECKING:
    from rich.console import Console

    from shared.contract import Tier


def run_training(
    tier: str, args: argparse.Namespace, console: Console, options: dict[str, Any] | None = None
) -> int:
    """Train one tier (built with ``options``) as the flags say; print progress and results."""
    from shared.signals import stop_on_signals

    with stop_on_signals():  # Ctrl-C and SIGTERM: one line, and no partial file anywhere
        return _run_training(tier, tier_class_of(tier), args, console, options)


def tier_class_of(tier: str) -> type[Tier]:
    from mlp_tiers.registry import get_tier

    return get_tier(tier)  # fails early, clearly, for an unknown or uninstalled tier


def _run_training(
    tier: str, tier_class: type[Tier], args: argparse.Namespace, console: Console, options: Any
) -> int:
    from mlp_tiers.console import EpochProgress, describe_run, evaluation_table, per_class_table
    from mlp_tiers.runner import prepare_resume, prepare_run, train_and_evaluate
    from shared.metrics import l2_penalty

    if args.resume:
        with flag_names(given_flags(args)):
            run = prepare_resume(args.resume, **resume_overrides(args))
    else:
        run = prepare_run(config_from_args(args))
    check_launch(tier, run.train.replicas)
    count = use_threads(args, run.model, run.train)
    options = dict(options or {})
    label = tier + "".join(f" ({what})" for what in compiled_as(options))
    # The same progress bar and epoch line for every tier; Keras's own bar stays off (verbose 0),
    # so that the tiers' output reads alike and compares line by line.
    callbacks = [] if args.quiet else [EpochProgress(console)]

    def announce(built: Tier) -> None:
        # Said once the tier is built: a device it cannot have is refused before any header.
        console.print(describe_run(label, run.data, run.model, run.train, count))
        if run.resume is not None:
            console.print(f"resuming from {args.resume} after epoch {run.resume.epoch}")
        if run.train.device == "auto":
            console.print(f"--device auto: training on {device_of(built)}")
        note = getattr(built, "replica_note", None)  # what replicas do not share with one device
        if note:
            console.print(f"--replicas {run.train.replicas}: {note}")

    import numpy as np

    # A diverging run is stopped and reported by the loop (DivergedError); NumPy's overflow
    # warnings on the way there would only repeat it.
    with np.errstate(over="ignore", invalid="ignore"):
        outcome = train_and_evaluate(
            tier, run, callbacks, out=None if args.no_save else args.out, options=options,
            on_built=announce,
        )  # fmt: skip
    if not outcome.chief:  # a data-parallel replica but the first, which says it all
        return 0
    history = outcome.history
    if history.stopped_epoch is not None:
        console.print(
            f"early stopping after epoch {history.stopped_epoch}; restored the weights of epoch "
            f"{history.best_epoch}"
        )
    penalty = l2_penalty(outcome.params, run.train.l2) if run.train.l2 else 0.0
    console.print(evaluation_table("Evaluation", outcome.evaluations, penalty))
    if not args.quiet and not run.model.is_regression:
        console.print(per_class_table(outcome.evaluations["test"], run.data.class_names))
    if outcome.folder is not None:
        console.print(f"run folder: {outcome.folder}")
    return 0


def check_launch(tier: str, replicas: int) -> None:
    """Refuse a run started as several MPI processes that would each train alone: the NumPy
    tier's replicas are those processes, as many as ``--replicas``; no other tier uses MPI."""
    from mlp_tiers.threads import mpi_processes
    from shared.errors import SpecError

    processes = mpi_processes()
    if processes == 1 or (tier == "numpy" and replicas == processes):
        return
    if tier != "numpy":
        raise SpecError(
            f"this is one of {processes} MPI processes, and the {tier} tier does not use MPI: "
            f"start it once (its replicas are its framework's devices: --replicas N)"
        )
    raise SpecError(
        f"this is one of {processes} MPI processes, and --replicas is {replicas}: each would "
        f"train alone and write its own run folder; give --replicas {processes}"
    )


def compiled_as(options: dict[str, Any]) -> list[str]:
    """How the tier's step runs, in words, where its options choose: ``XLA``, ``eager``."""
    said = []
    if options.get("mode") == "jit" or options.get("jit_compile") is True:
        said.append("XLA on")
    if options.get("mode") == "eager":
        said.append("eager, op by op")
    if options.get("jit_compile") is False:
        said.append("XLA off")
    steps = options.get("steps_per_call", 1)
    if steps > 1:
        said.append(f"{steps} steps per call")
    return said


def device_of(tier: Tier) -> str:
    """Where a built tier computes, in words: ``cpu``, ``gpu``, ``gpu (CuPy)``."""
    if tier.device == "cupy":
        return "gpu (CuPy)"
    return "gpu" if "gpu" in tier.device.lower() else "cpu"
