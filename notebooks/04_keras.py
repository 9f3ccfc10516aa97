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
# # 4. The same network in Keras
#
# **What you learn**: the network of notebooks 2 and 3 as a Keras user writes it: a
# `Sequential` model, `compile` (the loss, the optimizer, a metric), `fit` (the whole training
# loop), `predict` and `evaluate`; and, call by call, what each of them does that notebook 2
# wrote by hand. Keras 3 runs on JAX, TensorFlow or PyTorch; this notebook uses JAX unless
# `KERAS_BACKEND` says otherwise.
#
# **How long**: about 10 minutes to read; it runs top to bottom in about 20 seconds on a laptop
# CPU, offline.

# %%
import os
import time

import matplotlib.pyplot as plt

from adapters.tensorflow_setup import quiet_tensorflow_startup

os.environ.setdefault("KERAS_BACKEND", "jax")  # or "tensorflow", "torch": before importing Keras

import keras

from mlp_tiers.parity import param_errors
from mlp_tiers.runner import build_tier, prepare_run
from shared.data import load_dataset
from shared.init import init_params
from shared.spec import DataSpec, ModelSpec, RunConfig, TrainSpec

print(f"Keras {keras.__version__} on {keras.backend.backend()}")

# %% [markdown]
# ## The data
#
# `digits` as before, in float32, Keras's default float type. Keras's cross-entropy loss takes
# one-hot targets (`CategoricalCrossentropy`); `keras.utils.to_categorical` makes them.

# %%
data = load_dataset(DataSpec(name="digits")).astype("float32")
x_train, x_val, x_test = data.x_train, data.x_val, data.x_test
t_train = keras.utils.to_categorical(data.y_train, 10)
t_val = keras.utils.to_categorical(data.y_val, 10)
print(x_train.shape, x_train.dtype, t_train.shape)

# %% [markdown]
# ## `Sequential`: the network as a list of layers
#
# Each `Dense` layer owns its kernel and bias and computes `activation(a @ W + b)`: the forward
# pass of notebook 2, one line per layer. The last layer has no activation, so the model
# outputs logits. `summary` counts the parameters: `64·32 + 32` for the first layer, and so on.

# %%
# Keras's own random numbers (the shuffling in fit) made repeatable. This seeds TensorFlow too
# where it is installed, importing it: here without its start-up log lines.
with quiet_tensorflow_startup():
    keras.utils.set_random_seed(0)
model = keras.Sequential(
    [
        keras.Input((64,)),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(10),  # logits
    ]
)
model.summary()

# %% [markdown]
# Keras drew its own random initial weights. To compare with the other notebooks, load the
# shared ones instead (`set_weights` takes the arrays in the order `W1, b1, W2, b2, ...`, with
# kernels of shape `(n_in, n_out)`, the convention of every tier here).

# %%
spec = ModelSpec(hidden=(32, 16)).resolve(n_inputs=64, n_outputs=10)
params = init_params(spec, seed=0, dtype="float32")
model.set_weights([array for W, b in params for array in (W, b)])
print([w.shape for w in model.get_weights()])

# %% [markdown]
# ## `compile`: the loss, the optimizer, the metrics
#
# - `CategoricalCrossentropy(from_logits=True)` is notebook 2's log-softmax and cross-entropy,
#   computed from the logits so that it never takes the log of a rounded probability;
# - `Adam` is the update rule of `lowlevel_numpy/optimizers.py`, with its two moment estimates
#   kept per weight;
# - `"accuracy"` is counted during training, batch by batch, before each update.

# %%
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=1e-3),
    loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)

# %% [markdown]
# ## `fit`: the training loop
#
# One call runs the loop that notebook 2 wrote out: it shuffles the training set every epoch,
# cuts it into batches of 32, and for each batch runs the forward pass, the loss, the gradients
# (by the backend's automatic differentiation) and Adam's update, compiled into one function;
# after each epoch it evaluates the validation data. `History.history` keeps the per-epoch
# numbers.

# %%
start = time.perf_counter()
history = model.fit(
    x_train, t_train, batch_size=32, epochs=20, validation_data=(x_val, t_val), verbose=0
)
print(f"20 epochs in {time.perf_counter() - start:.1f} s (the first includes compiling the step)")
print({name: round(values[-1], 4) for name, values in history.history.items()})

# %%
figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.5), layout="constrained")
epochs = range(1, 21)
left.plot(epochs, history.history["loss"], "o-", label="training")
left.plot(epochs, history.history["val_loss"], "s--", label="validation")
left.set_yscale("log")
left.set_xlabel("epoch")
left.set_ylabel("cross-entropy")
left.set_title("Loss")
left.legend()
right.plot(epochs, history.history["accuracy"], "o-", label="training (during the epoch)")
right.plot(epochs, history.history["val_accuracy"], "s--", label="validation")
right.set_xlabel("epoch")
right.set_ylabel("accuracy")
right.set_title("Accuracy")
right.legend()
for axes in (left, right):
    axes.set_xticks(range(0, 21, 5))
plt.show()

# %% [markdown]
# ## `predict` and `evaluate`
#
# `predict` runs the forward pass in batches with training behaviour off (no dropout, were there
# any) and returns NumPy arrays: here logits, so a softmax turns them into probabilities.
# `evaluate` computes the compiled loss and metrics on a data set.

# %%
logits = model.predict(x_test, verbose=0)
probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
predicted = probabilities.argmax(axis=1)
print("first test images: predicted", predicted[:10], "true", data.y_test[:10])
t_test = keras.utils.to_categorical(data.y_test, 10)
loss, accuracy = model.evaluate(x_test, t_test, verbose=0)
by_hand = (predicted == data.y_test).mean()
print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f} ({by_hand:.4f} counted by hand)")

# %% [markdown]
# ## What each call did, and where the other notebooks wrote it
#
# | Keras | by hand (notebook 2) | TensorFlow (notebook 3) |
# |---|---|---|
# | `Sequential([Dense, ...])` | `z = a @ W + b`, `relu` | `tf.matmul`, `tf.nn.relu` |
# | `set_weights` | `init_params`, arrays | `tf.Variable(W)` |
# | `CategoricalCrossentropy(from_logits=True)` | log-softmax, cross-entropy | `tf.nn.softmax_cross_entropy_with_logits` |
# | gradients, inside `fit` | `MLP.backward`: the chain rule | `tf.GradientTape` |
# | `Adam(learning_rate=...)` | `optimizers.Adam`: the formulas | the formulas as TF ops |
# | `fit(batch_size=32, epochs=...)` | the loops of `NumpyTier.fit` | the same loops, `tf.function` step |
# | `validation_data=` | `validate` after each epoch | the same |
# | `predict` | `MLP.predict_proba`, dropout off | `model.predict_proba` |
#
# ## The Keras tier: `fit` on the shared batch order
#
# `fit` shuffled with its own random order, so the numbers above differ from the other tiers'
# after the first batch. The project's Keras tier (`highlevel_keras/tier.py`) builds the same
# `Sequential`, compiles it the same way, and hands `fit` the shared batch order instead. From
# the same initial weights it then trains to the same weights as the NumPy tier.
#
# In float64 "the same" means up to the order of floating-point sums. (The learning rate is
# 0.125, which float32 holds exactly: Keras on TensorFlow rounds hyper-parameters through
# float32 even in a float64 model, as notebook 3 said.)


# %%
def train_side_by_side(train):
    """The NumPy tier and this backend's Keras tier, trained from the same weights and batches;
    the largest normwise difference of their final weights."""
    run = prepare_run(RunConfig(DataSpec(name="digits"), ModelSpec(hidden=(32, 16)), train))
    backend = keras.backend.backend()
    keras_tier = {"jax": "keras-jax", "tensorflow": "keras", "torch": "keras-torch"}[backend]
    trained = {}
    for name in ("numpy", keras_tier):
        tier = build_tier(name, run)
        start = time.perf_counter()
        last = tier.fit(run.data).last
        seconds = time.perf_counter() - start
        print(
            f"  {name:11} loss {last['loss']:.8f}, val accuracy {last['val_accuracy']:.4f}, {seconds:.1f} s"
        )
        trained[name] = tier.get_params()
    return max(param_errors(trained[keras_tier], trained["numpy"]).values())


sgd64 = TrainSpec(optimizer="sgd", lr=0.125, epochs=5, batch_size=32, seed=0, dtype="float64")
print("SGD, float64, 5 epochs:")
difference = train_side_by_side(sgd64)
print(f"  largest normwise weight difference {difference:.1e}")
assert difference < 1e-12

# %% [markdown]
# In float32 every operation rounds, and the two tiers round a few of them differently. With
# Adam at its default betas (0.9, 0.999) one difference dominates: Keras computes `1 - beta2`
# in float32 from `beta2` already rounded to float32, where the NumPy tier rounds the difference
# itself. For 0.999 the two results differ by 1.3e-5 of their size, in every update, and 195
# steps compound that into weights about 1e-2 apart, with losses still within 3e-5 of each
# other, relatively.
# With betas that float32 holds exactly, the tiers end about 1e-7 apart, plain float32
# rounding. `docs/parity.md` measures and tests these tolerances.

# %%
differences = {}
for betas in ({"beta1": 0.9, "beta2": 0.999}, {"beta1": 0.875, "beta2": 0.998046875}):
    adam32 = TrainSpec(optimizer="adam", lr=1e-3, epochs=5, batch_size=32, seed=0, **betas)
    print(f"Adam {betas}, float32, 5 epochs:")
    differences[betas["beta1"]] = train_side_by_side(adam32)
    print(f"  largest normwise weight difference {differences[betas['beta1']]:.1e}")
assert 1e-3 < differences[0.9] < 1e-1 and differences[0.875] < 1e-6

# %% [markdown]
# ## Exercises
#
# 1. **Forget `from_logits=True`.** Compile with `CategoricalCrossentropy()`: Keras then takes
#    the logits for probabilities: it divides each row by its sum (which negative logits can make
#    negative, or near zero) and clips the result into (0, 1) before the logarithm, so the
#    gradients say little about the real error, and test accuracy after 20 epochs is 0.12
#    instead of 0.96.
# 2. **One batch per epoch.** Set `batch_size=len(x_train)`: each epoch is one full-batch step
#    instead of 39, and after 20 epochs (20 steps) test accuracy is 0.25.
# 3. **Dropout.** Add `keras.layers.Dropout(0.2)` after each hidden `Dense`. The shared weights
#    still fit (a `Dropout` layer has none). Training accuracy, counted with dropout on, falls
#    behind validation accuracy (0.62 against 0.76 in the fifth epoch, where both are 0.83
#    without dropout), and on a network this small test accuracy ends lower, 0.94.
# 4. **Another backend.** Restart the kernel, set `os.environ["KERAS_BACKEND"] = "tensorflow"`
#    in the first cell, and run again. The Keras tier's comparisons give the same losses to
#    eight digits; the first `fit` ends a little differently (loss 0.052 instead of 0.056),
#    because each backend shuffles with random numbers of its own.
