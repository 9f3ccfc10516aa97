"""Train the NumPy MLP from the command line.

    python -m lowlevel_numpy.train --epochs 20                 # digits, the defaults
    python -m lowlevel_numpy.train --dataset mnist --hidden 256,128 --batch-size 128
    python -m lowlevel_numpy.train --resume runs/<run>/checkpoint.npz --epochs 40
    python -m lowlevel_numpy.train --help                      # every flag

What happens, in order (``mlp_tiers.runner`` holds the steps every tier shares):

1. the dataset is loaded, split and standardized, and the specs are resolved against it;
2. the initial weights are drawn from the seed (``shared.init``), or a checkpoint is loaded;
3. ``NumpyTier.fit`` trains: per epoch, the batches of ``shared.batching``, one hand-written
   forward/backward/update per batch, then the validation loss and early stopping;
4. the model is evaluated on the train, validation and test sets (``shared.metrics``), and the
   run folder is written: history, metrics, weights, checkpoint and learning curves.

This script never imports TensorFlow, Keras, JAX or PyTorch.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from mlp_tiers.cli import train_main


def main(argv: Sequence[str] | None = None) -> int:
    return train_main("numpy", argv, prog="python -m lowlevel_numpy.train")


if __name__ == "__main__":
    sys.exit(main())
