"""The ``tf-nn`` flavour: the MLP from ``tf.Variable``s and ``tf.nn`` ops.

Compare with ``lowlevel_numpy.model``: ``forward`` and ``loss`` are the same formulas under the
same names, but there is no ``backward`` here. ``tf.GradientTape`` (in ``midlevel_tf.tier``)
records these ops and differentiates them.

- hidden layer ``l``: ``a = activation(a @ W_l + b_l)``, then inverted dropout while training;
- last layer: logits ``z = a @ W + b``;
- ``cross_entropy``: ``mean(softmax_cross_entropy_with_logits(t, z))``, a stable log-softmax;
- ``mse``: ``mean((output(z) - t)^2)`` over samples and outputs;
- L2: ``l2 * sum(W^2)`` over the kernels, added to the batch-mean loss.
"""

from __future__ import annotations

from midlevel_tf.runtime import tf
from shared.init import Params
from shared.spec import ModelSpec, TrainSpec

ACTIVATIONS = {
    "relu": tf.nn.relu,
    "tanh": tf.nn.tanh,
    "sigmoid": tf.nn.sigmoid,
    "identity": tf.identity,
}


def dropout(a: tf.Tensor, rate: float, seed: tf.Tensor, layer: int) -> tf.Tensor:
    """Inverted dropout: zero a share ``rate`` of ``a``, scale the rest by ``1 / (1 - rate)``.

    The mask is a pure function of ``seed`` (the run's seed and the step) and the layer, so a
    resumed run draws the same masks as an uninterrupted one.
    """
    layer_seed = tf.random.experimental.stateless_fold_in(seed, layer)
    return tf.nn.experimental.stateless_dropout(a, rate=rate, seed=layer_seed)


class NnModel(tf.Module):
    """Kernels and biases as ``tf.Variable``s; every op written out."""

    def __init__(self, spec: ModelSpec, train: TrainSpec, params: Params) -> None:
        super().__init__(name="mlp")
        self.spec, self.rate, self.l2 = spec, train.dropout, train.l2
        self.activation = ACTIVATIONS[spec.activation]
        self.kernels = [tf.Variable(W, name=f"W{l}") for l, (W, _) in enumerate(params, start=1)]
        self.biases = [tf.Variable(b, name=f"b{l}") for l, (_, b) in enumerate(params, start=1)]
        # In the order of the shared checkpoints and the NumPy tier: W1, b1, W2, b2, ...
        self.parameters = [v for pair in zip(self.kernels, self.biases) for v in pair]

    def pairs(self) -> list[tuple[tf.Variable, tf.Variable]]:
        return list(zip(self.kernels, self.biases))

    def forward(self, x: tf.Tensor, seed: tf.Tensor | None = None) -> tf.Tensor:
        """The logits ``z``; dropout applies when a ``seed`` is given (training) and the rate is
        above 0."""
        a = x
        for layer, (W, b) in enumerate(zip(self.kernels[:-1], self.biases[:-1])):
            a = self.activation(tf.matmul(a, W) + b)
            if seed is not None and self.rate:
                a = dropout(a, self.rate, seed, layer)
        return tf.matmul(a, self.kernels[-1]) + self.biases[-1]

    def output(self, z: tf.Tensor) -> tf.Tensor:
        return tf.nn.softmax(z) if self.spec.output == "softmax" else z

    def loss(self, z: tf.Tensor, t: tf.Tensor) -> tf.Tensor:
        """The training loss of logits ``z`` against targets ``t`` (one-hot labels, or a
        regressor's standardized numbers): data loss plus the L2 term."""
        if self.spec.loss == "cross_entropy":
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=t, logits=z))
        else:
            loss = tf.reduce_mean(tf.square(self.output(z) - t))
        if self.l2:
            loss += self.l2 * tf.add_n([tf.reduce_sum(tf.square(W)) for W in self.kernels])
        return loss

    def predict_proba(self, x: tf.Tensor) -> tf.Tensor:
        """Predictions, dropout off: class probabilities for a softmax output."""
        return self.output(self.forward(x))
