"""The spec's optimizer as a Keras optimizer, and its state under the shared slot names.

Used by the ``tf-layers`` flavour and by the Keras tier. Keras's optimizers follow the same
update rules as ``lowlevel_numpy.optimizers`` (which copies them). In float64, two details matter:

- the learning rate lives in a variable of ``keras.config.floatx()``; built under the default
  float32, 0.01 becomes 0.0099999998. The tiers build and run every Keras object with ``floatx``
  set to the run's dtype (``shared.frameworks.keras_dtype``), which removes this;
- on TensorFlow, SGD's momentum and Adam's betas (in the bias correction) are cast with
  ``ops.cast(0.9, "float64")``, which goes through a float32 tensor: 0.9 becomes 0.8999999762.
  No setting changes that; hyper-parameters exact in float32 (0.875, 0.998046875) avoid it, and
  ``shared.parity.QUIRKS["keras-tf-hyperparameter-cast"]`` bounds it.

Keras imports happen inside the functions, so this module loads without Keras.
"""

from __future__ import annotations

from typing import Any

from shared.spec import TrainSpec

# The shared checkpoint's slot names -> the attribute of the Keras optimizer holding that slot.
KERAS_SLOTS: dict[str, dict[str, str]] = {
    "sgd": {},
    "momentum": {"v": "momentums"},
    "nesterov": {"v": "momentums"},
    "adam": {"m": "_momentums", "v": "_velocities"},
    "rmsprop": {"s": "_velocities"},
}


def make_keras_optimizer(keras: Any, spec: TrainSpec) -> Any:
    """A ``keras.optimizers`` instance with the spec's rule and hyper-parameters."""
    optimizers = keras.optimizers
    if spec.optimizer == "sgd":
        return optimizers.SGD(learning_rate=spec.lr)
    if spec.optimizer in ("momentum", "nesterov"):
        return optimizers.SGD(
            learning_rate=spec.lr, momentum=spec.momentum, nesterov=spec.optimizer == "nesterov"
        )
    if spec.optimizer == "adam":
        return optimizers.Adam(
            learning_rate=spec.lr, beta_1=spec.beta1, beta_2=spec.beta2, epsilon=spec.eps
        )
    return optimizers.RMSprop(learning_rate=spec.lr, rho=spec.rho, epsilon=spec.eps)


def keras_slots(optimizer: Any, spec: TrainSpec) -> dict[str, list[Any]]:
    """The built optimizer's state variables by shared slot name, one per parameter, in order."""
    return {
        name: list(getattr(optimizer, attribute))
        for name, attribute in KERAS_SLOTS[spec.optimizer].items()
    }
