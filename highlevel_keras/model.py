"""The spec as a ``keras.Sequential``, compiled with Keras's own losses and optimizers.

    model = keras.Sequential([
        keras.Input((n_inputs,)),
        keras.layers.Dense(128, activation="relu", kernel_regularizer=L2(l2)),
        keras.layers.Dropout(rate),                        # only when rate > 0
        keras.layers.Dense(64, activation="relu", kernel_regularizer=L2(l2)),
        keras.layers.Dense(n_outputs, kernel_regularizer=L2(l2)),   # logits
    ])
    model.set_weights(shared_initial_weights)
    model.compile(optimizer=Adam(...), loss=CategoricalCrossentropy(from_logits=True))

The last layer emits logits, and cross-entropy is computed from them (``from_logits=True``): a
softmax layer followed by ``from_logits=False`` would clip probabilities on some backends.
For ``mse`` with a softmax output, a ``Softmax`` layer follows the logits, as MSE compares
probabilities with one-hot targets.
"""

from __future__ import annotations

from typing import Any

from shared.init import Params
from shared.seeding import stream
from shared.spec import ModelSpec, TrainSpec

KERAS_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "identity": "linear"}


def dropout_seed(seed: int, layer: int) -> int:
    """The seed of the ``Dropout`` after hidden layer ``layer``, from the run's seed."""
    return int(stream(seed, "dropout", layer).integers(2**31 - 1))


def build_model(keras: Any, spec: ModelSpec, train: TrainSpec, params: Params) -> Any:
    """The uncompiled ``Sequential``, holding the shared initial weights."""
    regularizer = (lambda: keras.regularizers.L2(train.l2)) if train.l2 else (lambda: None)
    layers: list[Any] = [keras.Input((spec.n_inputs,), dtype=train.dtype)]
    for index, width in enumerate(spec.hidden):
        layers.append(
            keras.layers.Dense(
                width,
                activation=KERAS_ACTIVATIONS[spec.activation],
                kernel_regularizer=regularizer(),
                name=f"dense_{index}",
            )
        )
        if train.dropout:
            layers.append(
                keras.layers.Dropout(
                    train.dropout, seed=dropout_seed(train.seed, index), name=f"dropout_{index}"
                )
            )
    layers.append(
        keras.layers.Dense(
            spec.n_outputs, kernel_regularizer=regularizer(), name=f"dense_{len(spec.hidden)}"
        )
    )
    if spec.loss == "mse" and spec.output == "softmax":
        layers.append(keras.layers.Softmax(name="softmax"))
    model = keras.Sequential(layers, name="mlp")
    model.set_weights([array for pair in params for array in pair])
    return model


def make_optimizer(keras: Any, train: TrainSpec) -> Any:
    """The spec's optimizer, as a Keras user builds one."""
    if train.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=train.lr)
    if train.optimizer in ("momentum", "nesterov"):
        return keras.optimizers.SGD(
            learning_rate=train.lr, momentum=train.momentum, nesterov=train.optimizer == "nesterov"
        )
    if train.optimizer == "adam":
        return keras.optimizers.Adam(
            learning_rate=train.lr, beta_1=train.beta1, beta_2=train.beta2, epsilon=train.eps
        )
    return keras.optimizers.RMSprop(learning_rate=train.lr, rho=train.rho, epsilon=train.eps)


def steps_per_execution(steps: int, backend: str, most: int = 16) -> int:
    """How many training steps ``fit`` runs per call into compiled code: the largest divisor of
    an epoch's ``steps`` up to ``most`` (1 on PyTorch, whose Keras backend runs one at a time).

    Between calls Keras returns to Python (callbacks, logs, the progress bar), which on small
    batches costs more than the step itself. The steps, and so the weights, stay the same, and
    callbacks see every k-th batch. A divisor, because a call that ran past the end of an epoch
    would train on the next epoch's first batches before Keras notices the epoch ended.
    """
    if backend == "torch":
        return 1
    return max(k for k in range(1, min(most, steps) + 1) if steps % k == 0)


def compile_model(keras: Any, model: Any, spec: ModelSpec, train: TrainSpec, jit_compile) -> None:
    """The loss (from logits for cross-entropy), the optimizer and an accuracy metric."""
    if spec.loss == "cross_entropy":
        loss = keras.losses.CategoricalCrossentropy(from_logits=True)
    else:
        loss = keras.losses.MeanSquaredError()
    model.compile(
        optimizer=make_optimizer(keras, train),
        loss=loss,
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile,
    )
