"""The command line's frame: ``mlp-tiers`` and every tier's train script parse their flags,
call the tools of ``mlp_tiers`` and print what they return; errors become one line.

Only the standard library and a few small modules of ours (this package, ``mlp_tiers.flags``,
``mlp_tiers.text``, ``shared.errors``, ``shared.signals``, ``shared.spec``) load before the guard
(``guard``) is in place: rich, NumPy, scikit-learn and the frameworks load inside it, so `--help`
is immediate and Ctrl-C during start-up ends quietly (``mlp_tiers.cli`` catches one that lands
while this module loads).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import mlp_tiers.cli.commands as commands
from mlp_tiers.cli.parser import build_parser
from mlp_tiers.cli.training import run_training
from mlp_tiers.flags import Parser, add_run_flags
from mlp_tiers.text import printable
from shared.errors import DivergedError, MlpTiersError, SpecError
from shared.signals import stop_on_signals

if TYPE_CHECKING:
    from rich.console import Console


def guard(body: Callable[[], int], prog: str, command_line: bool = False) -> int:
    """Run ``body``; turn the user's errors into one line on stderr and exit status 2.

    Ctrl-C prints one line and gives 130; SIGTERM, 143. From the command line
    (``command_line``), the process then ends at once: a Ctrl-C that lands inside a C
    extension's start-up code (SciPy's, while scikit-learn loads) leaves a flag that would
    otherwise make Python end by SIGINT at exit.
    """
    try:
        # SIGTERM, like Ctrl-C, becomes an exception: every ``with`` and ``finally`` on the way
        # out runs, so a process a command started (a load generator, a worker) is stopped.
        with stop_on_signals():
            return body()
    except DivergedError as exc:  # a run that failed, not bad input
        _error(prog, exc)
        return 1
    except MlpTiersError as exc:
        _error(prog, exc)
        return 2
    except OSError as exc:  # a folder that cannot be written, a full disk
        where = f": {exc.filename}" if exc.filename else ""
        _error(prog, f"{exc.strerror or exc}{where}")
        return 1
    except KeyboardInterrupt as exc:
        import signal

        number = getattr(exc, "signal_number", signal.SIGINT)
        name = "SIGTERM" if number == signal.SIGTERM else "Ctrl-C"
        detail = f" by {name}" + (f": {printable(exc, one_line=True)}" if str(exc) else "")
        print(f"{prog}: interrupted{detail}", file=sys.stderr)
        code = 128 + int(number)  # 130 for SIGINT, 143 for SIGTERM, as shells report them
        if command_line:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code


def _error(prog: str, message: object) -> None:
    """``PROG: error: MESSAGE`` on one line of standard error, whatever the message quotes."""
    print(f"{prog}: error: {printable(message, one_line=True)}", file=sys.stderr)


def console() -> Console:
    """Standard output through rich (imported when first needed), reading no markup from the
    strings it prints (``mlp_tiers.console.TextConsole``). Written to a file or a pipe, lines
    are not wrapped (rich would wrap at 80 columns) and carry no colour codes."""
    from mlp_tiers.console import TextConsole

    if sys.stdout.isatty():
        return TextConsole()
    return TextConsole(width=100_000, color_system=None, soft_wrap=True)


def train_main(
    tier: str,
    argv: Sequence[str] | None = None,
    prog: str | None = None,
    add_flags: Callable[[argparse.ArgumentParser], None] | None = None,
    choose: Callable[[argparse.Namespace], tuple[str, dict[str, Any]]] | None = None,
) -> int:
    """Entry point of a tier's ``python -m <tier>.train``.

    A tier with flags of its own adds them with ``add_flags``; ``choose`` then maps the parsed
    flags to the registered tier to train and the options its constructor takes.
    """
    prog = prog or f"python -m {tier}.train"

    def body() -> int:
        parser = Parser(prog=prog, description=f"Train the {tier} tier's MLP and evaluate it.")
        add_run_flags(parser)
        if add_flags is not None:
            add_flags(parser.add_argument_group(f"{tier} tier"))
        args = parser.parse_args(argv)
        name, options = choose(args) if choose is not None else (tier, {})
        return run_training(name, args, console(), options)

    return guard(body, prog, command_line=argv is None)


def main(argv: Sequence[str] | None = None) -> int:
    """``mlp-tiers``: compare the tiers, train one, list datasets and tiers."""
    return guard(lambda: _main(argv), "mlp-tiers", command_line=argv is None)


def train_command(args: argparse.Namespace, console: Console) -> int:
    """``mlp-tiers train``: the tier of ``--tier`` with its options, trained as the flags say."""
    name, options = chosen_tier(args)
    return run_training(name, args, console, options)


def chosen_tier(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The tier and constructor options of ``mlp-tiers train``: ``--tier NAME[:VARIANT]`` and
    the tier's own flags, which must agree."""
    from mlp_tiers.registry import parse_tier, train_script

    name, variant = parse_tier(args.tier)
    script = train_script(name)
    if not hasattr(script, "choose"):
        return name, variant
    chosen, options = script.choose(args)
    if chosen != name:
        raise SpecError(f"the flags name tier {chosen!r}, but --tier is {name!r}")
    if variant:
        # The options the tier's flags give when none is set: a variant may only stand alone.
        fresh = argparse.ArgumentParser()
        script.add_flags(fresh, tier=name)
        defaults = argparse.Namespace(**{**vars(args), **vars(fresh.parse_args([]))})
        if options != script.choose(defaults)[1]:
            raise SpecError(
                f"--tier {args.tier} names a variant and a flag of the tier sets another; give one"
            )
        options = variant
    return name, options


COMMANDS: dict[str, Callable[[argparse.Namespace, Console], int]] = {
    "compare": commands.compare,
    "bench": commands.bench,
    "parity": commands.parity,
    "train": train_command,
    "datasets": commands.list_datasets,
    "threads": commands.threads_command,
    "study": commands.study_command,
    "tiers": commands.list_tiers,
    "concepts": commands.list_concepts,
    "predict": commands.predict,
    "evaluate": commands.evaluate_command,
}


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser(argv)
    if not (sys.argv[1:] if argv is None else argv):  # no command: say what there is
        parser.print_help(sys.stderr)
        return 2
    args = parser.parse_args(argv)
    return COMMANDS[args.command](args, console())
