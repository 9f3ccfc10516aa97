"""What the Keras tier can show of one batch without training: its logits, loss and gradients.

Keras computes all three inside ``model.fit``. To compare them with the other tiers level by
level (``mlp-tiers parity``), they are computed here through Keras's public API:

- the logits: the model's layers called in turn, up to the last ``Dense`` (a ``Softmax`` that
  follows it, for MSE on probabilities, is left out; ``Dropout`` runs with ``training=False``);
- the loss: ``model.compute_loss``, the compiled loss plus the L2 regularization losses, which is
  what ``fit`` minimizes;
- the gradients: each backend's own differentiation of that loss: ``tf.GradientTape`` on
  TensorFlow, ``jax.grad`` of ``model.stateless_call`` and ``model.stateless_compute_loss`` on
  JAX, and ``backward()`` on PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shared.checkpoint import pairs


def probe(tier: Any, x: np.ndarray, t: np.ndarray) -> dict:
    """``{"logits", "loss", "grads"}`` of the batch ``x``, one-hot ``t``, at the tier's weights."""
    keras, model = tier.keras, tier.model
    to_numpy = keras.ops.convert_to_numpy
    x, t = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(t)

    z = x
    for layer in model.layers:
        if isinstance(layer, keras.layers.Softmax):
            break
        z = layer(z, training=False) if isinstance(layer, keras.layers.Dropout) else layer(z)

    loss, grads = _loss_and_gradients(tier.backend, model, x, t)
    return {
        "logits": to_numpy(z),
        "loss": float(to_numpy(loss)),
        "grads": pairs([to_numpy(g) for g in grads]),
    }


def _loss_and_gradients(backend: str, model: Any, x: Any, t: Any) -> tuple[Any, list[Any]]:
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = model.compute_loss(x, t, model(x, training=False), training=False)
        return loss, tape.gradient(loss, [v.value for v in model.trainable_variables])
    if backend == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        metrics = [v.value for v in model.metrics_variables]

        def total(values: list[Any]) -> Any:
            y_pred, _ = model.stateless_call(values, non_trainable, x, training=False)
            loss, _ = model.stateless_compute_loss(
                values, non_trainable, metrics, x, t, y_pred, training=False
            )
            return loss

        loss, grads = jax.value_and_grad(total)(trainable)
        return loss, grads
    variables = [v.value for v in model.trainable_variables]
    for variable in variables:
        variable.grad = None
    loss = model.compute_loss(x, t, model(x, training=False), training=False)
    loss.backward()
    grads = [variable.grad.detach().clone() for variable in variables]
    for variable in variables:
        variable.grad = None
    return loss.detach(), grads
