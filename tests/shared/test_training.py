"""The loop helpers every hand-written ``fit`` calls: plain functions of values, checked here
against numbers worked out by hand."""

import dataclasses
import math
import re

import numpy as np
import pytest

from shared.checkpoint import Checkpoint
from shared.data import make_dataset
from shared.early_stopping import EarlyStopping
from shared.errors import DataError, DivergedError
from shared.init import init_params
from shared.spec import DataSpec, ModelSpec, TrainSpec
from shared.training import (
    check_finite,
    check_validation,
    early_stopping_for,
    epoch_record,
    predict_in_chunks,
    resumed_state,
    stopped,
    training_arrays,
    validate,
)


def test_a_finite_loss_comes_back_as_a_float():
    assert check_finite(np.float32(0.25), "numpy", 0.1, 1, 1, 4) == 0.25


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_loss_that_is_not_finite_stops_training_saying_where_and_what_to_try(value):
    with pytest.raises(DivergedError) as raised:
        check_finite(value, "tf-nn", 0.5, 3, 7, 12)
    assert str(raised.value) == (
        f"tf-nn: the training loss became {value} at epoch 3, step 7 of 12; the weights "
        "diverged, so training stopped there. A smaller learning rate keeps them finite "
        "(--lr is 0.5; try 0.05)"
    )


def test_a_validation_loss_that_is_not_finite_stops_training():
    check_validation(1.5, "keras", 0.1, 2)  # finite: nothing happens
    with pytest.raises(DivergedError, match=r"^keras: the validation loss became nan after "
                       r"epoch 2; the weights diverged\. .*\(--lr is 0\.1\)$"):  # fmt: skip
        check_validation(math.nan, "keras", 0.1, 2)


def two_class_data():
    x = np.array([[0.0, 1.0], [1.0, 0.0]] * 10)
    return make_dataset("t", x, np.array([0, 1] * 10), DataSpec(name="t", val_fraction=0.5))


def test_validate_adds_the_l2_term_of_the_kernels_to_the_data_loss():
    data = two_class_data()
    # the right class at probability 0.8 for every validation sample: loss -log 0.8
    p = np.where(np.eye(2)[data.y_val] == 1, 0.8, 0.2)
    params = [(np.array([[1.0, 2.0]]), np.array([5.0]))]  # sum(W^2) = 5; biases do not count
    model = ModelSpec(n_inputs=2, n_outputs=2, hidden=())
    loss, accuracy = validate(p, data, model, params, l2=0.1)
    assert loss == pytest.approx(-math.log(0.8) + 0.5, rel=1e-12) and accuracy == 1.0
    assert validate(p, data, model, params, l2=0.0)[0] == pytest.approx(-math.log(0.8), rel=1e-12)


def test_the_epoch_record_weights_each_batch_loss_by_its_size():
    record = epoch_record(4, [1.0, 2.0, 4.0], [32, 32, 16], 60, 0.5, 0.75, 1.25)
    assert record == {"epoch": 4, "loss": (32 + 64 + 64) / 80, "accuracy": 60 / 80,
                      "val_loss": 0.5, "val_accuracy": 0.75, "seconds": 1.25}  # fmt: skip


def test_training_arrays_are_the_inputs_and_one_hot_targets_after_checking_both_splits():
    data = two_class_data()
    model = ModelSpec(n_inputs=2, n_outputs=2, hidden=())
    x, t = training_arrays(data, model, "float64")
    np.testing.assert_array_equal(x, data.x_train)
    np.testing.assert_array_equal(t, np.eye(2)[data.y_train])
    with pytest.raises(DataError, match="needs \\(batch, 3\\)"):
        training_arrays(data, ModelSpec(n_inputs=3, n_outputs=2, hidden=()), "float64")


def test_without_validation_rows_there_is_no_validation_loss_and_no_early_stopping():
    data = dataclasses.replace(two_class_data(), x_val=np.zeros((0, 2)), y_val=np.zeros(0, int))
    model = ModelSpec(n_inputs=2, n_outputs=2, hidden=())
    params = [(np.ones((2, 2)), np.zeros(2))]
    assert validate(np.zeros((0, 2)), data, model, params, l2=0.1) == (None, None)
    check_validation(None, "numpy", 0.1, 1)  # nothing to check: nothing happens
    x, _ = training_arrays(data, model, "float64")
    assert len(x) == len(data.x_train)
    with pytest.raises(DataError, match=r"early stopping \(patience 3\) .* no validation rows"):
        training_arrays(data, model, "float64", patience=3)


def test_prediction_in_chunks_covers_every_row_once_and_keeps_an_empty_input_empty():
    model = ModelSpec(n_inputs=1, n_outputs=2, hidden=())
    calls = []

    def predict(chunk):
        calls.append(len(chunk))
        return np.hstack([chunk, -chunk])

    x = np.arange(20000, dtype="float32")[:, None]
    out = predict_in_chunks(predict, x, model, "float32")
    assert calls == [8192, 8192, 3616]
    np.testing.assert_array_equal(out[:, 0], x[:, 0])
    assert predict_in_chunks(predict, x[:0], model, "float32").shape == (0, 2)


def test_early_stopping_is_off_without_patience_and_stopped_only_once_it_stopped():
    assert early_stopping_for(TrainSpec()) is None and not stopped(None)
    stopper = early_stopping_for(TrainSpec(patience=1))
    assert isinstance(stopper, EarlyStopping) and not stopped(stopper)
    stopper.update(1, 1.0, lambda: [])
    stopper.update(2, 2.0, lambda: [])  # no better: patience 1 is used up
    assert stopped(stopper)


def test_a_resumed_run_takes_its_epoch_history_and_early_stopping_from_the_checkpoint():
    model = ModelSpec(n_inputs=2, n_outputs=2, hidden=())
    best = init_params(model, 1)
    record = {"epoch": 1, "loss": 1.0, "accuracy": 0.5, "val_loss": 0.9, "val_accuracy": 0.5,
              "seconds": 0.1}  # fmt: skip
    checkpoint = Checkpoint(
        params=init_params(model, 0), model=model, train=TrainSpec(patience=2), slots={},
        step=3, epoch=1, history=[record], best=best,
        early_stopping={"patience": 2, "best": 0.9, "best_epoch": 1, "wait": 0,
                        "stopped_epoch": None},
    )  # fmt: skip
    epoch, history, stopper = resumed_state(checkpoint, TrainSpec(patience=4))
    assert epoch == 1 and history.records == [record]
    assert stopper.patience == 4 and stopper.best == 0.9 and stopper.best_params is best
    # with early stopping off now, none comes back
    assert resumed_state(checkpoint, TrainSpec())[2] is None


@pytest.mark.parametrize(("lr", "suggested"), [(0.5, 0.05), (1.0, 0.1), (1e6, 0.01), (5.0, 0.01)])
def test_the_suggested_learning_rate_is_one_that_can_converge(lr, suggested):
    with pytest.raises(DivergedError, match=re.escape(f"--lr is {lr:g}; try {suggested:g})")):
        check_finite(math.nan, "numpy", lr, 1, 1, 1)
