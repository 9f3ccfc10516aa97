"""Evaluation that every tier shares.

It takes a model's predictions as a NumPy array (class probabilities for a softmax output, raw
scores for an identity output) and integer labels, so a metric cannot differ between tiers.
Precision, recall and F1 come from scikit-learn, imported when ``evaluate`` first runs.
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
