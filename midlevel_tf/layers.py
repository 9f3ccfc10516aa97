"""The ``tf-layers`` flavour: the MLP from Keras layer objects, trained in a custom loop.

``tf.layers`` left TensorFlow with Keras 3; its successor is ``keras.layers``, used here the way
TensorFlow 2's custom training loops use them: ``Dense`` layers own the kernels, biases,
activations and L2 regularizers; a Keras loss object computes the batch loss; a Keras optimizer
applies the gradients that ``tf.GradientTape`` computes. Compare with ``midlevel_tf.nn``, which
writes each of those pieces as TensorFlow ops.

Two details matter for parity with the other tiers:

- every layer and the loss get the run's dtype (``dtype="float64"``); a Keras loss left at its
  default computes in ``keras.config.floatx()``, float32, and would silently round float64 data;
- Keras objects read ``keras.config.floatx()``; the tier builds and runs them with it set to the
  run's dtype (``TFLayersTier._context``). Even so, Keras casts SGD's momentum and Adam's betas
  through float32 on TensorFlow (``shared.keras_optimizers`` explains it), so in float64 this
  flavour matches the others exactly only when those are exact in float32.

Dropout uses the same stateless op as the ``tf-nn`` flavour (``midlevel_tf.nn.dropout``), keyed by
the step, rather than a ``keras.layers.Dropout`` whose random state would have to be saved for a
resumed run to draw the same masks.
"""

from __future__ import annotations

from typing import Any

from midlevel_tf.nn import dropout
from midlevel_tf.runtime import tf
from shared.frameworks import import_keras
from shared.init import Params
from shared.keras_optimizers import keras_slots, make_keras_optimizer
from shared.spec import ModelSpec, TrainSpec

keras = import_keras("tensorflow")

KERAS_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "identity": "linear"}


class LayersModel:
    """``Dense`` layers in a list: ``hidden`` with the activation, then one that emits logits."""

    def __init__(self, spec: ModelSpec, train: TrainSpec, params: Params) -> None:
        self.spec, self.rate, dtype = spec, train.dropout, train.dtype
        regularizer = keras.regularizers.L2(train.l2) if train.l2 else None
        self.dense = []
        for i, (W, b) in enumerate(params):
            last = i == len(params) - 1
            layer = keras.layers.Dense(
                W.shape[1],
                activation=None if last else KERAS_ACTIVATIONS[spec.activation],
                kernel_regularizer=regularizer,
                dtype=dtype,
                name=f"dense_{i}",
            )
            layer.build((None, W.shape[0]))
            layer.set_weights([W, b])  # the shared initial weights, not Keras's initializers
            self.dense.append(layer)
        if spec.loss == "cross_entropy":
            self.loss = keras.losses.CategoricalCrossentropy(from_logits=True, dtype=dtype)
        else:
            self.loss = keras.losses.MeanSquaredError(dtype=dtype)
        self.parameters = [v for layer in self.dense for v in (layer.kernel, layer.bias)]

    def pairs(self) -> list[tuple[Any, Any]]:
        return [(layer.kernel, layer.bias) for layer in self.dense]

    def logits(self, x: tf.Tensor, seed: tf.Tensor | None = None) -> tf.Tensor:
        a = x
        for index, layer in enumerate(self.dense[:-1]):
            a = layer(a)
            if seed is not None and self.rate:
                a = dropout(a, self.rate, seed, index)
        return self.dense[-1](a)

    def outputs(self, z: tf.Tensor) -> tf.Tensor:
        return keras.activations.softmax(z) if self.spec.output == "softmax" else z

    def objective(self, x: tf.Tensor, t: tf.Tensor, seed: tf.Tensor | None) -> tf.Tensor:
        """The batch loss (``from_logits`` for cross-entropy) plus the layers' L2 losses."""
        z = self.logits(x, seed)
        loss = self.loss(t, z if self.spec.loss == "cross_entropy" else self.outputs(z))
        penalties = [penalty for layer in self.dense for penalty in layer.losses]
        return loss + tf.add_n(penalties) if penalties else loss

    def predict(self, x: tf.Tensor) -> tf.Tensor:
        return self.outputs(self.logits(x))


class KerasOptimizer:
    """A Keras optimizer behind the interface of ``midlevel_tf.optimizers.Optimizer``."""

    def __init__(self, parameters: list[Any], spec: TrainSpec) -> None:
        self.keras = make_keras_optimizer(keras, spec)
        self.keras.build(parameters)
        self.iterations = self.keras.iterations
        self.state = keras_slots(self.keras, spec)
        self.slots = tuple(self.state)

    def apply(self, grads: list[tf.Tensor], parameters: list[Any]) -> None:
        self.keras.apply_gradients(zip(grads, parameters))
