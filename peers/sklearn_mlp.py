"""scikit-learn's ``MLPClassifier`` (``MLPRegressor`` for a regression): what many users reach
for first.

Configured like the tiers: the same hidden layers and activation, the same optimizer (``sgd``
without momentum, ``sgd`` with momentum or Nesterov, or ``adam``), learning rate, batch size,
L2 factor and epsilon, float32 kept when the run is float32, no early stopping. Each
``partial_fit`` call is one epoch over the shuffled data. scikit-learn draws its own initial
weights and batch order (it offers no way to give them), so its accuracy is comparable to the
tiers' but not equal. A regressor fits the same standardized targets as the tiers.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from peers import EpochEnd, PeerResult, no_hook

SOLVERS = {
    "sgd": {"solver": "sgd", "momentum": 0.0, "nesterovs_momentum": False},
    "momentum": {"solver": "sgd", "nesterovs_momentum": False},
    "nesterov": {"solver": "sgd", "nesterovs_momentum": True},
    "adam": {"solver": "adam"},
}


def train(
    run: Any, epochs: int, options: dict[str, Any], epoch_end: EpochEnd = no_hook
) -> PeerResult:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    spec, model, data = run.train, run.model, run.data
    if spec.optimizer not in SOLVERS:
        raise ValueError(f"scikit-learn's MLPClassifier has no {spec.optimizer!r} optimizer")
    activation = "logistic" if model.activation == "sigmoid" else model.activation
    solver = dict(SOLVERS[spec.optimizer])
    if spec.optimizer in ("momentum", "nesterov"):
        solver["momentum"] = spec.momentum
    if spec.optimizer == "adam":
        solver.update(beta_1=spec.beta1, beta_2=spec.beta2, epsilon=spec.eps)
    # The tiers minimize the batch's mean loss plus l2 * ||W||^2; scikit-learn adds
    # alpha / (2 n) * ||W||^2 for a batch of n to its loss. A classifier's loss is the
    # cross-entropy, so the same objective is alpha = 2 * l2 * n. A regressor's is half the
    # squared error: 0.5 * (MSE + alpha / n * ||W||^2), the tiers' objective halved when
    # alpha = l2 * n; its gradient is then half theirs, so SGD's step is doubled to match (Adam
    # and RMSprop divide the factor out), and its loss is doubled when reported.
    half = model.is_regression
    estimator = MLPRegressor if model.is_regression else MLPClassifier
    clf = estimator(
        hidden_layer_sizes=model.hidden,
        activation=activation,
        alpha=(1 if half else 2) * spec.l2 * spec.batch_size,
        batch_size=spec.batch_size,
        learning_rate_init=spec.lr * (2 if half and spec.optimizer != "adam" else 1),
        shuffle=True,
        random_state=spec.seed,
        early_stopping=False,
        **solver,
    )
    classes = {"classes": np.arange(model.n_outputs)}
    fit_args: dict[str, Any] = {} if model.is_regression else classes
    # one target as a vector: MLPRegressor predicts then in the same shape
    y = data.y_train[:, 0] if model.is_regression and model.n_outputs == 1 else data.y_train
    seconds = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(epochs):
            start = time.perf_counter()
            clf.partial_fit(data.x_train, y, **fit_args)
            seconds.append(time.perf_counter() - start)
            epoch_end()
    notes = [] if clf.coefs_[0].dtype == data.x_train.dtype else ["computes in float64"]
    if model.is_regression:
        outputs = np.asarray(clf.predict(data.x_test)).reshape(len(data.x_test), -1)
    else:
        outputs = clf.predict_proba(data.x_test)
    loss = float(clf.loss_) * (2 if half else 1)  # the tiers' MSE
    return PeerResult.scored(seconds, loss, run, outputs, notes)
