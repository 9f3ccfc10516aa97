"""Stopping cleanly on SIGINT (Ctrl-C) and SIGTERM.

While a run trains, both signals raise ``shared.errors.Interrupted`` in the main thread. Whatever
it interrupts is abandoned: a checkpoint being written is removed before it replaces anything
(``shared.fileio.atomic_write``), and the run keeps the checkpoint of its last completed epoch,
from which ``--resume`` continues exactly (the interrupted epoch is trained again, on the same
batches). The signal is also remembered, for code that must look for it: library code may catch
the exception on its way (Keras on JAX swallows exceptions raised inside some of its own
functions; a C extension interrupted while it loads can turn it into an error that its importer
catches), so every ``fit`` loop raises it again at its next step (``shared.callbacks``).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.errors import Interrupted

_received: list[int] = []
_held = 0  # > 0 inside ``held()``: a signal is recorded, and raised when the block ends
_pending: list[int] = []


def requested() -> int | None:
    """The signal received while training, if any."""
    return _received[-1] if _received else None


def raise_if_requested() -> None:
    """Raise ``Interrupted`` again if a signal came (for code whose callers swallow it)."""
    if _received:
        raise Interrupted(_received[-1])


def _handler(number: int, frame: Any) -> None:
    _received.append(number)
    if _held:
        _pending.append(number)
        return
    raise Interrupted(number)


@contextmanager
def held() -> Iterator[None]:
    """A signal that arrives inside the block is raised when the block ends, not in the middle.

    For the few steps that must not be cut in two, such as creating a temporary file and
    remembering its name so that it can be removed.
    """
    global _held
    _held += 1
    try:
        yield
    finally:
        _held -= 1
    if not _held and _pending:
        number = _pending[-1]
        _pending.clear()
        raise Interrupted(number)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``Interrupted`` inside the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {
        number: signal.signal(number, _handler) for number in (signal.SIGINT, signal.SIGTERM)
    }
    _received.clear()
    _pending.clear()
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        # Forgotten on the way out: a later run in this process starts with a clean slate.
        _received.clear()
        _pending.clear()
