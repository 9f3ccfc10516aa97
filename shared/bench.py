"""The benchmark harness: tiers (and their variants) trained side by side on one spec, timed.

    mlp-tiers bench --tiers numpy,tf-nn:eager,tf-nn,tf-nn:jit --dataset mnist_shaped \\
        --hidden 256,128 --batch-size 128 --epochs 4

Every entry trains the same model from the same initial weights on the same batches, in this
process one after another (a Keras backend other than this process's runs in a process of its
own). What is timed is an epoch's training steps (``History``'s ``seconds``: no validation, no
data loading). The first epoch includes tracing and compilation, so it is reported apart; the
speed of an entry is the median of its later epochs, over ``repeats`` fresh runs, and each is
compared with the first entry as a ratio, measured in the same run on the same machine.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.runner import Run, prepare_run, train_and_evaluate, train_in_new_process
from shared.spec import RunConfig, SpecError
from shared.tiers import TIERS, parse_tier


@dataclass
class BenchRow:
    """One entry of a benchmark: a tier, its variant, and what its runs measured."""

    entry: str
    tier: str
    options: dict[str, Any]
    first_epoch_seconds: list[float]  # one per repeat: tracing and compilation included
    epoch_seconds: list[float]  # every later epoch of every repeat
    final_loss: float
    test_accuracy: float

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.epoch_seconds or self.first_epoch_seconds)

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "median_epoch_seconds": self.median_seconds}


def check_entries(entries: list[str]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(entry, tier, options)`` for every entry; a clear error for an unknown tier or variant,
    or a tier that is not installed, before anything runs."""
    parsed = []
    for entry in entries:
        name, options = parse_tier(entry)
        missing = TIERS[name].missing()
        if missing:
            raise SpecError(f"tier {entry!r} needs {', '.join(missing)}, which is not installed")
        parsed.append((entry, name, options))
    return parsed


def run_entry(
    entry: str, name: str, options: dict[str, Any], config: RunConfig, run: Run, repeats: int
) -> BenchRow:
    """``repeats`` fresh runs of one entry, each from the shared initial weights."""
    outcomes = [
        train_in_new_process(name, config, options)  # another Keras backend: its own process
        if TIERS[name].conflicts()
        else train_and_evaluate(name, run, out=None, options=options)
        for _ in range(repeats)
    ]
    seconds = [outcome.history.column("seconds") for outcome in outcomes]
    last = outcomes[-1]
    return BenchRow(
        entry=entry,
        tier=name,
        options=options,
        first_epoch_seconds=[epochs[0] for epochs in seconds],
        epoch_seconds=[s for epochs in seconds for s in epochs[1:]],
        final_loss=last.history.last["loss"],
        test_accuracy=last.evaluations["test"].accuracy,
    )


def bench(
    entries: list[str],
    config: RunConfig,
    repeats: int = 1,
    run: Run | None = None,
    on_row: Callable[[BenchRow], None] | None = None,
) -> list[BenchRow]:
    """Run every entry in turn on ``run`` (prepared from ``config`` once when not given)."""
    if repeats < 1:
        raise SpecError(f"--repeats must be an integer >= 1; got {repeats}")
    parsed = check_entries(entries)
    run = run if run is not None else prepare_run(config)
    rows = []
    for entry, name, options in parsed:
        rows.append(run_entry(entry, name, options, config, run, repeats))
        if on_row is not None:
            on_row(rows[-1])
    return rows
