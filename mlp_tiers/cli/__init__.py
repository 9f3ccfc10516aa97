"""The command line: ``mlp-tiers`` and the train script of every tier.

Each subcommand parses its flags (``parser``, and ``mlp_tiers.flags`` for the run flags), calls
one tool of ``mlp_tiers`` and prints what it returns (``commands``, ``training``); ``app`` holds
the frame: the guard that turns errors into one line, and the dispatch. Bad input ends the
program with one line on standard error and exit status 2, never a traceback; a run that
diverged ends with status 1. Only the entry points import this package.
"""

from mlp_tiers.cli.app import guard, main, train_main

__all__ = ["guard", "main", "train_main"]
