"""The MLP from scratch in NumPy: forward pass, loss, backpropagation and optimizers by hand.

Read in this order: ``activations`` -> ``losses`` -> ``layers`` -> ``model`` (forward, loss and
backward) -> ``optimizers`` -> ``tier`` (one training step, and the training loop) -> ``train``
(the script). ``gradcheck`` verifies the hand-written gradients against finite differences.

The same code runs on a GPU through CuPy (``--device gpu``): see ``backend``.

Importing the package loads nothing: ``MLP`` and ``NumpyTier`` are imported when first used, so
``python -m lowlevel_numpy.train --help`` starts at once.
"""

from typing import Any

__all__ = ["MLP", "NumpyTier"]


def __getattr__(name: str) -> Any:
    if name == "MLP":
        from lowlevel_numpy.model import MLP

        return MLP
    if name == "NumpyTier":
        from lowlevel_numpy.tier import NumpyTier

        return NumpyTier
    raise AttributeError(f"module 'lowlevel_numpy' has no attribute {name!r}")
