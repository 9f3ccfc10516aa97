"""Keras on a chosen backend, its float type per model, and its optimizers' state by slot name.

Used by the ``tf-layers`` flavour of the TensorFlow tier and by the Keras tier.

- ``import_keras(backend)``: Keras fixes its backend once per process, when it is first imported,
  from ``KERAS_BACKEND``; this sets that variable, imports Keras (TensorFlow quietly), or explains
  why it cannot.
- ``keras_dtype(keras, dtype)``: Keras reads its global ``floatx`` and dtype policy when it builds
  variables (an optimizer's learning rate), losses and metrics, and when it traces its train step.
  A float64 model built or trained under the default float32 rounds somewhere, so every Keras call
  of the tiers runs inside this block, and the global setting never leaks from one model to the
  next.
- ``optimizer_slots(optimizer, name)``: a built Keras optimizer's per-parameter state, under the
  names of the shared checkpoint (``m``, ``v``, ``s``), read from its public ``variables``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from adapters.tensorflow_setup import choose_quiet_level, import_tensorflow, require
from shared.errors import BackendError, UnknownNameError

KERAS_BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}  # backend: package


def import_keras(backend: str) -> Any:
    """``keras`` on ``backend``; a clear error for an unknown backend, a missing package, or a
    process whose Keras already runs on another backend."""
    if backend not in KERAS_BACKENDS:
        raise UnknownNameError(
            f"unknown Keras backend {backend!r}; the backends are {', '.join(KERAS_BACKENDS)}"
        )
    if "keras" in sys.modules:
        keras = sys.modules["keras"]
        if keras.backend.backend() != backend:
            raise BackendError(
                f"Keras already runs on the {keras.backend.backend()} backend in this process; "
                f"the {backend} backend needs a new process (Keras picks its backend once, when "
                "it is first imported)"
            )
        return keras
    require("keras", "the Keras tier")
    require(KERAS_BACKENDS[backend], f"Keras's {backend} backend")
    os.environ["KERAS_BACKEND"] = backend
    choose_quiet_level()  # before JAX or TensorFlow load
    if backend == "tensorflow":
        import_tensorflow()
    import keras

    return keras


@contextmanager
def keras_dtype(keras: Any, dtype: str) -> Iterator[None]:
    """Keras's global float type and dtype policy set to ``dtype`` inside the block, restored
    after."""
    floatx, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx(dtype)
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(floatx)
        keras.config.set_dtype_policy(policy)


# The shared checkpoint's slot names -> the suffix Keras gives that slot's variables: a Keras
# optimizer names the state of a parameter called "kernel" "kernel_momentum" or "kernel_velocity".
SLOT_SUFFIXES: dict[str, dict[str, str]] = {
    "sgd": {},
    "momentum": {"v": "_momentum"},
    "nesterov": {"v": "_momentum"},
    "adam": {"m": "_momentum", "v": "_velocity"},
    "rmsprop": {"s": "_velocity"},
}


def optimizer_slots(optimizer: Any, name: str, n_params: int) -> dict[str, list[Any]]:
    """The state variables of a built Keras ``optimizer`` for the spec's optimizer ``name``, by
    shared slot name, one per parameter in the order the optimizer was built with."""
    slots = {
        slot: [v for v in optimizer.variables if v.name.endswith(suffix)]
        for slot, suffix in SLOT_SUFFIXES[name].items()
    }
    for slot, variables in slots.items():
        if len(variables) != n_params:
            raise BackendError(
                f"Keras's {type(optimizer).__name__} holds {len(variables)} variables for slot "
                f"{slot!r}, not one per parameter ({n_params}); this Keras version names its "
                "optimizer state differently"
            )
    return slots
