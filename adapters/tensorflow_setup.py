"""TensorFlow, imported quietly and configured once, for every tier that runs on it.

TensorFlow prints start-up notes on standard error (oneDNN, CPU instructions, CUDA libraries). For
users of the train scripts these are noise, so ``import_tensorflow`` raises TensorFlow's C++ log
threshold to errors and drops the informational lines printed before its logging is set up.
Developers who want them set ``TF_CPP_MIN_LOG_LEVEL`` themselves (``TF_CPP_MIN_LOG_LEVEL=0`` shows
everything); when that variable is set, nothing is filtered. JAX sets it to 1 as it loads, when
it is unset: a 1 set that way, by a JAX loaded before this module (a user's script may import JAX
first), is not taken for the user's choice.

TF32 is turned off as TensorFlow is imported: on Ampere and newer GPUs TensorFlow multiplies
float32 matrices in TF32 (10-bit mantissas) unless told otherwise, and here float32 means IEEE
float32 in every tier.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.errors import UnknownNameError
from shared.packages import installed
from shared.resources import requested_threads

# Lines TensorFlow writes while it loads and finds its devices: absl's "I"/"W" records
# (I0000 00:00:... file.cc:123] text), which no log level reaches before absl's logging starts,
# absl's own note about them, and the CUDA build's error record on a machine without a GPU.
_STARTUP_NOISE = re.compile(
    r"^([IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] "
    r"|WARNING: All log messages before absl"
    r"|E\d{4} .* cuda_platform\.cc:\d+\] failed call to cuInit)"
)

# The second line of absl's note on CPU instructions ("This TensorFlow binary is optimized to
# use available CPU instructions ..."): a record may take more than one line.
_NOTE_CONTINUED = re.compile(r"^To enable the following instructions: ")


def without_startup_notes(text: str) -> list[str]:
    """The lines of ``text`` that are not TensorFlow's start-up notes, each with its newline."""
    kept, after_note = [], False
    for line in text.splitlines(keepends=True):
        note = bool(_STARTUP_NOISE.match(line))
        if not (note or (after_note and _NOTE_CONTINUED.match(line))):
            kept.append(line)
        after_note = note
    return kept


_LEVEL = "TF_CPP_MIN_LOG_LEVEL"
_QUIET_LEVEL = "2"  # TensorFlow's C++ INFO and WARNING off once its logging is up
# Set beside TF_CPP_MIN_LOG_LEVEL when mlp-tiers chose the level, so that child processes, which
# inherit both, still know the level was not the user's.
_MARK = "MLP_TIERS_TF_LOG_LEVEL"
# ``import jax`` sets TF_CPP_MIN_LOG_LEVEL to 1 when it is unset: JAX's choice, not the user's.
_JAX_LEVEL = "1"


def _users_level() -> str | None:
    level = os.environ.get(_LEVEL)
    return None if level is None or level == os.environ.get(_MARK) else level


def _set_when_started(name: str) -> bool | None:
    """Whether this process started with ``name`` in its environment (Linux keeps the
    environment a process started with in /proc/self/environ); None where that is unknown."""
    try:
        with open("/proc/self/environ", "rb") as start:
            entries = start.read().split(b"\0")
    except OSError:
        return None
    return any(entry.startswith(name.encode() + b"=") for entry in entries)


def _set_by_jax() -> bool:
    """Whether TF_CPP_MIN_LOG_LEVEL is the 1 that JAX set, loaded before this module: the
    process did not start with the variable (where that is unknown, a 1 beside a loaded JAX is
    taken for JAX's)."""
    return (
        "jax" in sys.modules
        and os.environ.get(_LEVEL) == _JAX_LEVEL
        and _MARK not in os.environ
        and not _set_when_started(_LEVEL)
    )


def quiet_logs() -> bool:
    """True unless the user chose TensorFlow's log level (``TF_CPP_MIN_LOG_LEVEL``) themselves."""
    return _users_level() is None


def choose_quiet_level() -> None:
    """Set TensorFlow's log level ourselves (marked as ours) unless the user chose one."""
    if quiet_logs() or _set_by_jax():
        os.environ[_LEVEL] = os.environ[_MARK] = _QUIET_LEVEL


# When this module is first imported, before TensorFlow loads: the level is ours from here on,
# whichever of JAX and TensorFlow loads next (JAX leaves a level that is set alone), in this
# process and in the processes it starts.
choose_quiet_level()


@contextmanager
def quiet_tensorflow_startup() -> Iterator[None]:
    """Hold standard error while TensorFlow loads; pass on all but its start-up notes."""
    if not quiet_logs():
        yield  # the user chose a level: show what it lets through
        return
    choose_quiet_level()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = without_startup_notes(held.read().decode(errors="replace"))
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def require(package: str, purpose: str) -> None:
    """A clear error naming ``package`` when it is not installed."""
    if not installed(package):
        raise UnknownNameError(
            f"{purpose} needs the package {package!r}, which is not installed "
            f"(pip install {package})"
        )


def import_tensorflow() -> Any:
    """``tensorflow``, imported quietly the first time, and configured: TF32 off."""
    if "tensorflow" not in sys.modules:
        require("tensorflow", "this tier")
        with quiet_tensorflow_startup():
            import tensorflow

            threads = requested_threads()  # --threads: before the runtime starts its pools
            if threads is not None:
                tensorflow.config.threading.set_intra_op_parallelism_threads(threads)
                tensorflow.config.threading.set_inter_op_parallelism_threads(threads)
            tensorflow.config.list_physical_devices()  # finds the devices, and says so, here
    tf = sys.modules["tensorflow"]
    if quiet_logs():
        # A process may build several tiers, each tracing its own tf.function; TensorFlow's
        # Python logger would otherwise warn about "retracing".
        tf.get_logger().setLevel("ERROR")
    tf.config.experimental.enable_tensor_float_32_execution(False)
    return tf
