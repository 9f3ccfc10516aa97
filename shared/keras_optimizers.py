"""The spec's optimizer as a Keras optimizer, and its state under the shared slot names.

Used by the ``tf-layers`` flavour and by the Keras tier. Keras's optimizers follow the same
update rules as ``lowlevel_numpy.optimizers`` (which copies them), with one difference in
float64: Keras turns Python-float hyper-parameters into tensors through float32 (``momentum=0.9``
becomes 0.89999998) and keeps the learning rate in a variable of ``keras.config.floatx()``. A
float64 run therefore uses slightly different hyper-parameters unless they are exact in float32
(0.125, 0.875, 0.998046875 ...). ``shared.parity`` states the tolerance this costs.

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
