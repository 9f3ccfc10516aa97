"""The MLP from scratch in NumPy: forward pass, loss, backpropagation and optimizers by hand.

Read in this order: ``activations`` -> ``losses`` -> ``layers`` -> ``model`` (forward and
backward) -> ``optimizers`` -> ``tier`` (the training loop) -> ``train`` (the script).
``gradcheck`` verifies the hand-written gradients against finite differences.

The same code runs on a GPU through CuPy (``--device gpu``): see ``backend``.
"""

from lowlevel_numpy.model import MLP
from lowlevel_numpy.tier import NumpyTier

__all__ = ["MLP", "NumpyTier"]
