"""The tier registry: names, classes, and the process of their own a Keras backend may need."""

import pytest

from mlp_tiers.registry import available_tiers, get_tier
from shared.errors import UnknownNameError


def test_registry():
    assert "numpy" in available_tiers()
    with pytest.raises(UnknownNameError, match="unknown tier 'jaxx'; registered tiers are numpy"):
        get_tier("jaxx")


def test_entries_point_at_existing_classes_when_installed():
    for name in available_tiers():
        cls = get_tier(name)
        assert cls.name == name


def _die():
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def test_a_child_process_killed_mid_run_is_one_clear_error():
    """compare and parity run other Keras backends in a child process; when that child dies,
    the user reads what happened, not BrokenProcessPool."""
    from mlp_tiers.registry import run_in_new_process
    from shared.errors import BackendError

    with pytest.raises(BackendError, match="ended without an answer: it was killed, or ran out"):
        run_in_new_process(_die)
