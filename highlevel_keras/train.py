"""Train the Keras MLP from the command line.

    python -m highlevel_keras.train --epochs 20                    # Keras on TensorFlow
    python -m highlevel_keras.train --backend jax --epochs 20      # the same model on JAX
    python -m highlevel_keras.train --backend torch --epochs 20    # ... and on PyTorch
    python -m highlevel_keras.train --help                         # every flag

The steps are those of ``python -m lowlevel_numpy.train`` (``mlp_tiers.runner``): the same data,
initial weights, batches, evaluation and run folder, which here also holds ``model.keras``, the
model in Keras's own format. Keras's progress bar reports the epochs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from mlp_tiers.cli import train_main

TIER_OF_BACKEND = {"tensorflow": "keras", "jax": "keras-jax", "torch": "keras-torch"}
JIT = {"auto": "auto", "on": True, "off": False}


def add_flags(group: argparse._ArgumentGroup, tier: str = "keras") -> None:
    """This tier's flags; ``tier`` (``keras``, ``keras-jax``, ``keras-torch``) sets the default
    backend."""
    default = next(b for b, name in TIER_OF_BACKEND.items() if name == tier)
    group.add_argument(
        "--backend",
        choices=tuple(TIER_OF_BACKEND),
        default=default,
        help=f"Keras's backend, fixed when Keras is first imported ({default})",
    )
    group.add_argument(
        "--jit-compile",
        choices=tuple(JIT),
        default="auto",
        help="XLA compilation of the train step: Keras's auto (JAX, or a GPU), on or off (auto)",
    )


def choose(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    return TIER_OF_BACKEND[args.backend], {"jit_compile": JIT[args.jit_compile]}


def main(argv: Sequence[str] | None = None) -> int:
    return train_main(
        "keras", argv, prog="python -m highlevel_keras.train", add_flags=add_flags, choose=choose
    )


if __name__ == "__main__":
    sys.exit(main())
