"""Optimizers: how a gradient becomes a parameter update.

Every rule is Keras 3's, written exactly as Keras writes it so that the tiers agree to rounding
(``g`` is a parameter's gradient, ``w`` the parameter; updates happen in place):

- ``sgd``:       ``w = w - lr * g``
- ``momentum``:  ``v = momentum * v - lr * g;  w = w + v``
- ``nesterov``:  ``v = momentum * v - lr * g;  w = w + momentum * v - lr * g``
- ``adam``:      ``m = m + (g - m) * (1 - beta1);  v = v + (g^2 - v) * (1 - beta2)``
                 ``alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)``  (``t`` = step, from 1)
                 ``w = w - alpha * m / (sqrt(v) + eps)``
- ``rmsprop``:   ``s = rho * s + (1 - rho) * g^2;  w = w - lr * g / sqrt(s + eps)``

Two differences from PyTorch that users trip over: PyTorch's momentum is
``v = momentum * v + g;  w = w - lr * v`` (the learning rate applied after the velocity), and its
Adam has ``eps = 1e-8`` added after the bias correction, where Keras folds the correction into
``alpha`` and uses ``eps = 1e-7``. RMSprop puts ``eps`` inside the square root; Adam outside.

Hyper-parameters are cast to the parameters' dtype, so a float32 run computes in float32
throughout.

Each update is written as its formula. The state arrays (``v``, ``m``, ``s``) and the
parameters change in place (``+=``, ``[...] =``): the model computes with these very arrays,
and ``restore`` writes a checkpoint's values into them.
"""

from __future__ import annotations

import numpy as np

from shared.spec import TrainSpec


class Optimizer:
    """Base class. ``slots`` names the per-parameter state arrays an optimizer keeps."""

    slots: tuple[str, ...] = ()

    def __init__(self, parameters: list[np.ndarray], spec: TrainSpec) -> None:
        dtype = parameters[0].dtype.type
        self.lr = dtype(spec.lr)
        self.iterations = 0  # steps taken; Adam's t is iterations + 1 during a step
        self.state: dict[str, list[np.ndarray]] = {
            name: [np.zeros_like(p) for p in parameters] for name in self.slots
        }

    def apply_update(self, parameters: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Update every parameter in place from its gradient, then count the step."""
        for i, (w, g) in enumerate(zip(parameters, grads)):
            self.update(i, w, g)
        self.iterations += 1

    def update(self, i: int, w: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """``w = w - lr * g``"""

    def update(self, i: int, w: np.ndarray, g: np.ndarray) -> None:
        w -= self.lr * g


class Momentum(Optimizer):
    """``v = momentum * v - lr * g;  w = w + v``  (Nesterov: ``w = w + momentum * v - lr * g``)"""

    slots = ("v",)
    nesterov = False

    def __init__(self, parameters: list[np.ndarray], spec: TrainSpec) -> None:
        super().__init__(parameters, spec)
        self.momentum = parameters[0].dtype.type(spec.momentum)

    def update(self, i: int, w: np.ndarray, g: np.ndarray) -> None:
        v = self.state["v"][i]
        v *= self.momentum  # v = momentum * v - lr * g, in v's own array
        v -= self.lr * g
        if self.nesterov:
            w += self.momentum * v - self.lr * g
        else:
            w += v


class Nesterov(Momentum):
    """Momentum that looks ahead: the step uses the updated velocity once more."""

    nesterov = True


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015) in Keras's form: the bias correction is folded into ``alpha``."""

    slots = ("m", "v")

    def __init__(self, parameters: list[np.ndarray], spec: TrainSpec) -> None:
        super().__init__(parameters, spec)
        dtype = parameters[0].dtype.type
        self.beta1, self.beta2, self.eps = dtype(spec.beta1), dtype(spec.beta2), dtype(spec.eps)

    def apply_update(self, parameters: list[np.ndarray], grads: list[np.ndarray]) -> None:
        t = self.lr.dtype.type(self.iterations + 1)
        self.alpha = self.lr * np.sqrt(1 - self.beta2**t) / (1 - self.beta1**t)
        super().apply_update(parameters, grads)

    def update(self, i: int, w: np.ndarray, g: np.ndarray) -> None:
        m, v = self.state["m"][i], self.state["v"][i]
        m += (g - m) * (1 - self.beta1)
        v += (g * g - v) * (1 - self.beta2)
        w -= m * self.alpha / (np.sqrt(v) + self.eps)


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012) in Keras's default form: no momentum, no centering."""

    slots = ("s",)

    def __init__(self, parameters: list[np.ndarray], spec: TrainSpec) -> None:
        super().__init__(parameters, spec)
        dtype = parameters[0].dtype.type
        self.rho, self.eps = dtype(spec.rho), dtype(spec.eps)

    def update(self, i: int, w: np.ndarray, g: np.ndarray) -> None:
        s = self.state["s"][i]
        s *= self.rho  # s = rho * s + (1 - rho) * g^2, in s's own array
        s += g * g * (1 - self.rho)
        w -= self.lr * g / np.sqrt(s + self.eps)


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adam": Adam,
    "rmsprop": RMSprop,
}


def make_optimizer(parameters: list[np.ndarray], spec: TrainSpec) -> Optimizer:
    return OPTIMIZERS[spec.optimizer](parameters, spec)
