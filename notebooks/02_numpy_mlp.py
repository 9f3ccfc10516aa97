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
# # 2. The MLP in NumPy, by hand
#
# **What you learn**: how a multilayer perceptron turns an image into class probabilities (the
# forward pass), how wrong it is (the cross-entropy loss), how each weight should change
# (backpropagation, the chain rule written out), how to check those gradients (finite
# differences), how one optimizer step uses them, and the loop that repeats the step until the
# network classifies handwritten digits.
#
# **How long**: about 10 minutes to read; it runs top to bottom in a few seconds on a laptop CPU,
# offline (the `digits` dataset ships with scikit-learn).
#
# Every formula is written here in a cell of its own, and the next cell calls the NumPy tier's
# own function (`lowlevel_numpy/`) on the same numbers and asserts that both agree. If the tier
# changes in a way that breaks the lesson, this notebook fails.
#
# The notebook computes in float64, and "agree" means within 1e-12: only the order of
# floating-point sums could differ, and on this data most results agree to the last bit.

# %%
import matplotlib.pyplot as plt
import numpy as np

from lowlevel_numpy.gradcheck import check_gradients
from lowlevel_numpy.losses import softmax_cross_entropy
from lowlevel_numpy.model import MLP
from lowlevel_numpy.optimizers import SGD
from lowlevel_numpy.tier import NumpyTier
from shared.batching import epoch_batches
from shared.data import load_dataset
from shared.init import init_params
from shared.spec import DataSpec, ModelSpec, TrainSpec

np.set_printoptions(precision=4, suppress=True, linewidth=100)


def same(mine, library, what):
    """Assert that a hand-written result equals the library's, and say by how much they differ."""
    mine, library = np.asarray(mine), np.asarray(library)
    difference = float(np.max(np.abs(mine - library)))
    np.testing.assert_allclose(mine, library, rtol=1e-12, atol=1e-12, err_msg=what)
    print(f"{what}: same as the tier (largest difference {difference:.1e})")


# %% [markdown]
# ## The data
#
# `digits` holds 1,797 grey-scale images of 8 x 8 pixels, each a handwritten 0 to 9. The
# project's loader splits them into training, validation and test sets and standardizes every
# pixel with the training set's mean and standard deviation (so each input column has mean 0
# and variance 1, which keeps the first layer's sums in a good range; the few pixels that are
# blank in every training image stay 0).

# %%
data = load_dataset(DataSpec(name="digits"))
print(data.description)
print("x_train", data.x_train.shape, data.x_train.dtype, "  y_train", data.y_train.shape)
print("x_val  ", data.x_val.shape, "  x_test", data.x_test.shape)

raw = data.x_train * data.feature_scale + data.feature_mean  # undo the scaling to look at it
figure, axes = plt.subplots(1, 10, figsize=(10, 1.4))
for ax, image, label in zip(axes, raw[:10], data.y_train[:10], strict=True):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    ax.set_title(str(label))
    ax.axis("off")
plt.show()

# %% [markdown]
# ## The network and its initial weights
#
# 64 inputs (one per pixel), two hidden layers of 32 and 16 ReLU units, and 10 outputs (one per
# class): `64 -> 32 -> 16 -> 10`. Each layer `l` has a kernel `W_l` of shape `(n_in, n_out)`
# and a bias `b_l` of shape `(n_out,)`.
#
# The initial weights come from `shared.init`: Glorot-uniform kernels, `W ~ U(-r, r)` with
# `r = sqrt(6 / (n_in + n_out))`, and zero biases. Every tier starts from these same numbers.

# %%
spec = ModelSpec(hidden=(32, 16)).resolve(n_inputs=64, n_outputs=10)
params = init_params(spec, seed=0)  # [(W1, b1), (W2, b2), (W3, b3)], float64
(W1, b1), (W2, b2), (W3, b3) = params
for l, (W, b) in enumerate(params, start=1):
    r = np.sqrt(6 / sum(W.shape))
    print(f"W{l} {W.shape}  in [{W.min():+.3f}, {W.max():+.3f}] (r = {r:.3f})   b{l} {b.shape}")

# %% [markdown]
# ## One mini-batch
#
# Training looks at a few samples at a time. The batch order is shared by every tier: a
# permutation of the training rows for each epoch, cut into batches of 32
# (`shared.batching.epoch_batches`). Here is the first batch of the first epoch, with the labels
# as one-hot rows `t`.

# %%
rows = epoch_batches(len(data.y_train), batch_size=32, seed=0, epoch=0)[0]
x, y = data.x_train[rows], data.y_train[rows]
t = np.eye(10)[y]  # one-hot: t[i, y[i]] = 1
n = len(x)
print("x", x.shape, "  y", y[:8], "...  t", t.shape)
print("t[0] =", t[0], " (label", y[0], ")")

# %% [markdown]
# ## The forward pass, layer by layer
#
# Each layer multiplies by its kernel, adds its bias, and (for the hidden layers) applies the
# activation `relu(z) = max(z, 0)`:
#
# $$z_1 = x W_1 + b_1,\quad a_1 = \mathrm{relu}(z_1),\qquad z_2 = a_1 W_2 + b_2,\quad
# a_2 = \mathrm{relu}(z_2),\qquad z_3 = a_2 W_3 + b_3$$
#
# The last layer's outputs `z_3` are the **logits**: one unnormalized score per class. A row of
# `x` is one sample, so every product handles the whole batch at once.

# %%
z1 = x @ W1 + b1
a1 = np.maximum(z1, 0)
z2 = a1 @ W2 + b2
a2 = np.maximum(z2, 0)
z3 = a2 @ W3 + b3
for name, value in [("x", x), ("z1", z1), ("a1", a1), ("z2", z2), ("a2", a2), ("z3", z3)]:
    print(f"{name:3} {value.shape}")
print(
    "share of hidden units ReLU switched off:", f"{(a1 == 0).mean():.2f}", f"{(a2 == 0).mean():.2f}"
)

# %% [markdown]
# The NumPy tier's `MLP.forward` runs the same loop over its `Dense` layers
# (`lowlevel_numpy/model.py`, `lowlevel_numpy/layers.py`):

# %%
model = MLP(spec, [(W.copy(), b.copy()) for W, b in params])
same(z3, model.forward(x), "logits z3")

# %% [markdown]
# ## Softmax and the cross-entropy loss
#
# Softmax turns the logits of a row into probabilities, and cross-entropy is the average of
# `-log p` of the true class:
#
# $$p_{ij} = \frac{e^{z_{ij}}}{\sum_k e^{z_{ik}}},\qquad
# L = -\frac{1}{n}\sum_{i}\sum_j t_{ij}\log p_{ij}$$
#
# Computed as written, `e^z` overflows for a logit above about 709. Subtracting each row's
# maximum first changes nothing mathematically and keeps every exponent at or below zero; and
# `log p` is computed directly as `z - log sum e^z` (log-softmax), never as the log of a
# probability that may have rounded to 0.

# %%
shifted = z3 - z3.max(axis=1, keepdims=True)
log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
p = np.exp(log_p)
loss = -(t * log_p).sum() / n
print("probabilities of sample 0:", p[0], " sum", p[0].sum())
print(f"loss {loss:.4f}; a network that guesses uniformly scores log(10) = {np.log(10):.4f}")
# Random initial logits are not uniform: the first loss is usually a little above log(10).

# %%
library_loss, library_dz = softmax_cross_entropy(z3, t)
same(loss, library_loss, "loss")

# %% [markdown]
# ## Backpropagation, written out
#
# The gradient of the loss with respect to each weight follows from the chain rule, starting at
# the logits and going back one layer at a time. The softmax and the log cancel into a very
# simple first factor:
#
# $$\frac{\partial L}{\partial z_3} = \frac{p - t}{n}$$
#
# Then, for each layer, with `dz` the gradient at its output and `a` its input:
#
# $$dW = a^\top dz,\qquad db = \textstyle\sum_{\text{rows}} dz,\qquad
# da_{\text{below}} = dz\, W^\top,\qquad dz_{\text{below}} = da_{\text{below}} \odot
# \mathrm{relu}'(z_{\text{below}})$$
#
# with `relu'(z) = 1` where `z > 0` and `0` elsewhere. Each weight's gradient sums over the
# batch, which is why `dz` carries the factor `1/n`.

# %%
dz3 = (p - t) / n
dW3 = a2.T @ dz3
db3 = dz3.sum(axis=0)
da2 = dz3 @ W3.T
dz2 = da2 * (z2 > 0)
dW2 = a1.T @ dz2
db2 = dz2.sum(axis=0)
da1 = dz2 @ W2.T
dz1 = da1 * (z1 > 0)
dW1 = x.T @ dz1
db1 = dz1.sum(axis=0)
mine = [dW1, db1, dW2, db2, dW3, db3]
for name, g in zip(["dW1", "db1", "dW2", "db2", "dW3", "db3"], mine, strict=True):
    print(f"{name} {g.shape!s:9} largest |entry| {np.abs(g).max():.2e}")

# %% [markdown]
# `MLP.backward` does the same from the `dz` the loss returned, layer by layer in reverse:

# %%
same(dz3, library_dz, "dL/dz3")
library_grads = model.backward(library_dz)
for name, g, library in zip(
    ["dW1", "db1", "dW2", "db2", "dW3", "db3"], mine, library_grads, strict=True
):
    same(g, library, name)

# %% [markdown]
# ## Checking a gradient with finite differences
#
# A derivative is a slope: nudge one weight by `±h` and see how the loss moves,
#
# $$\frac{\partial L}{\partial w} \approx \frac{L(w + h) - L(w - h)}{2h}.$$
#
# If the backward pass has a mistake, this centred difference disagrees with it. Here is one
# entry of `W2`, by hand; the relative error `|a - b| / (|a| + |b|)` should be well below 1e-6
# (the centred difference's own error is of the order of `h^2`, plus rounding divided by `h`).


# %%
def loss_at(W2_nudged):
    """The batch loss with W2 replaced, everything else as before."""
    a1 = np.maximum(x @ W1 + b1, 0)
    a2 = np.maximum(a1 @ W2_nudged + b2, 0)
    z3 = a2 @ W3 + b3
    shifted = z3 - z3.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -(t * log_p).sum() / n


i, j = np.unravel_index(np.abs(dW2).argmax(), dW2.shape)  # the entry with the largest gradient
h = 1e-5
plus, minus = W2.copy(), W2.copy()
plus[i, j] += h
minus[i, j] -= h
numeric = (loss_at(plus) - loss_at(minus)) / (2 * h)
relative = abs(numeric - dW2[i, j]) / (abs(numeric) + abs(dW2[i, j]))
print(f"dW2[{i},{j}]: backprop {dW2[i, j]:.10f}, finite difference {numeric:.10f}")
print(f"relative error {relative:.1e}")
assert relative < 1e-6

# %% [markdown]
# `lowlevel_numpy.gradcheck` does the same for a few entries of every array (and steers clear
# of ReLU's kink at 0, where the derivative does not exist); `python -m lowlevel_numpy.gradcheck`
# runs it over every activation, loss and layer count.

# %%
result = check_gradients(MLP(spec, [(W.copy(), b.copy()) for W, b in params]), x, y)
print({name: f"{error:.1e}" for name, error in result.errors.items()})
assert result.max_error < 1e-6

# %% [markdown]
# ## One optimizer step
#
# Plain stochastic gradient descent moves every weight a small step against its gradient:
# `w <- w - lr * g`. After one step on this batch, the loss on the same batch should be lower.

# %%
lr = 0.1
W1_new, b1_new = W1 - lr * dW1, b1 - lr * db1
W2_new, b2_new = W2 - lr * dW2, b2 - lr * db2
W3_new, b3_new = W3 - lr * dW3, b3 - lr * db3

# The tier: a fresh model, one forward and backward pass, and its SGD optimizer's update.
model = MLP(spec, [(W.copy(), b.copy()) for W, b in params])
loss_before, dz = model.loss(model.forward(x), t)
optimizer = SGD(model.parameters, TrainSpec(optimizer="sgd", lr=lr))
optimizer.apply_update(model.parameters, model.backward(dz))  # in place
loss_after, _ = model.loss(model.forward(x), t)

for l, (W_new, layer) in enumerate(
    zip([W1_new, W2_new, W3_new], model.layers, strict=True), start=1
):
    same(W_new, layer.W, f"W{l} after one step")
for l, (b_new, layer) in enumerate(
    zip([b1_new, b2_new, b3_new], model.layers, strict=True), start=1
):
    same(b_new, layer.b, f"b{l} after one step")
print(
    f"loss on this batch: {float(loss_before):.4f} before the step, {float(loss_after):.4f} after"
)
assert loss_after < loss_before

# %% [markdown]
# `lowlevel_numpy/optimizers.py` writes the other rules the same way: momentum, Nesterov, Adam
# and RMSprop, each as the formula Keras uses.
#
# ## The training loop
#
# An **epoch** is one pass over the training set in the shared batch order: for each batch, the
# forward pass, the loss, the backward pass and the update. Here it is, written once more with
# the same formulas, for 10 epochs of SGD. The loss of every step is kept for the plot.

# %%
epochs, batch_size, lr = 10, 32, 0.1
(W1, b1), (W2, b2), (W3, b3) = [(W.copy(), b.copy()) for W, b in params]
x_all, t_all = data.x_train, np.eye(10)[data.y_train]
step_losses = []
for epoch in range(epochs):
    for rows in epoch_batches(len(x_all), batch_size, seed=0, epoch=epoch):
        x, t = x_all[rows], t_all[rows]
        n = len(x)
        # forward
        z1 = x @ W1 + b1
        a1 = np.maximum(z1, 0)
        z2 = a1 @ W2 + b2
        a2 = np.maximum(z2, 0)
        z3 = a2 @ W3 + b3
        # loss
        shifted = z3 - z3.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        step_losses.append(-(t * log_p).sum() / n)
        # backward
        dz3 = (np.exp(log_p) - t) / n
        dz2 = (dz3 @ W3.T) * (z2 > 0)
        dz1 = (dz2 @ W2.T) * (z1 > 0)
        # update
        W3, b3 = W3 - lr * (a2.T @ dz3), b3 - lr * dz3.sum(axis=0)
        W2, b2 = W2 - lr * (a1.T @ dz2), b2 - lr * dz2.sum(axis=0)
        W1, b1 = W1 - lr * (x.T @ dz1), b1 - lr * dz1.sum(axis=0)
by_hand = [(W1, b1), (W2, b2), (W3, b3)]
hidden_1 = np.maximum(data.x_test @ W1 + b1, 0)
hidden_2 = np.maximum(hidden_1 @ W2 + b2, 0)
hand_accuracy = ((hidden_2 @ W3 + b3).argmax(axis=1) == data.y_test).mean()
print(
    f"{len(step_losses)} steps; loss {step_losses[0]:.3f} at the first, {step_losses[-1]:.3f} at the last"
)
print(f"test accuracy of these weights: {hand_accuracy:.4f}")

# %% [markdown]
# `NumpyTier.fit` is this loop with the bookkeeping a real run needs around it: the validation
# loss after every epoch, a divergence check, early stopping and checkpoints
# (`lowlevel_numpy/tier.py`). Trained from the same weights on the same batches, it ends with
# the same weights:

# %%
tier = NumpyTier(
    spec,
    TrainSpec(
        optimizer="sgd", lr=lr, epochs=epochs, batch_size=batch_size, seed=0, dtype="float64"
    ),
    params,
)
history = tier.fit(data)
for l, ((W, b), (W_tier, b_tier)) in enumerate(
    zip(by_hand, tier.get_params(), strict=True), start=1
):
    same(W, W_tier, f"W{l} after {epochs} epochs")
    same(b, b_tier, f"b{l} after {epochs} epochs")

# %%
steps = np.arange(1, len(step_losses) + 1)
figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
left.plot(steps, step_losses, lw=0.8, color="C0", label="training loss of each batch (by hand)")
epoch_ends = np.cumsum([len(epoch_batches(len(x_all), batch_size, 0, e)) for e in range(epochs)])
left.plot(
    epoch_ends,
    [r["loss"] for r in history.records],
    "o-",
    color="C1",
    label="epoch mean (NumpyTier.fit)",
)
left.plot(
    epoch_ends,
    [r["val_loss"] for r in history.records],
    "s--",
    color="C2",
    label="validation loss (NumpyTier.fit)",
)
left.set_yscale("log")
left.set_xlabel("step")
left.set_ylabel("cross-entropy")
left.legend()
left.set_title("Loss while training: 64-32-16-10 ReLU, SGD lr 0.1")
right.plot(range(1, epochs + 1), [r["val_accuracy"] for r in history.records], "s-", color="C2")
right.set_xlabel("epoch")
right.set_ylabel("validation accuracy")
right.set_ylim(top=1.0)
right.set_title("Validation accuracy")
plt.show()

probabilities = tier.predict_proba(data.x_test)
accuracy = (probabilities.argmax(axis=1) == data.y_test).mean()
print(f"test accuracy after {epochs} epochs: {accuracy:.4f} on {len(data.y_test)} images")

# %% [markdown]
# ## Exercises
#
# Change a cell, then restart the kernel and run every cell again (in JupyterLab: Run, Restart
# Kernel and Run All Cells), since later cells reuse the names of earlier ones. The expected
# effect is what this notebook's numbers give; the seed makes each run repeat exactly.
#
# 1. **Break the backward pass.** In the backpropagation cell, drop the `/ n` from `dz3`. Every
#    gradient becomes 32 times too large, and the `same(...)` check right after fails. Run the
#    finite-difference cell on its own next: its relative error is about 0.94
#    (`|32 - 1| / (32 + 1)`) and its `assert` fails too.
# 2. **Forget the ReLU's derivative.** Write `dz2 = da2` instead of `da2 * (z2 > 0)`. The
#    gradients of `W1`, `b1`, `W2` and `b2` are now wrong wherever a unit was switched off, and
#    the checks after the cell fail for them; run the finite-difference cell on its own next:
#    it disagrees at the percent level (a relative error of 1.4e-2).
# 3. **Start from zero.** Set every kernel to zero in the loop cell (`np.zeros_like(W)` in place
#    of `W.copy()`). Every ReLU input is then 0, so every `relu'` is 0 and only `b3` learns: the
#    loop cell reports a loss going from 2.303 to 2.297 in 10 epochs and test accuracy 0.10,
#    one class for every image (the `same(...)` checks after it fail, since the tier still starts
#    from the random weights). Random initial weights break this symmetry.
# 4. **Take a bigger step.** Set `lr = 1.0`, then `lr = 3.0`, in the loop cell. At 1.0 the loss
#    falls, jumps back up (to 2.29 early in the fifth epoch, to 17.9 in the eighth), and ends
#    at 1.83 with test accuracy 0.53. At 3.0 the first steps switch off all 16 units of the second hidden layer for every
#    image ("dead" ReLUs: their gradient is 0 from then on), the loss stays near 2.3 and test
#    accuracy is 0.10.
# 5. **Another activation.** Replace `np.maximum(z, 0)` by `np.tanh(z)` in the forward pass and
#    `(z > 0)` by `(1 - a ** 2)` in the backward pass. Then compare with
#    `NumpyTier` built from `ModelSpec(hidden=(32, 16), activation="tanh")`: the weights agree
#    again.
