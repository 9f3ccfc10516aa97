"""JAX with a whole epoch compiled as one program: the practical floor of a compiled framework.

The batches of an epoch (the shared order) are gathered on the device, then ``lax.scan`` runs the
training step over them inside one ``jax.jit``: one call into compiled code per epoch, no Python
between steps. The step is the tiers' own math (Keras's forms of the optimizers, L2 on kernels,
inverted dropout), so it learns what they learn; a smaller last batch runs as one more compiled
step. The first epoch includes tracing and compiling; the later epochs compile nothing (the carry
starts on the device, as it comes back from each call), so a timed epoch is the compiled program
alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from peers import EpochEnd, PeerResult, no_hook
from shared.batching import epoch_batches


def make_step(model: Any, spec: Any) -> tuple[Callable, Callable]:
    """``forward(params, x, key=None)`` and the training step ``step(carry, batch)`` that
    ``lax.scan`` runs, with ``carry = (params, slots, t)``."""
    import jax
    import jax.numpy as jnp

    activation = {
        "relu": jax.nn.relu,
        "tanh": jnp.tanh,
        "sigmoid": jax.nn.sigmoid,
        "identity": lambda z: z,
    }[model.activation]
    dtype = jnp.dtype(spec.dtype)

    def forward(params, x, key=None):
        a = x
        for i, (W, b) in enumerate(params[:-1]):
            a = activation(a @ W + b)
            if key is not None and spec.dropout:
                keep = jax.random.bernoulli(jax.random.fold_in(key, i), 1 - spec.dropout, a.shape)
                a = jnp.where(keep, a / (1 - spec.dropout), 0)
        W, b = params[-1]
        return a @ W + b

    def loss(params, x, t, key):
        z = forward(params, x, key)
        if model.loss == "cross_entropy":
            data_loss = -(t * jax.nn.log_softmax(z)).sum(axis=1).mean()
        else:
            y = jax.nn.softmax(z) if model.output == "softmax" else z
            data_loss = ((y - t) ** 2).mean()
        return data_loss + spec.l2 * sum((W * W).sum() for W, _ in params)

    update = make_update(spec)

    def step(carry, batch):
        params, slots, step_count = carry
        x, y = batch
        key = jax.random.fold_in(jax.random.key(spec.seed), step_count)
        # one-hot labels, or a regressor's standardized targets as they are
        t = y if model.is_regression else jax.nn.one_hot(y, model.n_outputs, dtype=dtype)
        value, grads = jax.value_and_grad(loss)(params, x, t, key)
        params, slots = update(params, slots, grads, (step_count + 1).astype(dtype))
        return (params, slots, step_count + 1), value

    return forward, step


def make_update(spec: Any) -> Callable:
    """``update(params, slots, grads, t)``: the spec's optimizer, in Keras's forms."""
    import jax
    import jax.numpy as jnp

    dtype = jnp.dtype(spec.dtype)
    lr, b1, b2, eps = (dtype.type(v) for v in (spec.lr, spec.beta1, spec.beta2, spec.eps))
    mom, rho = dtype.type(spec.momentum), dtype.type(spec.rho)

    def rule(w, g, s, t):
        if spec.optimizer == "sgd":
            return w - lr * g, s
        if spec.optimizer in ("momentum", "nesterov"):
            (v,) = s
            v = mom * v - lr * g
            return w + (mom * v - lr * g if spec.optimizer == "nesterov" else v), (v,)
        if spec.optimizer == "adam":
            m, v = s
            m = m + (g - m) * (1 - b1)
            v = v + (g * g - v) * (1 - b2)
            alpha = lr * jnp.sqrt(1 - b2**t) / (1 - b1**t)
            return w - (m * alpha) / (jnp.sqrt(v) + eps), (m, v)
        (v,) = s  # rmsprop
        v = rho * v + (1 - rho) * g * g
        return w - lr * g / jnp.sqrt(v + eps), (v,)

    def update(params, slots, grads, t):
        flat_p, tree = jax.tree_util.tree_flatten(params)
        new_p, new_s = [], []
        for w, g, s in zip(flat_p, jax.tree_util.tree_leaves(grads), slots):
            w, s = rule(w, g, s, t)
            new_p.append(w)
            new_s.append(s)
        return jax.tree_util.tree_unflatten(tree, new_p), new_s

    return update


def train(
    run: Any, epochs: int, options: dict[str, Any], epoch_end: EpochEnd = no_hook
) -> PeerResult:
    import jax

    if run.train.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax import lax

    spec, data = run.train, run.data
    forward, step = make_step(run.model, spec)

    @jax.jit
    def epoch_of_full_batches(carry: Any, x: Any, y: Any, index: Any) -> Any:
        return lax.scan(step, carry, (x[index], y[index]))

    one_step = jax.jit(step)
    # On the device the run names: the CPU, or JAX's default (a GPU when there is one).
    device = jax.devices("cpu")[0] if spec.device == "cpu" else jax.devices()[0]
    if spec.device == "gpu" and device.platform != "gpu":
        raise ValueError("--device gpu: JAX sees no GPU here")

    def on_device(array: Any) -> Any:
        return jax.device_put(jnp.asarray(array, jnp.dtype(spec.dtype)), device)

    params = [(on_device(W), on_device(b)) for W, b in run.params]
    n_slots = {"sgd": 0, "momentum": 1, "nesterov": 1, "adam": 2, "rmsprop": 1}[spec.optimizer]
    slots = [
        tuple(jnp.zeros_like(p) for _ in range(n_slots)) for p in jax.tree_util.tree_leaves(params)
    ]
    # Every part of the carry is placed on the device, as the carry that comes back is: an
    # unplaced counter would make the second epoch's call compile the epoch function again.
    carry = (params, slots, jax.device_put(jnp.asarray(0, jnp.int32), device))
    x = on_device(data.x_train)
    y = on_device(data.y_train) if run.model.is_regression else jax.device_put(
        jnp.asarray(data.y_train), device
    )  # fmt: skip
    n, size = len(data.y_train), spec.batch_size
    seconds, losses = [], []
    for epoch in range(epochs):
        batches = epoch_batches(n, size, spec.seed, epoch)
        full = [rows for rows in batches if len(rows) == size]
        rest = [rows for rows in batches if len(rows) != size]
        index = jax.device_put(np.stack(full), device) if full else None
        start = time.perf_counter()
        values = []
        if index is not None:
            carry, batch_losses = epoch_of_full_batches(carry, x, y, index)
            values.append(batch_losses)
        for rows in rest:
            carry, value = one_step(carry, (x[rows], y[rows]))
            values.append(value[None])
        epoch_losses = jax.block_until_ready(jnp.concatenate(values))
        seconds.append(time.perf_counter() - start)
        epoch_end()
        sizes = np.array([len(rows) for rows in full + rest])  # the loss of the epoch: by sample
        losses.append(float((np.asarray(epoch_losses) * sizes).sum() / n))
    outputs = forward(carry[0], on_device(data.x_test))
    return PeerResult.scored(seconds, losses[-1], run, outputs)
