"""Every tier as a scikit-learn estimator: ``MLPTierClassifier`` and ``MLPTierRegressor``.

    from sklearn.model_selection import cross_val_score
    from mlp_tiers.estimators import MLPTierClassifier

    scores = cross_val_score(MLPTierClassifier(tier="tf-nn", hidden=(64,)), X, y)

Under them sit the tiers the train scripts run, built from the same specs (``shared.spec``),
initial weights (``shared.init``) and batch order (``shared.batching``): fitted on a train
script's training split with the same parameters (and no early stopping, for which each holds
out its own rows), an estimator ends with that run's weights, weight for weight. What an
estimator adds is scikit-learn's side of the bargain: the input checks, the label encoding, the
fitted attributes, cloning and pickling.

Where it differs from the train scripts, it does what scikit-learn's own ``MLPClassifier`` does:

- the features are used as given: put a ``StandardScaler`` in front of it in a ``Pipeline``
  (a regressor's targets are standardized with the statistics of the rows it trains on, as the
  datasets do, and its predictions come back in the targets' own units);
- with ``patience`` set, ``val_fraction`` of the rows (stratified by class for a classifier,
  where the class counts allow) are held out for early stopping to watch; without it, every row
  is trained on;
- ``partial_fit`` trains one epoch on the rows it is given, the optimizer's state carried on.

Importing this module loads no framework: a tier's own is imported when ``fit`` first needs it,
so the NumPy tier runs where only NumPy and scikit-learn are installed.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from mlp_tiers.registry import TIERS, get_tier, process_keras_backend
from shared.contract import Tier
from shared.data.dataset import Dataset, hold_out, standardization, to_units
from shared.errors import BackendError, SpecError
from shared.init import init_params
from shared.spec import ModelSpec, TrainSpec


class MLPTierEstimator(BaseEstimator):
    """What the classifier and the regressor share: the parameters, the tier, the fitted
    attributes and pickling. The parameters mean what the train scripts' flags of the same
    names mean (``python -m lowlevel_numpy.train --help``); their defaults are the project's.

    Parameters:
        tier: ``numpy``, ``tf-nn``, ``tf-layers``, ``keras``, ``keras-jax`` or ``keras-torch``.
        hidden: the hidden layers' widths (an int for one layer; ``()`` for none).
        activation, optimizer, lr, batch_size, epochs, l2, dropout, seed, dtype, device: as the
            flags (``lr=None`` is the optimizer's default).
        patience: stop after this many epochs without a lower validation loss, on
            ``val_fraction`` of the rows held out, and keep the best epoch's weights; ``None``
            trains every epoch on every row.

    Fitted attributes:
        tier_: the trained tier (its ``get_params()``, ``history``, ``checkpoint()``).
        coefs_, intercepts_: each layer's ``W (n_in, n_out)`` and ``b (n_out,)``.
        loss_curve_: the training loss of every epoch (with the L2 term, when there is one).
        validation_loss_curve_: the validation loss of every epoch; empty without ``patience``.
        best_epoch_: the epoch whose weights were kept by early stopping, else None.
        n_iter_: epochs trained. n_features_in_, feature_names_in_: as scikit-learn's.
    """

    _task: ClassVar[str]

    def __init__(
        self,
        tier: str = "numpy",
        *,
        hidden: int | tuple[int, ...] = ModelSpec.hidden,
        activation: str = ModelSpec.activation,
        optimizer: str = TrainSpec.optimizer,
        lr: float | None = None,
        batch_size: int = TrainSpec.batch_size,
        epochs: int = TrainSpec.epochs,
        l2: float = TrainSpec.l2,
        dropout: float = TrainSpec.dropout,
        patience: int | None = TrainSpec.patience,
        val_fraction: float = 0.15,
        seed: int = TrainSpec.seed,
        dtype: str = TrainSpec.dtype,
        device: str = TrainSpec.device,
    ) -> None:
        self.tier = tier
        self.hidden = hidden
        self.activation = activation
        self.optimizer = optimizer
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.l2 = l2
        self.dropout = dropout
        self.patience = patience
        self.val_fraction = val_fraction
        self.seed = seed
        self.dtype = dtype
        self.device = device

    # -- the specs and the tier --------------------------------------------------------------

    def _specs(self, n_features: int, n_outputs: int) -> tuple[ModelSpec, TrainSpec]:
        """The model and training specs of these parameters, for this data's widths."""
        hidden = (self.hidden,) if isinstance(self.hidden, (int, np.integer)) else self.hidden
        # A grid built with np.arange gives NumPy integers: the spec takes Python ones.
        hidden = tuple(int(h) if isinstance(h, np.integer) else h for h in hidden or ())
        model = ModelSpec(n_inputs=n_features, n_outputs=n_outputs, hidden=hidden,
                          activation=self.activation, task=self._task)  # fmt: skip
        # lr=None is the spec's own default: the optimizer's usual learning rate (DEFAULT_LR).
        train = TrainSpec(optimizer=self.optimizer, lr=self.lr,  # type: ignore[arg-type]
                          batch_size=self.batch_size, epochs=self.epochs, l2=self.l2,
                          dropout=self.dropout, patience=self.patience, seed=self.seed,
                          dtype=self.dtype, device=self.device)  # fmt: skip
        if train.patience is not None and not 0 < self.val_fraction < 1:
            raise SpecError(
                f"val_fraction must lie strictly between 0 and 1 to hold out the rows early "
                f"stopping watches; got {self.val_fraction!r}"
            )
        return model, train

    def _tier_class(self) -> type[Tier]:
        """The tier class ``tier`` names, refused when this process cannot run it."""
        entry = TIERS.get(self.tier)
        if entry is not None and entry.conflicts():
            raise BackendError(
                f"tier {self.tier!r} needs Keras on {entry.keras_backend}, and Keras in this "
                f"process runs on {process_keras_backend()} (it picks its backend once per "
                f"process): set KERAS_BACKEND={entry.keras_backend} before Keras is imported"
            )
        return get_tier(self.tier)

    def _new_tier(self, model: ModelSpec, train: TrainSpec) -> Tier:
        """The tier ``tier`` names, built from the shared initial weights of ``train.seed``."""
        return self._tier_class()(model, train, init_params(model, train.seed, train.dtype))

    def _train(self, x: np.ndarray, targets: np.ndarray, n_outputs: int) -> None:
        """Build a new tier from the shared initial weights and fit it on ``x`` and the encoded
        ``targets``, holding out validation rows when early stopping is on."""
        model, train = self._specs(x.shape[1], n_outputs)
        x_val, t_val = x[:0], targets[:0]
        if train.patience is not None:
            classes = None if model.is_regression else n_outputs
            x, targets, x_val, t_val = hold_out(x, targets, self.val_fraction, train.seed, classes)
        targets, t_val = self._scaled_targets(targets, t_val, reset=True)
        tier = self._new_tier(model, train)
        tier.fit(self._dataset(x, targets, x_val, t_val, train.dtype))
        self.tier_ = tier
        self._built_with = self.get_params()
        self._record_fit()

    def _continue(self, x: np.ndarray, targets: np.ndarray, n_outputs: int) -> None:
        """One more epoch of the fitted tier (a new one on the first call) on ``x``."""
        if self.patience is not None:
            raise SpecError(
                "partial_fit trains one epoch on the rows it is given, with none held out, so "
                "it cannot stop early: set patience=None to train incrementally"
            )
        first = not hasattr(self, "tier_")
        if first:
            tier = self._new_tier(*self._specs(x.shape[1], n_outputs))
        else:
            self._check_unchanged()
            tier = self.tier_
        targets, _ = self._scaled_targets(targets, targets[:0], reset=first)
        tier.train_spec = dataclasses.replace(tier.train_spec, epochs=tier.epoch + 1)
        tier.fit(self._dataset(x, targets, x[:0], targets[:0], tier.dtype))
        if first:
            self._built_with = self.get_params()
        self.tier_ = tier
        self._record_fit()

    def _check_unchanged(self) -> None:
        """Refuse to train on with parameters set since the network was built: they would be
        silently ignored (only ``fit`` builds a network from new parameters)."""
        changed = [name for name, value in self.get_params().items()
                   if not _same(value, self._built_with[name])]  # fmt: skip
        if changed:
            raise ValueError(
                f"partial_fit goes on training the network built by the first fit or partial_fit, "
                f"and {', '.join(changed)} changed since; call fit to train a new one"
            )

    def _scaled_targets(
        self, targets: np.ndarray, held: np.ndarray, reset: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """What the tier trains on: a classifier's labels as they are (see the regressor)."""
        return targets, held

    def _dataset(
        self, x: np.ndarray, t: np.ndarray, x_val: np.ndarray, t_val: np.ndarray, dtype: str
    ) -> Dataset:
        """The rows to train on, as the ``Dataset`` a tier's ``fit`` reads (no test split; the
        validation split is empty unless early stopping holds rows out)."""
        regression = self._task == "regression"  # numbers to cast; a classifier's are labels
        cast = (lambda a: a.astype(dtype)) if regression else (lambda a: a)
        n_features = x.shape[1]
        return Dataset(
            name="the estimator's rows", x_train=x.astype(dtype), y_train=cast(t),
            x_val=x_val.astype(dtype), y_val=cast(t_val), x_test=x[:0].astype(dtype),
            y_test=cast(t[:0]), class_names=(), feature_mean=np.zeros(n_features),
            feature_scale=np.ones(n_features), task=self._task,
        )  # fmt: skip

    def _record_fit(self) -> None:
        """The fitted attributes, read from the tier and its history."""
        records = self.tier_.history.records
        self.n_iter_ = self.tier_.epoch
        self.loss_curve_ = [record["loss"] for record in records]
        self.validation_loss_curve_ = [r["val_loss"] for r in records if r["val_loss"] is not None]
        self.best_epoch_ = self.tier_.history.best_epoch
        params = self.tier_.get_params()
        self.coefs_ = [w for w, _ in params]
        self.intercepts_ = [b for _, b in params]

    # -- prediction ------------------------------------------------------------------------

    def _outputs(self, X: Any) -> np.ndarray:
        """The tier's outputs on ``X``: probabilities, or a regressor's standardized numbers."""
        check_is_fitted(self, "tier_")
        x = validate_data(self, X, dtype=np.float64, reset=False)
        return self.tier_.predict_proba(x.astype(self.tier_.dtype))

    # -- pickling ----------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """The parameters and fitted attributes, with the tier as its checkpoint: the weights,
        optimizer state, counters and history that every tier saves and resumes from exactly
        (a Keras model, or a TensorFlow variable, is never pickled itself)."""
        state = dict(super().__getstate__())  # a copy: object's is the instance's own dict
        tier = state.pop("tier_", None)
        if tier is not None:
            state["_tier_checkpoint"] = tier.checkpoint()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        checkpoint = state.pop("_tier_checkpoint", None)
        super().__setstate__(state)
        if checkpoint is not None:
            tier = get_tier(checkpoint.tier)(checkpoint.model, checkpoint.train, checkpoint.params)
            tier.restore(checkpoint)
            self.tier_ = tier


class MLPTierClassifier(ClassifierMixin, MLPTierEstimator):
    """A tier's MLP classifier, with scikit-learn's estimator interface (``MLPTierEstimator``
    lists the parameters and the fitted attributes). ``classes_`` holds the labels in the order
    of ``predict_proba``'s columns."""

    _task = "classification"

    def fit(self, X: Any, y: Any) -> MLPTierClassifier:
        """Train a new network on ``X (n_samples, n_features)`` and the labels ``y``."""
        x, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        _at_least_two(self.classes_, "y")
        self._train(x, labels.astype(np.int64), len(self.classes_))
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> MLPTierClassifier:
        """One epoch on ``X`` and ``y``; the first call builds the network and needs
        ``classes``, every label there will be."""
        first = not hasattr(self, "tier_")
        x, y = validate_data(self, X, y, dtype=np.float64, reset=first)
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError("the first call of partial_fit needs classes=, every label")
            self.classes_ = np.unique(classes)
            _at_least_two(self.classes_, "classes=")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes={np.unique(classes).tolist()} differs from the first call's "
                f"{self.classes_.tolist()}"
            )
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(
                f"y holds labels {unknown[:5].tolist()} that are not in classes "
                f"{self.classes_[:10].tolist()}"
            )
        labels = np.searchsorted(self.classes_, y).astype(np.int64)
        self._continue(x, labels, len(self.classes_))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Each class's probability, ``(n_samples, n_classes)``, columns in ``classes_`` order."""
        return self._outputs(X)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row, as a label of ``classes_``."""
        probabilities = self._outputs(X)  # first: it checks that the estimator is fitted
        return self.classes_[probabilities.argmax(axis=1)]


class MLPTierRegressor(RegressorMixin, MLPTierEstimator):
    """A tier's MLP regressor (identity output, mean squared error), with scikit-learn's
    estimator interface. ``y`` is one target ``(n_samples,)`` or several
    ``(n_samples, n_targets)``; ``target_mean_`` and ``target_scale_`` standardize them."""

    _task = "regression"

    def fit(self, X: Any, y: Any) -> MLPTierRegressor:
        """Train a new network on ``X (n_samples, n_features)`` and the numbers ``y``."""
        x, y = validate_data(self, X, y, dtype=np.float64, multi_output=True, y_numeric=True)
        self._one_target = y.ndim == 1
        targets = y.reshape(len(y), -1).astype(np.float64)
        self._train(x, targets, targets.shape[1])
        return self

    def partial_fit(self, X: Any, y: Any) -> MLPTierRegressor:
        """One epoch on ``X`` and ``y``; the first call builds the network and takes the
        targets' standardization from its ``y``."""
        first = not hasattr(self, "tier_")
        x, y = validate_data(self, X, y, dtype=np.float64, multi_output=True, y_numeric=True,
                             reset=first)  # fmt: skip
        targets = y.reshape(len(y), -1).astype(np.float64)
        if first:
            self._one_target = y.ndim == 1
        elif (y.ndim == 1) != self._one_target:
            shape = "1-D (n_samples,)" if self._one_target else "2-D (n_samples, n_targets)"
            raise ValueError(f"y must be {shape}, as in the first call of partial_fit")
        elif targets.shape[1] != self.tier_.model_spec.n_outputs:
            raise ValueError(
                f"y has {targets.shape[1]} targets; the first call of partial_fit had "
                f"{self.tier_.model_spec.n_outputs}"
            )
        self._continue(x, targets, targets.shape[1])
        return self

    def _scaled_targets(
        self, targets: np.ndarray, held: np.ndarray, reset: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """The targets standardized with the statistics of the rows trained on (taken on the
        first fit, or the first partial_fit)."""
        if reset:
            self.target_mean_, self.target_scale_ = standardization(targets)
        scale = lambda t: (t - self.target_mean_) / self.target_scale_  # noqa: E731
        return scale(targets), scale(held)

    def predict(self, X: Any) -> np.ndarray:
        """The predicted numbers in the targets' units: ``(n_samples,)`` for one target fitted
        as a 1-D ``y``, else ``(n_samples, n_targets)``."""
        numbers = to_units(self._outputs(X), self.target_mean_, self.target_scale_)
        return numbers[:, 0] if self._one_target else numbers

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _at_least_two(classes: np.ndarray, source: str) -> None:
    if len(classes) < 2:
        raise ValueError(
            f"a classifier needs at least 2 classes; {source} holds 1 class "
            f"({classes.tolist()[0]!r})"
        )


def _same(a: Any, b: Any) -> bool:
    """Whether two parameter values are equal (a NumPy value compared as a whole)."""
    return bool(np.array_equal(a, b)) if isinstance(a, np.ndarray) else bool(a == b)
