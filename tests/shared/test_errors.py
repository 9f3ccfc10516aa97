"""The errors of bad input: one base class the command line catches, and the standard kinds
(``ValueError``, ``RuntimeError``) a Python caller expects."""

import pytest

from shared import errors


@pytest.mark.parametrize(
    ("error", "kind"),
    [(errors.SpecError, ValueError), (errors.DataError, ValueError),
     (errors.UnknownNameError, errors.SpecError), (errors.DeviceError, RuntimeError),
     (errors.BackendError, RuntimeError), (errors.DivergedError, ArithmeticError),
     (errors.CheckpointError, errors.MlpTiersError)],
)  # fmt: skip
def test_every_error_of_bad_input_is_an_mlp_tiers_error_of_its_kind(error, kind):
    assert issubclass(error, errors.MlpTiersError) and issubclass(error, kind)


def test_an_interruption_is_a_keyboard_interrupt_carrying_its_signal():
    stopped = errors.Interrupted(15, "the checkpoint after epoch 2 is c.npz")
    assert isinstance(stopped, KeyboardInterrupt) and not isinstance(stopped, errors.MlpTiersError)
    assert stopped.signal_number == 15 and str(stopped) == "the checkpoint after epoch 2 is c.npz"
