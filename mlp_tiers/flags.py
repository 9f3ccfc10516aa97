"""The run flags: the one place a command-line flag becomes a field of a spec.

Settings come from three places, later ones winning: the defaults of the spec dataclasses, a TOML
file (``--config``, sections ``[data]``, ``[model]``, ``[train]``), and flags. Every train script,
``mlp-tiers compare`` and the study page's pictures run parse their flags here.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from shared.errors import SpecError
from shared.spec import RunConfig, config_from_dict, load_toml


def _hidden(text: str) -> tuple[int, ...]:
    if text.strip().lower() in ("", "none", "()"):
        return ()
    try:
        return tuple(int(part) for part in text.replace(" ", ",").split(",") if part)
    except ValueError:
        raise SpecError(
            f"--hidden takes comma-separated layer sizes such as 128,64 (or 'none'); got {text!r}"
        ) from None


def _number(kind: Callable[[str], Any], flag: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise SpecError(f"{flag} takes {what}; got {text!r}") from None

    return parse


# flag -> (section, spec field, parser of the flag's text, help)
FLAGS: dict[str, tuple[str, str, Callable[[str], Any], str]] = {
    # data
    "--dataset": ("data", "name", str, "registered dataset or path to an .npz/.csv file (digits)"),
    "--val-fraction": ("data", "val_fraction", float, "validation share of training data (0.15)"),
    "--test-fraction": ("data", "test_fraction", float, "test share, if no test split ships (0.2)"),
    "--split-seed": ("data", "split_seed", int, "seed of the splits, apart from --seed (0)"),
    "--classes": ("data", "n_classes", int, "number of classes of 'spirals' (3)"),
    "--samples": ("data", "n_samples", int,
                  "per class: spirals (200), mnist_shaped (7000); curves: in all (300)"),
    "--noise": ("data", "noise", float, "noise std of the curves line, parabola, serpentine (0.1)"),
    "--target": ("data", "target", str,
                 "a .csv's target column(s), by name or index: price or 3,4 (the last)"),
    "--label-column": ("data", "label_column", str, "the older name of --target, one column"),
    # model
    "--task": ("model", "task", str, "classification or regression (classification)"),
    "--hidden": ("model", "hidden", _hidden, "hidden sizes, e.g. 128,64, or 'none' (128,64)"),
    "--activation": ("model", "activation", str, "relu, tanh, sigmoid or identity (relu)"),
    "--output": ("model", "output", str, "softmax or identity (the task's: softmax, identity)"),
    "--loss": ("model", "loss", str, "cross_entropy or mse (the task's: cross_entropy, mse)"),
    "--init": ("model", "init", str, "glorot_uniform, glorot_normal, he_uniform, he_normal"),
    # training
    "--optimizer": ("train", "optimizer", str, "sgd, momentum, nesterov, adam or rmsprop (adam)"),
    "--lr": ("train", "lr", float, "learning rate (Keras's default for the optimizer)"),
    "--momentum": ("train", "momentum", float, "momentum of momentum and nesterov (0.9)"),
    "--beta1": ("train", "beta1", float, "Adam's beta1 (0.9)"),
    "--beta2": ("train", "beta2", float, "Adam's beta2 (0.999)"),
    "--rho": ("train", "rho", float, "RMSprop's rho (0.9)"),
    "--eps": ("train", "eps", float, "Adam's and RMSprop's epsilon (1e-7)"),
    "--batch-size": ("train", "batch_size", int, "samples per step (32)"),
    "--epochs": ("train", "epochs", int, "total epochs, also when resuming (20)"),
    "--l2": ("train", "l2", float, "L2 penalty factor on the kernels (0)"),
    "--dropout": ("train", "dropout", float, "drop probability after each hidden layer (0)"),
    "--patience": ("train", "patience", int, "early stopping patience in epochs (off)"),
    "--seed": ("train", "seed", int, "seed of initial weights, batch order and dropout (0)"),
    "--dtype": ("train", "dtype", str, "float32 or float64 (float32)"),
    "--device": ("train", "device", str, "cpu, gpu or auto (cpu)"),
    "--replicas": ("train", "replicas", int,
                   "data-parallel replicas, each a share of every batch (1; docs/distributed.md)"),
}  # fmt: skip


_NEGATIVE_NUMBER = re.compile(r"^-(\d|\.\d)[\d.]*(e[-+]?\d+)?$", re.IGNORECASE)


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit status 2.

    A negative number after a flag is that flag's value (``--lr -1e-3``), so that the spec can
    say what is allowed; argparse alone would read ``-1e-3`` as an unknown flag.
    """

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        tokens = list(sys.argv[1:] if args is None else args)
        joined: list[str] = []
        for token in tokens:
            if (
                _NEGATIVE_NUMBER.match(token)
                and joined
                and joined[-1].startswith("--")
                and "=" not in joined[-1]
            ):
                joined[-1] = f"{joined[-1]}={token}"
            else:
                joined.append(token)
        return super().parse_known_args(joined, namespace)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # No abbreviations: "--jit" would otherwise be read as the Keras tier's "--jit-compile"
        # and fail for the want of its value; an unknown flag is named, with the close ones.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments: "):
            close = close_flags(message.removeprefix("unrecognized arguments: ").split(), self)
            if close:
                message += f" (this command takes {', '.join(close)})"
        self.exit(2, f"{self.prog}: error: {message}\n")


def close_flags(words: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """The flags of ``parser`` (its subcommands' included) that the unknown ``words`` look like:
    those they begin, else those spelt nearly alike."""
    import difflib

    known: list[str] = []
    parsers = [parser]
    while parsers:
        current = parsers.pop()
        for action in current._actions:
            known += action.option_strings
            if isinstance(action, argparse._SubParsersAction):
                parsers += list(action.choices.values())
    found: list[str] = []
    for word in (w.split("=")[0] for w in words if w.startswith("--")):
        longer = [flag for flag in known if flag.startswith(word) and flag != word]
        found += longer or difflib.get_close_matches(word, known, n=2, cutoff=0.75)
    return sorted(set(found))


def add_run_flags(parser: argparse.ArgumentParser, resume: bool = True) -> None:
    """The flags every train script (and, without ``--resume``, ``mlp-tiers compare``) takes."""
    groups = {
        "data": parser.add_argument_group("data"),
        "model": parser.add_argument_group("model"),
        "train": parser.add_argument_group("training"),
    }
    for flag, (section, _, _, help_text) in FLAGS.items():
        groups[section].add_argument(
            flag, default=None, metavar=flag.lstrip("-").upper().replace("-", "_"), help=help_text
        )
    parser.add_argument(
        "--config", metavar="TOML", help="a TOML file with [data], [model] and [train] sections"
    )
    parser.add_argument(
        "--out", default="runs", metavar="DIR", help="where run folders are written (runs)"
    )
    parser.add_argument("--no-save", action="store_true", help="write no run folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    parser.add_argument(
        "--threads",
        default="auto",
        metavar="N",
        help="threads for the math in every framework: a number, or auto (the default: one "
        "for small models, else one per idle core; see docs/benchmarks.md)",
    )
    if resume:
        parser.add_argument(
            "--resume", metavar="CHECKPOINT", help="continue a run from its checkpoint.npz"
        )


def given_flags(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The flags given on the command line, parsed, by section."""
    sections: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "train": {}}
    for flag, (section, field, parse, _) in FLAGS.items():
        text = getattr(args, flag.lstrip("-").replace("-", "_"))
        if text is not None:
            convert = _number(parse, flag) if parse in (int, float) else parse
            sections[section][field] = convert(text)
    return sections


def use_threads(args: argparse.Namespace, model: Any, train: Any) -> int:
    """Apply ``--threads`` (resolved for this model and batch when ``auto``); returns the count."""
    from mlp_tiers import threads

    count = threads.resolve(threads.parse_threads(args.threads), model.layer_sizes,
                            train.batch_size)  # fmt: skip
    count = threads.shared_among_processes(count)  # under mpiexec: a share for each process
    threads.limit(count)
    return count


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The ``RunConfig`` of a TOML file (if any) with the flags on top."""
    raw = load_toml(args.config) if args.config else {}
    where = f"config file {args.config}" if args.config else "the flags"
    given = given_flags(args)
    for section, values in given.items():
        if not isinstance(raw.get(section, {}), dict):
            raise SpecError(f"[{section}] in {where} must be a table of keys and values")
        raw[section] = {**raw.get(section, {}), **values}
    with flag_names(given):
        return config_from_dict(raw, where)


@contextmanager
def flag_names(given: dict[str, dict[str, Any]]) -> Iterator[None]:
    """A ``SpecError`` about a setting given as a flag names the flag (``--classes``), not the
    spec's field (``n_classes``)."""
    try:
        yield
    except SpecError as exc:
        message = str(exc)
        for flag, (section, field, _, _) in FLAGS.items():
            if field not in given.get(section, {}):
                continue
            if message.startswith(f"{field} "):
                raise SpecError(f"{flag}{message[len(field) :]}") from None
            if field == "hidden" and message.startswith("every hidden layer size"):
                raise SpecError(f"--hidden: {message}") from None
        raise


def resume_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Training flags allowed with ``--resume``; data or model flags are refused."""
    flags = given_flags(args)
    for section in ("data", "model"):
        if flags[section]:
            field = next(iter(flags[section]))
            raise SpecError(
                f"{section} setting {field!r} cannot change when resuming: the {section} comes "
                "from the checkpoint"
            )
    if args.config:
        raise SpecError(
            "--config cannot be combined with --resume: the settings come from the checkpoint"
        )
    return flags["train"]
