import pytest

from shared.early_stopping import EarlyStopping


def run(losses, patience):
    stopper = EarlyStopping(patience)
    for epoch, loss in enumerate(losses, start=1):
        if stopper.update(epoch, loss, lambda epoch=epoch: [epoch]):
            break
    return stopper


@pytest.mark.parametrize(
    ("losses", "patience", "stopped", "best"),
    [
        ([1.0, 0.9, 0.8, 0.7], 2, None, 4),  # always improving: never stops
        ([1.0, 0.5, 0.6, 0.7, 0.4], 2, 4, 2),  # two epochs without improvement: stop at 4
        ([1.0, 0.5, 0.6, 0.4, 0.45, 0.5], 2, 6, 4),  # the wait restarts at an improvement
        ([1.0, 1.0, 1.0], 1, 2, 1),  # equal is not an improvement (strictly lower wins)
        ([float("nan"), 2.0, 3.0], 1, 3, 2),  # NaN never improves
    ],
)
def test_keras_rule(losses, patience, stopped, best):
    stopper = run(losses, patience)
    assert stopper.stopped_epoch == stopped
    assert stopper.best_epoch == best
    assert stopper.best_params == [best]


def test_state_round_trip():
    stopper = run([1.0, 0.5, 0.6], 3)
    again = EarlyStopping.from_state(stopper.state(), stopper.best_params)
    assert again.state() == stopper.state()
    assert again.best == 0.5 and again.best_params == [2]
