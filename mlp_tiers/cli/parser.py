"""The ``mlp-tiers`` command's parser: one function per subcommand, each adding its flags."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from mlp_tiers.flags import Parser, add_run_flags

Commands = Any  # argparse's private _SubParsersAction


def build_parser(argv: Sequence[str] | None) -> Parser:
    """The whole ``mlp-tiers`` parser; ``argv`` decides which tier's own flags ``train`` takes."""
    parser = Parser(prog="mlp-tiers", description="One MLP classifier, three tiers of abstraction.")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )
    add_compare(commands)
    add_train(commands, argv)
    add_bench(commands)
    add_parity(commands)
    add_study(commands)
    add_threads(commands)
    commands.add_parser("datasets", help="list the registered datasets")
    commands.add_parser("tiers", help="list the tiers and whether they are installed")
    add_predict(commands)
    add_evaluate(commands)
    concepts = commands.add_parser(
        "concepts", help="where each tier writes each concept: forward, loss, apply_update, ..."
    )
    concepts.add_argument(
        "--markdown", action="store_true", help="print docs/concepts.md instead of a table"
    )
    return parser


def add_compare(commands: Commands) -> None:
    compare = commands.add_parser(
        "compare",
        help="train every installed tier on one spec and compare them",
        description="Train every installed tier on the same spec, initial weights and batches.",
    )
    add_run_flags(compare, resume=False)
    compare.add_argument("--tiers", metavar="NAMES", help="comma-separated tiers (all installed)")


def add_train(commands: Commands, argv: Sequence[str] | None) -> None:
    from mlp_tiers.registry import TIERS

    train = commands.add_parser(
        "train",
        help="train one tier (the flags of its train script)",
        description="Train one tier's MLP and evaluate it. The tiers: "
        + "; ".join(f"{name}: {entry.summary}" for name, entry in TIERS.items())
        + ". A tier's own flags (--eager, --jit, --jit-compile, ...) follow --tier; a variant "
        "may be named with it, as in --tier tf-layers:jit.",
    )
    add_run_flags(train)
    train.add_argument(
        "--tier",
        default="numpy",
        metavar="TIER[:VARIANT]",
        help=f"which tier (numpy): {', '.join(TIERS)}",
    )
    tier_flags(train, argv)


def tier_flags(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> None:
    """Add the flags of the train script of the tier that ``--tier`` names in ``argv``."""
    from mlp_tiers.registry import parse_tier, train_script

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] != ["train"]:
        return
    pre = Parser(prog="mlp-tiers train", add_help=False, allow_abbrev=False)  # one-line errors
    pre.add_argument("--tier", default="numpy")
    known, _ = pre.parse_known_args(argv[1:])
    name, _ = parse_tier(known.tier)
    script = train_script(name)
    if hasattr(script, "add_flags"):
        script.add_flags(parser.add_argument_group(f"{name} tier"), tier=name)


def add_bench(commands: Commands) -> None:
    bench = commands.add_parser(
        "bench",
        help="time tiers and their variants side by side",
        description="Train each entry on the same spec and report its median epoch time.",
    )
    add_run_flags(bench, resume=False)
    bench.add_argument(
        "--tiers",
        default=None,
        metavar="ENTRIES",
        help="comma-separated tiers (each with an optional variant: tf-nn:eager, keras:jit) and "
        "peers (gemm-floor, sklearn, torch, torch:compile, jax-scan); by default every tier "
        "and peer, with a row saying why for those not installed",
    )
    bench.add_argument(
        "--repeats", type=int, default=3, help="rounds: fresh runs of every entry, interleaved (3)"
    )
    bench.add_argument(
        "--busy",
        type=int,
        default=0,
        metavar="N",
        help="run N CPU-bound processes alongside, as on a shared machine (0)",
    )
    bench.add_argument(
        "--sweep",
        default=None,
        metavar="AXIS=SIZES",
        help="bench at each size, one size changed: hidden=64,256,1024 (the width of every "
        "hidden layer) or batch=32,128,512; writes sweep.json and sweep.png",
    )


def add_parity(commands: Commands) -> None:
    parity = commands.add_parser(
        "parity",
        help="step tiers in lockstep with the NumPy tier and report the differences",
        description="Train each tier for --steps steps on the same batches as the NumPy tier "
        "(run on the CPU) and compare the parameters after every step.",
    )
    add_run_flags(parity, resume=False)
    parity.add_argument("--tiers", required=True, metavar="ENTRIES", help="tiers to check")
    parity.add_argument("--steps", type=int, default=10, help="steps to compare (10)")


def add_study(commands: Commands) -> None:
    study = commands.add_parser(
        "study",
        help="a page that lines the three tiers up concept by concept",
        description="Write one self-contained HTML page: for each concept of the concept table, "
        "the formula, the NumPy, TensorFlow and Keras code quoted from the source, the lines "
        "each spends, the measured parity figure, and the pictures of the tiers trained side "
        "by side. --concept NAME prints one section here.",
    )
    study.add_argument("--out", default="study", metavar="DIR", help="folder (study)")
    study.add_argument("--open", action="store_true", help="open the page in a browser")
    study.add_argument(
        "--concept", metavar="NAME", help="print this concept's section in the terminal instead"
    )
    study.add_argument(
        "--parity",
        metavar="PARITY_JSON",
        help="take the parity figures from this report of mlp-tiers parity instead of "
        "measuring them now",
    )
    study.add_argument(
        "--pictures",
        metavar="RUN_DIR",
        action="append",
        help="show the pictures of this run folder of mlp-tiers compare (give it again for "
        "another run) instead of training the tiers now (as compare --dataset spirals --hidden "
        "32,32 --lr 0.01 --epochs 30, into DIR/compare-spirals, and a regressor on serpentine, "
        "into DIR/compare-serpentine)",
    )


def add_threads(commands: Commands) -> None:
    threads = commands.add_parser(
        "threads",
        help="time a training step's matrix products with 1 BLAS thread and with more",
        description="For MLPs from small to large, the median time of one training step's "
        "matrix products with each BLAS thread count, interleaved, and what --threads auto "
        "chooses; --busy N starts N CPU-bound processes for the measurement, as on a shared "
        "machine.",
    )
    threads.add_argument(
        "--counts", default=None, metavar="N,M", help="thread counts (1 and every core)"
    )
    threads.add_argument(
        "--busy", type=int, default=0, metavar="N", help="CPU-bound processes to run alongside (0)"
    )
    threads.add_argument("--rounds", type=int, default=5, help="rounds, interleaved (5)")


RUN_HELP = "a run folder of train or compare, or a checkpoint.npz"
TIER_HELP = (
    "tier to load the weights into (the one that trained them); in a compare folder, the tier "
    "whose weights to use"
)


def add_predict(commands: Commands) -> None:
    predict = commands.add_parser(
        "predict",
        help="predicted classes and probabilities (a regressor's numbers) of a trained run for "
        "the rows of a file",
        description="Predict the classes of the rows of an .npz (array x) or .csv file (feature "
        "columns, and a label column that is ignored, or a regressor's target columns) with a "
        "trained run, standardizing the features as its training data was; a regressor's "
        "predictions are in its targets' units.",
    )
    predict.add_argument("run", metavar="RUN_OR_CHECKPOINT", help=RUN_HELP)
    predict.add_argument("--input", required=True, metavar="FILE", help=".npz or .csv file")
    predict.add_argument("--out", metavar="FILE", help=".csv or .npz to write (standard output)")
    predict.add_argument("--tier", help=TIER_HELP)
    predict.add_argument(
        "--target", "--label-column", dest="label_column",
        help="a .csv's target column(s) to leave out (the last ones, if present)",
    )  # fmt: skip


def add_evaluate(commands: Commands) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate a trained run on a dataset or a labelled file",
        description="Accuracy, loss, per-class precision, recall and F1, and the confusion "
        "matrix of a trained run on a registered dataset (every split) or on a labelled .npz or "
        ".csv file; for a regressor, MSE, RMSE, MAE and R² in its targets' units.",
    )
    evaluate.add_argument("run", metavar="RUN_OR_CHECKPOINT", help=RUN_HELP)
    evaluate.add_argument(
        "--dataset",
        required=True,
        metavar="NAME_OR_PATH",
        help="a registered dataset, or an .npz or .csv file with labels",
    )
    evaluate.add_argument("--tier", help=TIER_HELP)
    evaluate.add_argument(
        "--target", "--label-column", dest="label_column",
        help="the .csv's label column, or a regressor's target column(s) (the last)",
    )  # fmt: skip
