"""The command line: ``mlp-tiers`` and the train script of every tier.

Each subcommand parses its flags (``parser``, and ``mlp_tiers.flags`` for the run flags), calls
one tool of ``mlp_tiers`` and prints what they return (``commands``, ``training``); ``app`` holds
the frame: the guard that turns errors into one line, and the dispatch. Bad input ends the
program with one line on standard error and exit status 2, never a traceback; a run that
diverged ends with status 1. Only the entry points import this package.

The entry points here import nothing at the top: ``app`` (and through it the project) loads
inside a ``try``, so that a Ctrl-C in the first moments of start-up, while the modules load,
ends as quietly as one during training.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any


def main(argv: Sequence[str] | None = None) -> int:
    """``mlp-tiers``: see ``mlp_tiers.cli.app.main``."""
    try:
        from mlp_tiers.cli import app
    except KeyboardInterrupt:
        return _interrupted_at_start("mlp-tiers", argv)
    return app.main(argv)


def train_main(
    tier: str,
    argv: Sequence[str] | None = None,
    prog: str | None = None,
    add_flags: Callable[..., None] | None = None,
    choose: Callable[..., tuple[str, dict[str, Any]]] | None = None,
) -> int:
    """A tier's ``python -m <tier>.train``: see ``mlp_tiers.cli.app.train_main``."""
    try:
        from mlp_tiers.cli import app
    except KeyboardInterrupt:
        return _interrupted_at_start(prog or f"python -m {tier}.train", argv)
    return app.train_main(tier, argv, prog, add_flags, choose)


def _interrupted_at_start(prog: str, argv: Sequence[str] | None) -> int:
    """Ctrl-C while the modules load: the guard's one line and status 130. From the command line
    the process ends at once, as the guard's does (a flag a C extension's start-up code may have
    left would otherwise end Python by SIGINT at exit)."""
    import os

    print(f"{prog}: interrupted by Ctrl-C", file=sys.stderr)
    if argv is None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    return 130


__all__ = ["main", "train_main"]
