"""SIGINT and SIGTERM while training: raised as ``Interrupted``, held where a step must not be
cut in two, and forgotten once the run that received them ends."""

import os
import signal

import pytest

from shared.errors import Interrupted
from shared.signals import held, stop_on_signals


def signal_self(number):
    os.kill(os.getpid(), number)


def test_a_signal_inside_held_is_raised_when_the_block_ends():
    steps = []
    with stop_on_signals(), pytest.raises(Interrupted) as caught:
        with held():
            signal_self(signal.SIGTERM)
            steps.append("after the signal")
        steps.append("after the block")
    assert steps == ["after the signal"]
    assert caught.value.signal_number == signal.SIGTERM


def test_held_blocks_nest_and_raise_only_at_the_outermost_end():
    steps = []
    with stop_on_signals(), pytest.raises(Interrupted):
        with held():
            with held():
                signal_self(signal.SIGINT)
            steps.append("inner block ended")
        steps.append("outer block ended")
    assert steps == ["inner block ended"]


def test_a_signal_is_forgotten_once_the_run_that_received_it_ends():
    from shared.signals import raise_if_requested, requested

    with stop_on_signals(), pytest.raises(Interrupted):
        signal_self(signal.SIGINT)
    assert requested() is None
    raise_if_requested()  # the next run in this process must not be stopped by the old signal
