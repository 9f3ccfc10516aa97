"""The ``tf-nn`` flavour's optimizers: the update rules of ``lowlevel_numpy.optimizers`` (Keras
3's), written with TensorFlow ops on ``tf.Variable``s.

- ``sgd``:       ``w = w - lr * g``
- ``momentum``:  ``v = momentum * v - lr * g;  w = w + v``
- ``nesterov``:  ``v = momentum * v - lr * g;  w = w + momentum * v - lr * g``
- ``adam``:      ``m = m + (g - m) * (1 - beta1);  v = v + (g^2 - v) * (1 - beta2)``
                 ``alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)``  (``t`` = step, from 1)
                 ``w = w - alpha * m / (sqrt(v) + eps)``
- ``rmsprop``:   ``s = rho * s + (1 - rho) * g^2;  w = w - lr * g / sqrt(s + eps)``

Hyper-parameters become constants of the parameters' dtype straight from the Python floats, so a
float64 run uses exactly 0.9, not the float32 number nearest to it (which is what Keras's
optimizers use on TensorFlow; see ``midlevel_tf.layers``).
"""

from __future__ import annotations

from midlevel_tf.runtime import tf
from shared.spec import TrainSpec


class Optimizer(tf.Module):
    """Base class: ``state`` holds each slot's variables, one per parameter, in order."""

    slots: tuple[str, ...] = ()

    def __init__(self, parameters: list[tf.Variable], spec: TrainSpec) -> None:
        super().__init__(name=type(self).__name__.lower())
        self.dtype = parameters[0].dtype
        self.lr = tf.constant(spec.lr, self.dtype)
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")
        self.state = {
            name: [tf.Variable(tf.zeros_like(p), trainable=False) for p in parameters]
            for name in self.slots
        }

    def apply_update(self, parameters: list[tf.Variable], grads: list[tf.Tensor]) -> None:
        """Update every parameter from its gradient, then count the step."""
        shared = self.prepare()
        for i, (w, g) in enumerate(zip(parameters, grads)):
            self.update(i, w, g, **shared)
        self.iterations.assign_add(1)

    def prepare(self) -> dict[str, tf.Tensor]:
        """Per-step quantities shared by every parameter (Adam's ``alpha``)."""
        return {}

    def update(self, i: int, w: tf.Variable, g: tf.Tensor) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """``w = w - lr * g``"""

    def update(self, i: int, w: tf.Variable, g: tf.Tensor) -> None:
        w.assign_sub(self.lr * g)


class Momentum(Optimizer):
    """``v = momentum * v - lr * g;  w = w + v``  (Nesterov: ``w = w + momentum * v - lr * g``)"""

    slots = ("v",)
    nesterov = False

    def __init__(self, parameters: list[tf.Variable], spec: TrainSpec) -> None:
        super().__init__(parameters, spec)
        self.momentum = tf.constant(spec.momentum, self.dtype)

    def update(self, i: int, w: tf.Variable, g: tf.Tensor) -> None:
        v = self.state["v"][i]
        v.assign(self.momentum * v - self.lr * g)
        w.assign_add(self.momentum * v - self.lr * g if self.nesterov else v)


class Nesterov(Momentum):
    """Momentum that looks ahead: the step uses the updated velocity once more."""

    nesterov = True


class Adam(Optimizer):
    """Adam in Keras's form: the bias correction is folded into ``alpha``."""

    slots = ("m", "v")

    def __init__(self, parameters: list[tf.Variable], spec: TrainSpec) -> None:
        super().__init__(parameters, spec)
        self.beta1 = tf.constant(spec.beta1, self.dtype)
        self.beta2 = tf.constant(spec.beta2, self.dtype)
        self.eps = tf.constant(spec.eps, self.dtype)

    def prepare(self) -> dict[str, tf.Tensor]:
        t = tf.cast(self.iterations + 1, self.dtype)
        alpha = self.lr * tf.sqrt(1 - tf.pow(self.beta2, t)) / (1 - tf.pow(self.beta1, t))
        return {"alpha": alpha}

    def update(self, i: int, w: tf.Variable, g: tf.Tensor, alpha: tf.Tensor) -> None:
        m, v = self.state["m"][i], self.state["v"][i]
        m.assign_add((g - m) * (1 - self.beta1))
        v.assign_add((g * g - v) * (1 - self.beta2))
        w.assign_sub((m * alpha) / (tf.sqrt(v) + self.eps))


class RMSprop(Optimizer):
    """RMSprop in Keras's default form: no momentum, no centering, ``eps`` inside the root."""

    slots = ("s",)

    def __init__(self, parameters: list[tf.Variable], spec: TrainSpec) -> None:
        super().__init__(parameters, spec)
        self.rho = tf.constant(spec.rho, self.dtype)
        self.eps = tf.constant(spec.eps, self.dtype)

    def update(self, i: int, w: tf.Variable, g: tf.Tensor) -> None:
        s = self.state["s"][i]
        s.assign(self.rho * s + (1 - self.rho) * (g * g))
        w.assign_sub(self.lr * g / tf.sqrt(s + self.eps))


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adam": Adam,
    "rmsprop": RMSprop,
}


def make_optimizer(parameters: list[tf.Variable], spec: TrainSpec) -> Optimizer:
    return OPTIMIZERS[spec.optimizer](parameters, spec)
