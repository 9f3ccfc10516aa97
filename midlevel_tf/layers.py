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
  run's dtype (``adapters.keras_setup.keras_dtype``). Even so, on TensorFlow Keras casts SGD's
  momentum and Adam's betas through float32: ``ops.cast(0.9, "float64")`` makes a float32 tensor
  of the Python float first, so 0.9 becomes 0.8999999762. No setting changes that; in float64
  this flavour matches the others exactly only when those are exact in float32 (0.875,
  0.998046875), and ``mlp_tiers.parity`` bounds the rest.

Dropout uses the same stateless op as the ``tf-nn`` flavour (``midlevel_tf.nn.dropout``), keyed by
the step, rather than a ``keras.layers.Dropout`` whose random state would have to be saved for a
resumed run to draw the same masks.
"""

from __future__ import annotations

from typing import Any

from adapters.keras_setup import import_keras
from midlevel_tf.nn import Shard, dropout
from midlevel_tf.runtime import tf
from shared.init import Params
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
            self.data_loss = keras.losses.CategoricalCrossentropy(from_logits=True, dtype=dtype)
            # A data-parallel replica's share: the sum over its rows (divided by the batch's).
            self.summed_loss = keras.losses.CategoricalCrossentropy(
                from_logits=True, reduction="sum", dtype=dtype
            )
        else:
            self.data_loss = keras.losses.MeanSquaredError(dtype=dtype)
            self.summed_loss = keras.losses.MeanSquaredError(reduction="sum", dtype=dtype)
        self.parameters = [v for layer in self.dense for v in (layer.kernel, layer.bias)]

    def pairs(self) -> list[tuple[Any, Any]]:
        return [(layer.kernel, layer.bias) for layer in self.dense]

    def forward(
        self, x: tf.Tensor, seed: tf.Tensor | None = None, shard: Shard | None = None
    ) -> tf.Tensor:
        """The logits ``z``: each layer called on the last one's output (dropout with a seed;
        a data-parallel replica says which ``shard`` of the batch ``x`` holds)."""
        a = x
        for index, layer in enumerate(self.dense[:-1]):
            a = layer(a)
            if seed is not None and self.rate:
                a = dropout(a, self.rate, seed, index, shard)
        return self.dense[-1](a)

    def output(self, z: tf.Tensor) -> tf.Tensor:
        return keras.activations.softmax(z) if self.spec.output == "softmax" else z

    def loss(self, z: tf.Tensor, t: tf.Tensor, n: tf.Tensor | None = None) -> tf.Tensor:
        """The Keras loss object (``from_logits`` for cross-entropy) plus the layers' L2 losses.
        A data-parallel replica passes the batch's row count ``n`` and gets its share, as in
        ``midlevel_tf.nn.NnModel.loss``."""
        predicted = z if self.spec.loss == "cross_entropy" else self.output(z)
        if n is None:
            loss = self.data_loss(t, predicted)
        else:
            loss = self.summed_loss(t, predicted) / tf.cast(n, predicted.dtype)
        penalties = [penalty for layer in self.dense for penalty in layer.losses]
        if not penalties:
            return loss
        penalty = tf.add_n(penalties)
        return loss + (penalty if n is None else tf.nn.scale_regularization_loss(penalty))

    def predict_proba(self, x: tf.Tensor) -> tf.Tensor:
        """Predictions, dropout off: class probabilities for a softmax output."""
        return self.output(self.forward(x))


def make_optimizer(spec: TrainSpec) -> Any:
    """The spec's optimizer, built as a Keras user builds one."""
    if spec.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=spec.lr)
    if spec.optimizer in ("momentum", "nesterov"):
        return keras.optimizers.SGD(
            learning_rate=spec.lr, momentum=spec.momentum, nesterov=spec.optimizer == "nesterov"
        )
    if spec.optimizer == "adam":
        return keras.optimizers.Adam(
            learning_rate=spec.lr, beta_1=spec.beta1, beta_2=spec.beta2, epsilon=spec.eps
        )
    return keras.optimizers.RMSprop(learning_rate=spec.lr, rho=spec.rho, epsilon=spec.eps)
