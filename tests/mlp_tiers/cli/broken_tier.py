"""A NumPy tier with one update rule perturbed: SGD moves the kernel of the second layer 0.1%
too far. Parity must catch it, at the update level, in that array."""

from lowlevel_numpy.optimizers import SGD
from lowlevel_numpy.tier import NumpyTier


class PerturbedSGD(SGD):
    def update(self, i, w, g):
        w -= self.lr * g * (1.001 if i == 2 else 1.0)  # parameters: W1, b1, W2, b2, ...


class BrokenTier(NumpyTier):
    name = "broken"

    def __init__(self, model, train, params):
        super().__init__(model, train, params)
        self.optimizer = PerturbedSGD(self.model.parameters, train)
