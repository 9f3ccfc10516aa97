"""Evaluation that every tier shares.

It takes a model's predictions as a NumPy array (class probabilities for a softmax output, raw
scores for an identity output) and integer labels, or a regressor's standardized predictions
and targets, so a metric cannot differ between tiers. Precision, recall and F1 come from
scikit-learn, imported when ``evaluate`` first runs; a regressor's MSE, RMSE, MAE and R² are
written out below, in the targets' own units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from shared.init import Params


def one_hot(labels: np.ndarray, n_classes: int, dtype: str = "float64") -> np.ndarray:
    """``(n,)`` integer labels to ``(n, n_classes)`` one-hot rows."""
    targets = np.zeros((labels.shape[0], n_classes), dtype=dtype)
    targets[np.arange(labels.shape[0]), labels] = 1
    return targets


def data_loss(outputs: np.ndarray, labels: np.ndarray, loss: str) -> float:
    """Mean loss of predictions ``outputs`` (after the output function) against ``labels``.

    - ``cross_entropy``: ``-mean(log p[i, y_i])``, computed in float64, with ``p`` clipped at the
      smallest positive float64 so that a confidently wrong prediction gives a large finite loss.
    - ``mse``: ``mean((outputs - one_hot(labels))**2)`` over samples and outputs.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    if loss == "cross_entropy":
        picked = outputs[np.arange(labels.shape[0]), labels]
        return float(-np.mean(np.log(np.maximum(picked, np.finfo(np.float64).tiny))))
    if loss == "mse":
        return float(np.mean((outputs - one_hot(labels, outputs.shape[1])) ** 2))
    raise ValueError(f"unknown loss {loss!r}")


def l2_penalty(params: Params, l2: float) -> float:
    """``l2 * sum(W**2)`` over the kernels (biases are not penalized), in float64."""
    if l2 == 0.0:
        return 0.0
    return float(l2 * sum(np.sum(np.asarray(W, dtype=np.float64) ** 2) for W, _ in params))


@dataclass(frozen=True)
class Evaluation:
    """Metrics of one model on one labelled set.

    Attributes:
        loss: mean data loss (no L2 term).
        accuracy: share of samples whose highest output is the true class.
        confusion: ``(k, k)`` counts, rows the true class and columns the predicted one.
        precision, recall, f1, support: per class, in class order.
    """

    loss: float
    accuracy: float
    confusion: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray

    @property
    def macro_f1(self) -> float:
        return float(np.mean(self.f1))

    def to_dict(self, class_names: tuple[str, ...] | None = None) -> dict[str, Any]:
        names = class_names or tuple(str(i) for i in range(len(self.support)))
        return {
            "loss": self.loss,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "confusion_matrix": self.confusion.tolist(),
            "per_class": {
                name: {
                    "precision": float(p),
                    "recall": float(r),
                    "f1": float(f),
                    "support": int(s),
                }
                for name, p, r, f, s in zip(
                    names, self.precision, self.recall, self.f1, self.support
                )
            },
        }


def evaluate(outputs: np.ndarray, labels: np.ndarray, loss: str) -> Evaluation:
    """Evaluate predictions ``outputs`` of shape ``(n, k)`` against integer ``labels`` ``(n,)``."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    outputs = np.asarray(outputs)
    labels = np.asarray(labels)
    if outputs.ndim != 2 or outputs.shape[0] != labels.shape[0]:
        raise ValueError(f"outputs of shape {outputs.shape} do not match {labels.shape[0]} labels")
    k = outputs.shape[1]
    predicted = outputs.argmax(axis=1)
    classes = np.arange(k)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=classes, zero_division=0
    )
    return Evaluation(
        loss=data_loss(outputs, labels, loss),
        accuracy=float(np.mean(predicted == labels)),
        confusion=confusion_matrix(labels, predicted, labels=classes),
        precision=precision,
        recall=recall,
        f1=f1,
        support=support,
    )


@dataclass(frozen=True)
class RegressionEvaluation:
    """Metrics of one regressor on one set, in the targets' own units (averaged over the target
    columns when there are several).

    Attributes:
        loss: mean squared error of the standardized predictions: the data loss training
            minimizes (no L2 term), in the units of ``val_loss``.
        mse, rmse, mae: mean squared error, root mean squared error and mean absolute error;
            with several targets, each target's figure averaged over them (as scikit-learn's
            ``multioutput="uniform_average"``), so ``rmse`` is the mean of the targets' RMSEs,
            not the square root of ``mse``, and both mix the targets' units.
        r2: the coefficient of determination, ``1 - SS_res / SS_tot`` per target, averaged (1 is
            a perfect fit; 0 is what predicting the set's mean scores).
        per_target: ``{name: {"mse", "rmse", "mae", "r2"}}`` for each target column.
    """

    loss: float
    mse: float
    rmse: float
    mae: float
    r2: float
    per_target: tuple[dict[str, float], ...]

    def to_dict(self, target_names: tuple[str, ...] | None = None) -> dict[str, Any]:
        names = target_names or tuple(f"target_{j}" for j in range(len(self.per_target)))
        summary: dict[str, Any] = {
            "loss": self.loss, "mse": self.mse, "rmse": self.rmse, "mae": self.mae, "r2": self.r2,
        }  # fmt: skip
        if len(self.per_target) > 1:
            summary["per_target"] = dict(zip(names, self.per_target, strict=True))
        return summary


def evaluate_regression(
    outputs: np.ndarray, targets: np.ndarray, mean: np.ndarray, scale: np.ndarray
) -> RegressionEvaluation:
    """Evaluate standardized predictions ``outputs (n, k)`` against standardized ``targets``
    ``(n, k)``, both turned back into the targets' units with ``* scale + mean``.

    ``R^2 = 1 - sum (t - y)^2 / sum (t - mean(t))^2`` per column, with ``mean(t)`` the set's own
    mean, as scikit-learn's ``r2_score`` computes it; a constant column, whose denominator is 0,
    scores 1 when predicted exactly and 0 otherwise, as there.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    if outputs.ndim != 2 or outputs.shape != targets.shape:
        raise ValueError(f"outputs of shape {outputs.shape} do not match targets {targets.shape}")
    loss = float(np.mean((outputs - targets) ** 2))
    predicted, true = outputs * scale + mean, targets * scale + mean
    error = predicted - true
    mse = np.mean(error**2, axis=0)
    mae = np.mean(np.abs(error), axis=0)
    residual = np.sum(error**2, axis=0)
    total = np.sum((true - true.mean(axis=0)) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, 1.0 - residual / total, np.where(residual == 0, 1.0, 0.0))
    per_target = tuple(
        {"mse": float(m), "rmse": float(np.sqrt(m)), "mae": float(a), "r2": float(r)}
        for m, a, r in zip(mse, mae, r2, strict=True)
    )
    return RegressionEvaluation(
        loss=loss,
        mse=float(mse.mean()),
        rmse=float(np.mean(np.sqrt(mse))),
        mae=float(mae.mean()),
        r2=float(r2.mean()),
        per_target=per_target,
    )


def evaluate_for(
    model: Any,
    outputs: np.ndarray,
    targets: np.ndarray,
    target_scaling: tuple[np.ndarray, np.ndarray] | None = None,
) -> Evaluation | RegressionEvaluation:
    """``evaluate`` for a classifier, ``evaluate_regression`` for a regressor (``model`` is its
    ``ModelSpec``), whose ``target_scaling`` (``(mean, scale)``) gives the targets' units."""
    if model.is_regression:
        if target_scaling is None:
            raise ValueError("a regressor's evaluation needs the targets' (mean, scale)")
        return evaluate_regression(outputs, targets, *target_scaling)
    return evaluate(outputs, targets, model.loss)
