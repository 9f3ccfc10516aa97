"""The training history: its records, its CSV, and epochs without a training accuracy."""

import csv
import io

from mlp_tiers.report import plot_learning_curves
from shared.history import History


def history() -> History:
    h = History()
    for epoch in range(1, 4):
        h.append({"epoch": epoch, "loss": 1 / epoch, "accuracy": 0.25 * epoch,
                  "val_loss": 1.5 / epoch, "val_accuracy": 0.3 * epoch, "seconds": 0.01})  # fmt: skip
    h.best_epoch = 3
    return h


def test_history_csv():
    rows = list(csv.DictReader(io.StringIO(history().to_csv())))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert float(rows[1]["loss"]) == 0.5
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]
    assert float(rows[1]["accuracy"]) == 0.5


def test_epochs_without_a_training_accuracy_are_empty_cells_and_gaps(tmp_path):
    """A run resumed from a checkpoint written before the training accuracy was recorded: its
    first epochs have none. The CSV leaves the cell empty and the plot leaves a gap."""
    h = history()
    del h.records[0]["accuracy"]
    rows = list(csv.DictReader(io.StringIO(h.to_csv())))
    assert [r["accuracy"] for r in rows] == ["", "0.5", "0.75"]
    assert h.column("accuracy") == [None, 0.5, 0.75]
    plot_learning_curves(h, tmp_path / "curves.png", "test", resumed_after=1)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_classifier_fitted_without_a_validation_split_keeps_its_accuracy_column():
    h = history()
    for record in h.records:
        record["val_loss"] = record["val_accuracy"] = None
    rows = list(csv.DictReader(io.StringIO(h.to_csv())))
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]
    assert [r["accuracy"] for r in rows] == ["0.25", "0.5", "0.75"]
    assert {r["val_loss"] for r in rows} == {""}
    for record in h.records:  # a regressor's: no accuracies at all, so no accuracy columns
        record["accuracy"] = None
    assert next(csv.reader(io.StringIO(h.to_csv()))) == ["epoch", "loss", "val_loss", "seconds"]
