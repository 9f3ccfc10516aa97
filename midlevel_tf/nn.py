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

# A data-parallel replica's shard of its batch: its rows ``start:stop`` of the batch's ``n``
# (``shared.batching.Shard``, as TensorFlow values).
Shard = tuple[tf.Tensor, tf.Tensor, tf.Tensor]

ACTIVATIONS = {
    "relu": tf.nn.relu,
    "tanh": tf.nn.tanh,
    "sigmoid": tf.nn.sigmoid,
    "identity": tf.identity,
}


def dropout(
    a: tf.Tensor, rate: float, seed: tf.Tensor, layer: int, shard: Shard | None = None
) -> tf.Tensor:
    """Inverted dropout: zero a share ``rate`` of ``a``, scale the rest by ``1 / (1 - rate)``.

    The mask is a pure function of ``seed`` (the run's seed and the step) and the layer, so a
    resumed run draws the same masks as an uninterrupted one. A data-parallel replica's ``a``
    holds its ``shard = (start, stop, n)`` of a batch of ``n``: it draws the whole batch's mask and
    keeps its rows, so that the replicas together drop what one device would.
    """
    layer_seed = tf.random.experimental.stateless_fold_in(seed, layer)
    if shard is None:
        return tf.nn.experimental.stateless_dropout(a, rate=rate, seed=layer_seed)
    start, stop, n = shard
    whole = tf.ones(tf.stack([n, tf.shape(a)[1]]), a.dtype)
    mask = tf.nn.experimental.stateless_dropout(whole, rate=rate, seed=layer_seed)
    return a * mask[start:stop]


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

    def forward(
        self, x: tf.Tensor, seed: tf.Tensor | None = None, shard: Shard | None = None
    ) -> tf.Tensor:
        """The logits ``z``; dropout applies when a ``seed`` is given (training) and the rate is
        above 0 (a data-parallel replica says which ``shard`` of the batch ``x`` holds)."""
        a = x
        for layer, (W, b) in enumerate(zip(self.kernels[:-1], self.biases[:-1])):
            a = self.activation(tf.matmul(a, W) + b)
            if seed is not None and self.rate:
                a = dropout(a, self.rate, seed, layer, shard)
        return tf.matmul(a, self.kernels[-1]) + self.biases[-1]

    def output(self, z: tf.Tensor) -> tf.Tensor:
        return tf.nn.softmax(z) if self.spec.output == "softmax" else z

    def loss(self, z: tf.Tensor, t: tf.Tensor, n: tf.Tensor | None = None) -> tf.Tensor:
        """The training loss of logits ``z`` against targets ``t`` (one-hot labels, or a
        regressor's standardized numbers): data loss plus the L2 term.

        A data-parallel replica passes the whole batch's row count ``n``: its loss is then its
        share, the sum over its rows divided by ``n`` and ``1/N`` of the L2 term, so that the
        replicas' sum is the batch's loss (TensorFlow's ``compute_average_loss`` and
        ``scale_regularization_loss``)."""
        if n is not None:
            if self.spec.loss == "cross_entropy":
                per_row = tf.nn.softmax_cross_entropy_with_logits(labels=t, logits=z)
            else:
                per_row = tf.reduce_mean(tf.square(self.output(z) - t), axis=1)
            loss = tf.nn.compute_average_loss(per_row, global_batch_size=n)
        elif self.spec.loss == "cross_entropy":
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=t, logits=z))
        else:
            loss = tf.reduce_mean(tf.square(self.output(z) - t))
        if self.l2:
            penalty = self.l2 * tf.add_n([tf.reduce_sum(tf.square(W)) for W in self.kernels])
            loss += penalty if n is None else tf.nn.scale_regularization_loss(penalty)
        return loss

    def predict_proba(self, x: tf.Tensor) -> tf.Tensor:
        """Predictions, dropout off: class probabilities for a softmax output."""
        return self.output(self.forward(x))
