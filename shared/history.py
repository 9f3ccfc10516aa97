"""The training history: one record per epoch, as every tier's ``fit`` returns it."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np

HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")


@dataclass
class History:
    """Per-epoch records of a run.

    Each record holds ``epoch`` (1-based), ``loss`` (the training loss averaged over the epoch's
    samples, L2 term included, as Keras reports it), ``accuracy`` (the share of the epoch's
    training samples that their step classified right, before its update and with dropout on,
    as Keras's ``accuracy`` metric counts them), ``val_loss`` (validation data loss plus the L2
    term: Keras's ``val_loss``, which early stopping monitors), ``val_accuracy``, and ``seconds``
    (the wall time of the epoch's training steps). Epochs read from a checkpoint of format
    version 1, written before the training accuracy was recorded, have None for it.
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_epoch: int | None = None

    def append(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def column(self, name: str) -> list[Any]:
        """One value per epoch; None where a record lacks ``name`` (see ``accuracy``)."""
        return [record.get(name) for record in self.records]

    def __len__(self) -> int:
        return len(self.records)

    @property
    def last(self) -> dict[str, Any]:
        return self.records[-1]

    @property
    def median_seconds(self) -> float | None:
        """The median wall time of an epoch's training steps; None before the first epoch."""
        return float(np.median(self.column("seconds"))) if self.records else None

    def to_csv(self, l2: bool = False) -> str:
        """The records as CSV; with an L2 term, the loss columns say so (``loss+L2``). A
        regressor's history, which has no accuracies, has no accuracy columns (a classifier
        fitted without a validation split keeps its training accuracy)."""
        regressor = bool(self.records) and all(
            r.get("accuracy") is None and r.get("val_accuracy") is None for r in self.records
        )
        columns = [key for key in HISTORY_COLUMNS if not (regressor and "accuracy" in key)]
        names = [f"{key}+L2" if l2 and key in ("loss", "val_loss") else key for key in columns]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(names)
        for record in self.records:
            writer.writerow(_csv_cell(record.get(key)) for key in columns)
        return buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    return "" if value is None else value  # an empty cell: not measured
