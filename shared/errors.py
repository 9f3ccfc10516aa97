"""The errors mlp-tiers raises for bad input.

Each one carries a single sentence that names what is wrong and what is allowed. The command line
prints that sentence and exits with status 2 (bad input), or 1 for a run that diverged
(``DivergedError``); it never shows a traceback for these. A run stopped by a signal
(``Interrupted``) exits with 128 plus the signal's number, as shells report it.
"""


class MlpTiersError(Exception):
    """Base class for every error caused by the user's input rather than by a bug."""


class SpecError(MlpTiersError, ValueError):
    """An invalid model or training specification (a field value, a config file, a flag)."""


class DataError(MlpTiersError, ValueError):
    """A dataset that is missing, corrupted, or does not fit the model."""


class CheckpointError(MlpTiersError):
    """A checkpoint that cannot be read, or that does not fit the model it is loaded into."""


class DeviceError(MlpTiersError, RuntimeError):
    """A requested device (a GPU) or the library that drives it is not available."""


class UnknownNameError(SpecError):
    """A name (tier, dataset, optimizer, ...) that is not registered."""


class BackendError(MlpTiersError, RuntimeError):
    """A framework backend that is missing, or that conflicts with one already loaded."""


class DivergedError(MlpTiersError, ArithmeticError):
    """Training stopped because its loss became NaN or infinite (the weights diverged)."""


class Interrupted(KeyboardInterrupt):
    """Training stopped by SIGINT (Ctrl-C) or SIGTERM; says where the last checkpoint is."""

    def __init__(self, signal_number: int, message: str = "") -> None:
        super().__init__(message)
        self.signal_number = signal_number
