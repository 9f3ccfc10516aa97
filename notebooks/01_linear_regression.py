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
# # 1. Linear regression from scratch
#
# **What you learn**: the four pieces every neural network in this project is made of, on the
# smallest model there is, a straight line: a **prediction**, a **cost** that says how wrong it
# is, the cost's **gradient**, and **gradient descent**, which follows the gradient downhill.
# Then you meet the same model in the NumPy tier: an `MLP` with no hidden layer.
#
# **How long**: about 10 minutes to read; it runs top to bottom in a few seconds on a laptop CPU,
# offline (the data is generated).

# %%
import matplotlib.pyplot as plt
import numpy as np

from lowlevel_numpy.model import MLP
from lowlevel_numpy.tier import NumpyTier
from shared.data import load_dataset
from shared.init import init_params
from shared.spec import DataSpec, ModelSpec, TrainSpec

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## The data
#
# 300 points of `y = 2x + 1` plus Gaussian noise of standard deviation 0.1, with `x` uniform in
# `[-1, 1]` (the project's `line` dataset). The loader splits them into training, validation
# and test sets and standardizes `x` and `y` (mean 0, standard deviation 1, with the training
# set's statistics); the first part of this notebook works in the data's own units, so it
# undoes that.

# %%
data = load_dataset(DataSpec(name="line"), task="regression")
print(data.description)
x = (data.x_train * data.feature_scale + data.feature_mean)[:, 0]  # the data's own units
y = data.in_target_units(data.y_train)[:, 0]
print(f"{len(x)} training points; x in [{x.min():.2f}, {x.max():.2f}]")

plt.figure(figsize=(5, 3.5))
plt.scatter(x, y, s=8)
plt.xticks([-1, -0.5, 0, 0.5, 1])
plt.xlabel("x")
plt.ylabel("y")
plt.title("Training data")
plt.show()

# %% [markdown]
# ## The prediction
#
# A line has two parameters, a slope `w` and an intercept `b`. Its prediction for an input `x`:
#
# $$\hat y = w x + b$$
#
# Written for all `n` points at once, `x` is a vector and so is `ŷ`.


# %%
def predict(x, w, b):
    return w * x + b


print("the first predictions of w = 0.5, b = 0:", predict(x[:4], 0.5, 0.0))

# %% [markdown]
# ## The cost
#
# How wrong is a line? The **mean squared error** averages the squared distance between each
# prediction and its target:
#
# $$J(w, b) = \frac{1}{n}\sum_{i=1}^{n} (\hat y_i - y_i)^2$$
#
# Squaring makes every error count positively, and large errors count more. Below, `J` over a
# grid of slopes and intercepts: one bowl, with its lowest point near `w = 2, b = 1`.


# %%
def cost(x, y, w, b):
    return np.mean((predict(x, w, b) - y) ** 2)


print(f"J(0.5, 0) = {cost(x, y, 0.5, 0.0):.4f}   J(2, 1) = {cost(x, y, 2.0, 1.0):.4f}")

ws, bs = np.meshgrid(np.linspace(-1, 5, 121), np.linspace(-2, 4, 121))
J = np.vectorize(lambda w, b: cost(x, y, w, b))(ws, bs)  # the cost at every grid point
plt.figure(figsize=(5, 4))
contours = plt.contour(ws, bs, J, levels=np.geomspace(0.01, 20, 14), cmap="viridis")
plt.clabel(contours, fontsize=7, fmt="%.2g")
plt.xlabel("slope w")
plt.ylabel("intercept b")
plt.title("The cost J(w, b)")
plt.show()

# %% [markdown]
# ## The gradient
#
# The gradient is the direction in which the cost rises fastest. Differentiating `J` with the
# chain rule (the derivative of `u²` is `2u`, and `ŷ` changes by `x` per unit of `w` and by 1
# per unit of `b`):
#
# $$\frac{\partial J}{\partial w} = \frac{2}{n}\sum_i (\hat y_i - y_i)\, x_i,\qquad
# \frac{\partial J}{\partial b} = \frac{2}{n}\sum_i (\hat y_i - y_i)$$
#
# A formula like this is easy to get wrong, so check it against the definition of a
# derivative: nudge a parameter by `±h` and divide the change of the cost by `2h`.


# %%
def gradient(x, y, w, b):
    error = predict(x, w, b) - y
    return 2 * np.mean(error * x), 2 * np.mean(error)


dw, db = gradient(x, y, 0.5, 0.0)
h = 1e-6
dw_numeric = (cost(x, y, 0.5 + h, 0.0) - cost(x, y, 0.5 - h, 0.0)) / (2 * h)
db_numeric = (cost(x, y, 0.5, 0.0 + h) - cost(x, y, 0.5, 0.0 - h)) / (2 * h)
print(f"dJ/dw: formula {dw:.8f}, finite difference {dw_numeric:.8f}")
print(f"dJ/db: formula {db:.8f}, finite difference {db_numeric:.8f}")
assert np.isclose(dw, dw_numeric, rtol=1e-7) and np.isclose(db, db_numeric, rtol=1e-7)

# %% [markdown]
# ## Gradient descent
#
# Start anywhere, and step against the gradient, scaled by a **learning rate** `lr`:
#
# $$w \leftarrow w - \mathrm{lr}\,\frac{\partial J}{\partial w},\qquad
# b \leftarrow b - \mathrm{lr}\,\frac{\partial J}{\partial b}$$
#
# Each step lowers the cost as long as the step is small enough. Every step here uses all the
# training points (full-batch gradient descent).


# %%
def gradient_descent(x, y, w, b, lr, steps):
    """The parameters after ``steps`` steps, and ``(w, b, cost)`` at every step."""
    path = [(w, b, cost(x, y, w, b))]
    for _ in range(steps):
        dw, db = gradient(x, y, w, b)
        w, b = w - lr * dw, b - lr * db
        path.append((w, b, cost(x, y, w, b)))
    return w, b, np.array(path)


lr, steps = 0.2, 100
w, b, path = gradient_descent(x, y, w=-0.5, b=3.0, lr=lr, steps=steps)
print(f"after {steps} steps: w = {w:.4f}, b = {b:.4f}, cost {path[-1, 2]:.5f}")

# %% [markdown]
# The line converging onto the data, the path of `(w, b)` down the bowl, and the cost per step:

# %%
figure, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 3.8), layout="constrained")
left.scatter(x, y, s=6, color="0.6")
grid = np.linspace(-1, 1, 2)
for step in (0, 2, 5, 10, 25, steps):
    w_k, b_k, _ = path[step]
    left.plot(grid, predict(grid, w_k, b_k), label=f"step {step}")
left.set_xticks([-1, -0.5, 0, 0.5, 1])
left.set_xlabel("x")
left.set_ylabel("y")
left.legend(fontsize=8)
left.set_title("The line, step by step")
middle.contour(ws, bs, J, levels=np.geomspace(0.01, 20, 14), cmap="viridis")
middle.plot(path[:, 0], path[:, 1], ".-", color="C3", ms=4)
middle.set_xlabel("slope w")
middle.set_ylabel("intercept b")
middle.set_title("(w, b) going down the cost")
right.semilogy(path[:, 2])
right.set_xlabel("step")
right.set_ylabel("cost J (log scale)")
right.set_title(f"Cost per step, lr {lr}")
plt.show()

# %% [markdown]
# ## The answer, checked
#
# For this model the lowest point of the bowl has a closed form: least squares, which NumPy
# solves directly. Gradient descent should arrive at the same line (a network with hidden
# layers has no closed form, which is why it is trained by gradient descent).

# %%
X = np.column_stack([x, np.ones_like(x)])  # columns: x, and 1 for the intercept
(w_best, b_best), *_ = np.linalg.lstsq(X, y, rcond=None)
print(f"least squares:    w = {w_best:.6f}, b = {b_best:.6f}")
print(f"gradient descent: w = {w:.6f}, b = {b:.6f}")
print("the line the data came from: w = 2, b = 1 (the noise moves the best fit a little)")
assert abs(w - w_best) < 1e-4 and abs(b - b_best) < 1e-4

# %% [markdown]
# ## The same model in the NumPy tier
#
# A network with no hidden layer and one linear output **is** linear regression: its one layer
# computes `z = x W + b` with a kernel `W` of shape `(1, 1)`, and a regressor's loss is the mean
# squared error. So `ModelSpec(hidden=(), task="regression")` builds this notebook's model, and
# the tier's `forward`, `loss` and `backward` compute the prediction, the cost and the gradient
# above.
#
# The tier trains on the standardized data the loader made, so the comparison does too: the
# notebook's `gradient_descent` and the tier's `fit` start from the same weights and take 100
# full-batch steps of SGD.

# %%
spec = ModelSpec(hidden=(), task="regression").resolve(n_inputs=1, n_outputs=1)
[(W0, b0)] = init_params(spec, seed=0)  # W0 (1, 1), b0 (1,)
xs, ys = data.x_train[:, 0], data.y_train[:, 0]  # standardized

model = MLP(spec, [(W0.copy(), b0.copy())])
z = model.forward(data.x_train)
loss, dz = model.loss(z, data.y_train)  # the MSE, and dJ/dz = 2 (z - y) / n
dW, db_tier = model.backward(dz)
w_start, b_start = W0[0, 0], b0[0]
print(f"prediction: {np.abs(z[:, 0] - predict(xs, w_start, b_start)).max():.1e} from ours")
print(f"cost:       {abs(loss - cost(xs, ys, w_start, b_start)):.1e} from ours")
ours = gradient(xs, ys, w_start, b_start)
print(f"gradient:   {max(abs(dW[0, 0] - ours[0]), abs(db_tier[0] - ours[1])):.1e} from ours")

train = TrainSpec(optimizer="sgd", lr=lr, epochs=steps, batch_size=len(xs), seed=0, dtype="float64")
tier = NumpyTier(spec, train, [(W0, b0)])
tier.fit(data)
[(W_tier, b_tier)] = tier.get_params()
w_ours, b_ours, _ = gradient_descent(xs, ys, w_start, b_start, lr, steps)
print(f"after {steps} steps: the tier w = {W_tier[0, 0]:.12f}, b = {b_tier[0]:+.1e}")
print(f"        this notebook's loop w = {w_ours:.12f}, b = {b_ours:+.1e}")
assert np.allclose([W_tier[0, 0], b_tier[0]], [w_ours, b_ours], rtol=1e-12, atol=1e-12)

# %% [markdown]
# In the data's own units, the tier's line is the least-squares line: undo the standardization
# of `x` and of `y`.

# %%
slope = W_tier[0, 0] * data.target_scale[0] / data.feature_scale[0]
intercept = data.target_mean[0] + data.target_scale[0] * b_tier[0] - slope * data.feature_mean[0]
print(f"the tier, in units: w = {slope:.6f}, b = {intercept:.6f}")
assert abs(slope - w_best) < 1e-4 and abs(intercept - b_best) < 1e-4

# %% [markdown]
# ## Exercises
#
# Change a cell, then run it and every cell below it again.
#
# 1. **The learning rate.** In the gradient-descent cell, try `lr = 0.02`: after 100 steps the
#    line is still visibly off (`w = 1.30`, `b = 1.09`, a cost of 0.17 against 0.0113 at the
#    minimum). Try `lr = 1.1`: after a first step down, the cost grows at every step (to about
#    7e16 after 100) as the path jumps from one side of the bowl to the other, further each time.
#    How large a step can be is set by the curvature of the bowl.
# 2. **More noise.** Load `DataSpec(name="line", noise=1.0)`: the points spread out, the
#    least-squares line moves further from `y = 2x + 1` (`w = 2.04`, `b = 1.14`), and gradient
#    descent still ends on it.
# 3. **A curve.** Load `DataSpec(name="parabola")` (`y = 2x² - 1`): no straight line fits it,
#    and the cost stops at 0.33 however long you train (the least-squares line is nearly flat,
#    `w = 0.10`). That is what hidden layers are for; the next notebook adds them.
