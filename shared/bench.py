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
from dataclasses import dataclass
from typing import Any

from shared.runner import Outcome, prepare_run, train_and_evaluate, train_in_new_process
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


def run_entry(entry: str, config: RunConfig, repeats: int) -> BenchRow:
    name, options = parse_tier(entry)
    first, later, outcome = [], [], None
    for _ in range(repeats):
        if TIERS[name].conflicts():  # another Keras backend: a process of its own
            outcome = train_in_new_process(name, config, options)
        else:
            outcome = train_and_evaluate(name, prepare_run(config), out=None, options=options)
        seconds = outcome.history.column("seconds")
        first.append(seconds[0])
        later.extend(seconds[1:])
    assert isinstance(outcome, Outcome)
    return BenchRow(
        entry=entry,
        tier=name,
        options=options,
        first_epoch_seconds=first,
        epoch_seconds=later,
        final_loss=outcome.history.last["loss"],
        test_accuracy=outcome.evaluations["test"].accuracy,
    )


def bench(entries: list[str], config: RunConfig, repeats: int = 1) -> list[BenchRow]:
    """Run every entry in turn; a clear error for an unknown tier or variant before any run."""
    if repeats < 1:
        raise SpecError(f"--repeats must be an integer >= 1; got {repeats}")
    for entry in entries:
        parse_tier(entry)
        missing = TIERS[parse_tier(entry)[0]].missing()
        if missing:
            raise SpecError(f"tier {entry!r} needs {', '.join(missing)}, which is not installed")
    return [run_entry(entry, config, repeats) for entry in entries]
