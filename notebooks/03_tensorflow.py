# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3. The same network in TensorFlow
#
# **What you learn**: the network of notebook 2 written with TensorFlow's low-level API:
# parameters as `tf.Variable`s, the forward pass and the loss from `tf.nn` ops, and the backward
# pass you wrote by hand replaced by `tf.GradientTape`, which records the forward pass and
# differentiates it. Then `tf.function`, which traces a Python function into a graph (timed
# against running op by op), and the "layers" flavour, where Keras `Dense` layers own the
# weights inside the same hand-written loop.
#
# **How long**: about 10 minutes to read; it runs top to bottom in about half a minute on a
# laptop CPU, offline, most of it importing TensorFlow and tracing.
#
# Notebook 2 computed every number of this network by hand; here each TensorFlow result is
# checked against the NumPy tier's on the same batch, in float64.

# %%
import time

import numpy as np

from lowlevel_numpy.model import MLP
from lowlevel_numpy.tier import NumpyTier
from midlevel_tf.layers import keras  # Keras on TensorFlow, as the layers flavour uses it
from midlevel_tf.runtime import tf  # TensorFlow, imported without its start-up log lines
from midlevel_tf.tier import TFLayersTier, TFNnTier
from mlp_tiers.parity import param_errors
from shared.batching import epoch_batches
from shared.data import load_dataset
from shared.init import init_params
from shared.spec import DataSpec, ModelSpec, TrainSpec

print("TensorFlow", tf.__version__)

# %% [markdown]
# ## The same batch and the same initial weights
#
# As in notebook 2: `digits`, the network `64 -> 32 -> 16 -> 10` with ReLU, its initial weights
# from `shared.init`, and the first batch of 32 of the shared order.

# %%
data = load_dataset(DataSpec(name="digits"))
spec = ModelSpec(hidden=(32, 16)).resolve(n_inputs=64, n_outputs=10)
params = init_params(spec, seed=0)
rows = epoch_batches(len(data.y_train), batch_size=32, seed=0, epoch=0)[0]
x_np, y_np = data.x_train[rows], data.y_train[rows]
t_np = np.eye(10)[y_np]

numpy_model = MLP(spec, [(W.copy(), b.copy()) for W, b in params])  # the NumPy tier's, to check
numpy_logits = numpy_model.forward(x_np)
numpy_loss, numpy_dz = numpy_model.loss(numpy_logits, t_np)
numpy_grads = [g.copy() for g in numpy_model.backward(numpy_dz)]

x, t = tf.constant(x_np), tf.constant(t_np)  # float64 tensors
print(x.dtype, x.shape, t.shape)

# %% [markdown]
# ## Parameters are `tf.Variable`s
#
# A tensor is immutable; a `tf.Variable` holds a tensor that training can change in place
# (`assign`, `assign_sub`), and that `GradientTape` watches automatically.

# %%
kernels = [tf.Variable(W, name=f"W{l}") for l, (W, _) in enumerate(params, start=1)]
biases = [tf.Variable(b, name=f"b{l}") for l, (_, b) in enumerate(params, start=1)]
variables = [v for pair in zip(kernels, biases, strict=True) for v in pair]  # W1, b1, W2, ...
for v in variables:
    print(f"{v.name.split(':')[0]:3} {v.shape!s:9} {v.dtype.name}")

# %% [markdown]
# ## The forward pass and the loss, from `tf.nn` ops
#
# The same formulas as notebook 2, `z = a W + b` and `a = relu(z)`, as TensorFlow ops. The loss
# is `tf.nn.softmax_cross_entropy_with_logits`, which computes the log-softmax of the logits
# stably (the log-sum-exp trick of notebook 2) and the cross-entropy in one op.


# %%
def forward(x):
    a = x
    for W, b in zip(kernels[:-1], biases[:-1], strict=True):
        a = tf.nn.relu(tf.matmul(a, W) + b)
    return tf.matmul(a, kernels[-1]) + biases[-1]  # the logits


def loss_fn(z, t):
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=t, logits=z))


z = forward(x)
loss = loss_fn(z, t)
print(f"loss {loss.numpy():.6f}")
print(f"logits: {np.abs(z.numpy() - numpy_logits).max():.1e} from the NumPy tier's")
print(f"loss:   {abs(loss.numpy() - numpy_loss):.1e} from the NumPy tier's")
assert abs(loss.numpy() - numpy_loss) < 1e-12
np.testing.assert_allclose(z.numpy(), numpy_logits, rtol=1e-12, atol=1e-12)

# %% [markdown]
# ## `tf.GradientTape`: the backward pass, derived
#
# Inside a `with tf.GradientTape()` block TensorFlow records every op on a watched variable;
# `tape.gradient(loss, variables)` then walks that record backwards, applying each op's own
# derivative: the chain rule of notebook 2, done for you. No `backward` method exists in the
# TensorFlow tier.

# %%
with tf.GradientTape() as tape:
    loss = loss_fn(forward(x), t)
grads = tape.gradient(loss, variables)

names = [v.name.split(":")[0] for v in variables]
for name, g, expected in zip(names, grads, numpy_grads, strict=True):
    difference = np.abs(g.numpy() - expected).max()
    print(f"d{name:3} {g.shape!s:9} {difference:.1e} from the hand-written backward pass")
    np.testing.assert_allclose(g.numpy(), expected, rtol=1e-12, atol=1e-12)

# %% [markdown]
# ## One optimizer step
#
# SGD, `w <- w - lr * g`, is `assign_sub` on each variable. The loss on the same batch drops:

# %%
lr = 0.125
for v, g in zip(variables, grads, strict=True):
    v.assign_sub(lr * g)
after = loss_fn(forward(x), t)
print(f"loss on this batch: {loss.numpy():.4f} before the step, {after.numpy():.4f} after")
assert after < loss

# %% [markdown]
# ## `tf.function`: from Python to a graph
#
# So far every op ran as soon as Python reached it ("eager" execution): easy to read and to
# step through in a debugger, but every op is a round trip through Python. `tf.function` runs
# the Python function once to **trace** it, recording the ops into a graph, and from then on
# runs the graph without returning to Python between ops.
#
# Python code inside the function runs only while tracing. A `print` shows when that happens:
# once per new kind of input (its dtype and shape), not once per call.


# %%
@tf.function
def scaled(v):
    print(f"tracing scaled for {v.dtype.name} {v.shape}")  # Python: runs only while tracing
    return 2 * v


scaled(tf.constant([1.0, 2.0]))  # traces, then runs the graph
scaled(tf.constant([3.0, 4.0]))  # same dtype and shape: the graph runs, no tracing
scaled(tf.constant([1.0, 2.0, 3.0]))  # a new shape: traced again
print("calls done")

# %% [markdown]
# A training step is the natural unit to compile: the forward pass, the tape, the gradients and
# the updates become one graph.


# %%
def train_step(x, t):
    with tf.GradientTape() as tape:
        loss = loss_fn(forward(x), t)
    grads = tape.gradient(loss, variables)
    for v, g in zip(variables, grads, strict=True):
        v.assign_sub(lr * g)
    return loss


graph_step = tf.function(train_step)
graph = graph_step.get_concrete_function(x, t).graph
print(f"the traced training step holds {len(graph.get_operations())} operations")

# %% [markdown]
# Timed side by side in this kernel, on the same batch: the eager step, the traced graph, and
# the graph compiled by XLA (`jit_compile=True`), which fuses ops into fewer kernels. The first
# call of each compiled form (tracing and compiling) is left out; the median of 200 steps is
# shown, on whatever machine ran this notebook. Small steps like this one are where the Python
# overhead of eager execution shows most.


# %%
def median_ms(step, x, t, repeats=200):
    step(x, t)  # tracing or compiling, if any
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        step(x, t)
        seconds.append(time.perf_counter() - start)
    return 1000 * np.median(seconds)


timings = {
    "eager": median_ms(train_step, x, t),
    "tf.function": median_ms(tf.function(train_step), x, t),
    "tf.function(jit_compile=True)": median_ms(tf.function(train_step, jit_compile=True), x, t),
}
for mode, ms in timings.items():
    print(f"{mode:30} {ms:6.3f} ms per step ({timings['eager'] / ms:4.1f} times eager's speed)")

# %% [markdown]
# ## The layers flavour
#
# The same network, with Keras layer objects owning the weights: `keras.layers.Dense` holds a
# kernel, a bias and an activation; a Keras loss object computes the batch loss; a Keras
# optimizer applies the gradients that `GradientTape` computes. The loop around them is still
# yours. This is how TensorFlow 2 writes a custom training loop, and the successor of the old
# `tf.layers`.

# %%
layers = []
for i, (W, b) in enumerate(params):
    last = i == len(params) - 1
    layer = keras.layers.Dense(W.shape[1], activation=None if last else "relu", dtype="float64")
    layer.build((None, W.shape[0]))
    layer.set_weights([W, b])  # the shared initial weights
    layers.append(layer)
cross_entropy = keras.losses.CategoricalCrossentropy(from_logits=True, dtype="float64")
optimizer = keras.optimizers.SGD(learning_rate=lr)

with tf.GradientTape() as tape:
    a = x
    for layer in layers:
        a = layer(a)
    loss = cross_entropy(t, a)
trainable = [w for layer in layers for w in layer.trainable_weights]
grads = tape.gradient(loss, trainable)
for g, expected in zip(grads, numpy_grads, strict=True):
    np.testing.assert_allclose(g.numpy(), expected, rtol=1e-12, atol=1e-12)
optimizer.apply_gradients(zip(grads, trainable, strict=True))  # Keras's optimizer: gradients first
print(f"loss {loss.numpy():.6f}; every gradient equals the NumPy tier's")

# %% [markdown]
# ## The tiers: the same loop, the same numbers
#
# `midlevel_tf/tier.py` wraps this step in the same training loop as the NumPy tier
# (`TFTier.fit`), with the step compiled by `tf.function`. From the same weights, on the same
# batches, 5 epochs of SGD in float64 end with the same weights in all three, up to the order of
# floating-point sums.
#
# The learning rate is 0.125 rather than 0.1 for a reason: Keras on TensorFlow rounds
# hyper-parameters through float32 even in a float64 model, and 0.125 is exact in float32 where
# 0.1 is not (docs/parity.md tells the whole story).

# %%
train = TrainSpec(optimizer="sgd", lr=lr, epochs=5, batch_size=32, seed=0, dtype="float64")
trained = {}
for tier in (
    NumpyTier(spec, train, params),
    TFNnTier(spec, train, params),
    TFLayersTier(spec, train, params),
):
    start = time.perf_counter()
    history = tier.fit(data)
    trained[tier.name] = tier.get_params()
    seconds = time.perf_counter() - start
    loss, accuracy = history.last["loss"], history.last["val_accuracy"]
    print(f"{tier.name:9} loss {loss:.6f}, val accuracy {accuracy:.4f}, {seconds:.1f} s")
for name in ("tf-nn", "tf-layers"):
    worst = max(param_errors(trained[name], trained["numpy"]).values())
    print(f"{name:9} weights: largest normwise difference from numpy {worst:.1e}")
    assert worst < 1e-12

# %% [markdown]
# ## Exercises
#
# 1. **Retracing.** Call `graph_step(x, t)`, then `graph_step(x[:16], t[:16])`, then
#    `graph_step(x[:8], t[:8])`, printing `graph_step.experimental_get_tracing_count()` after
#    each: 1, 2, 3. Every new batch shape traces the step again. The tier avoids this for its
#    partial last batch by giving `tf.function` an `input_signature` whose batch dimension is
#    `None` (`midlevel_tf/tier.py`).
# 2. **An activation without a derivative to write.** Replace `tf.nn.relu` with `tf.nn.gelu` in
#    `forward`. The tape differentiates it with no other change; compare with how much of
#    notebook 2's backward pass you would have had to rewrite.
# 3. **Where the time goes.** Run the timing cell on a batch of 1,024 rows
#    (`x = tf.constant(data.x_train[:1024])`, `t = tf.constant(np.eye(10)[data.y_train[:1024]])`):
#    the graph's lead over eager execution shrinks (to about 5 times, from 10 to 15 times at 32
#    rows on a 2-core machine), because the matrix products now cost more than the Python
#    around them.
