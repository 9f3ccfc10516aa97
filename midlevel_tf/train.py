"""Train the TensorFlow MLP from the command line.

    python -m midlevel_tf.train --flavour nn --epochs 20       # tf.Variable + tf.nn ops
    python -m midlevel_tf.train --flavour layers --epochs 20   # Keras Dense layers, custom loop
    python -m midlevel_tf.train --eager                        # no tf.function: op by op
    python -m midlevel_tf.train --jit                          # tf.function compiled by XLA
    python -m midlevel_tf.train --help                         # every flag

The steps are those of ``python -m lowlevel_numpy.train`` (``mlp_tiers.runner``): the same data,
initial weights, batches, evaluation and run folder; only the training step differs.
TensorFlow's start-up notes are hidden; set ``TF_CPP_MIN_LOG_LEVEL=0`` to see them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from mlp_tiers.cli import train_main

FLAVOURS = ("nn", "layers")


def add_flags(group: argparse._ArgumentGroup, tier: str = "tf-nn") -> None:
    """This tier's flags; ``tier`` (``tf-nn`` or ``tf-layers``) sets the default flavour."""
    default = tier.removeprefix("tf-")
    group.add_argument(
        "--flavour",
        choices=FLAVOURS,
        default=default,
        help=f"nn: tf.Variable and tf.nn ops; layers: Keras Dense layers in a custom loop "
        f"({default})",
    )
    modes = group.add_mutually_exclusive_group()
    modes.add_argument("--eager", action="store_true", help="run the train step eagerly")
    modes.add_argument("--jit", action="store_true", help="compile the train step with XLA")


def choose(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    mode = "eager" if args.eager else "jit" if args.jit else "function"
    return f"tf-{args.flavour}", {"mode": mode}


def main(argv: Sequence[str] | None = None) -> int:
    return train_main(
        "tf", argv, prog="python -m midlevel_tf.train", add_flags=add_flags, choose=choose
    )


if __name__ == "__main__":
    sys.exit(main())
