"""The scikit-learn estimators: scikit-learn's own checks, its model-selection tools, and the
train scripts' weights, for every tier this process can run.

Keras fixes its backend once per process, so a Keras tier on another backend is checked in that
backend's pass of ``make test`` (``KERAS_BACKEND=jax pytest -k keras ...``); here its tests skip
with that reason.
"""

import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from mlp_tiers.cli import main as mlp_tiers_main
from mlp_tiers.estimators import MLPTierClassifier, MLPTierRegressor
from mlp_tiers.registry import TIERS, available_tiers, runnable_tiers
from shared.checkpoint import load_checkpoint
from shared.data.dataset import hold_out
from shared.errors import BackendError, SpecError, UnknownNameError
from shared.spec import DataSpec
from tests.helpers import blobs, skip_if_other_keras_backend

# The checks a tier cannot pass, by tier, each with its reason: scikit-learn reports them as
# expected failures (xfail), and fails the test if one of them starts passing. Every tier passes
# every check today, so the lists are empty; a tier that gains one names it here, never skips it.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {}


def expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(estimator.tier, {})


# The project's default model and training (hidden (128, 64), 20 epochs): a smaller network or fewer
# epochs misses the accuracy that scikit-learn's checks ask of a classifier on their toy data.
@parametrize_with_checks(
    [cls(tier) for tier in runnable_tiers() for cls in (MLPTierClassifier, MLPTierRegressor)],
    expected_failed_checks=expected_failed_checks,
)
def test_scikit_learn_estimator_checks(estimator, check):
    # scikit-learn itself skips one of these, check_array_api_input, saying that SCIPY_ARRAY_API
    # is not set; test_array_api_dispatch_with_numpy_inputs_changes_nothing runs it.
    check(estimator)


@pytest.fixture(params=available_tiers())
def tier(request):
    skip_if_other_keras_backend(request.param)
    return request.param


def test_array_api_dispatch_with_numpy_inputs_changes_nothing(tier):
    """scikit-learn's one array-API check for an estimator without array-API support, which it
    runs only where SciPy's array API mode was switched on before SciPy was imported
    (``SCIPY_ARRAY_API=1``): so in a process of its own."""
    code = (
        "from sklearn.utils.estimator_checks import check_array_api_input\n"
        "from mlp_tiers.estimators import MLPTierClassifier, MLPTierRegressor\n"
        "for cls in (MLPTierClassifier, MLPTierRegressor):\n"
        f"    check_array_api_input(cls.__name__, cls({tier!r}), array_namespace='numpy',\n"
        "                          expect_only_array_outputs=False)\n"
        "print('checked')\n"
    )
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stdout.strip() == "checked", out.stderr[-3000:]


@pytest.fixture(scope="module")
def blob_xy():
    x, y = blobs(n_per_class=30)
    return x * 10 + 5, np.array(["ant", "bee", "cat"])[y]  # unscaled features, string labels


@pytest.fixture(scope="module")
def regression_xy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4))
    y = np.column_stack([x @ [1.0, -2.0, 0.5, 0.0] + 30.0, 100 * np.tanh(x[:, 0])])
    return x, y + rng.normal(scale=0.1, size=y.shape)


def small(cls, tier, **params):
    """A quick estimator: five epochs of Adam on one hidden layer of 16, unless ``params`` say."""
    defaults = dict(hidden=(16,), epochs=5, batch_size=16, lr=0.01, optimizer="adam")
    return cls(tier, **{**defaults, **params})


def test_grid_search_over_lr_and_hidden_in_a_pipeline_with_a_scaler(tier, blob_xy):
    x, y = blob_xy
    pipeline = make_pipeline(StandardScaler(), small(MLPTierClassifier, tier))
    grid = {"mlptierclassifier__lr": [1e-4, 0.03], "mlptierclassifier__hidden": [(4,), (16,)]}
    search = GridSearchCV(pipeline, grid, cv=2).fit(x, y)

    assert len(search.cv_results_["params"]) == 4
    results = search.cv_results_
    by_lr = {lr: results["mean_test_score"][results["param_mlptierclassifier__lr"] == lr]
             for lr in (1e-4, 0.03)}  # fmt: skip
    # On these well-separated blobs lr=0.03 learns in 5 epochs; lr=1e-4 barely moves the weights.
    assert search.best_params_["mlptierclassifier__lr"] == 0.03
    assert by_lr[0.03].min() > 0.8 and by_lr[0.03].min() > by_lr[1e-4].max(), by_lr
    fitted = search.best_estimator_[-1]
    assert fitted.n_iter_ == 5 and len(fitted.loss_curve_) == 5
    assert fitted.coefs_[0].shape == (5, search.best_params_["mlptierclassifier__hidden"][0])
    assert set(search.predict(x)) <= {"ant", "bee", "cat"}


def test_cross_val_score_of_a_regressor(tier, regression_xy):
    x, y = regression_xy
    regressor = MLPTierRegressor(tier, hidden=(32,), epochs=40, batch_size=16, lr=0.01,
                                 optimizer="adam")  # fmt: skip
    scores = cross_val_score(regressor, x, y[:, 0], cv=3)
    assert scores.min() > 0.9, scores  # a linear target, learned to R² above 0.9


def test_clone_has_the_parameters_and_none_of_the_fit(tier, blob_xy):
    x, y = blob_xy
    fitted = small(MLPTierClassifier, tier, l2=1e-4).fit(x, y)
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert copy.get_params()["tier"] == tier and copy.get_params()["l2"] == 1e-4
    with pytest.raises(NotFittedError):
        copy.predict(x)
    copy.set_params(hidden=(4, 3))
    assert [w.shape for w in copy.fit(x, y).coefs_] == [(5, 4), (4, 3), (3, 3)]


def test_a_pickled_classifier_predicts_the_same_and_trains_on_the_same(tier, blob_xy):
    x, y = blob_xy
    fitted = small(MLPTierClassifier, tier, dropout=0.2).fit(x, y)
    thawed = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(thawed.predict_proba(x), fitted.predict_proba(x))
    np.testing.assert_array_equal(thawed.predict(x), fitted.predict(x))
    assert thawed.tier_.history.records == fitted.tier_.history.records  # via the checkpoint
    assert (thawed.tier_.epoch, thawed.tier_.step) == (fitted.tier_.epoch, fitted.tier_.step)
    assert list(thawed.classes_) == ["ant", "bee", "cat"]
    # The optimizer's state and the epoch count travel too: one more epoch on each is the same.
    thawed.partial_fit(x, y)
    fitted.partial_fit(x, y)
    assert_same_weights(thawed, fitted.tier_.get_params())


def test_a_pickled_regressor_predicts_the_same_numbers(tier, regression_xy):
    x, y = regression_xy
    fitted = small(MLPTierRegressor, tier).fit(x, y)
    thawed = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(thawed.predict(x), fitted.predict(x))
    assert thawed.predict(x).shape == (len(x), 2)
    np.testing.assert_array_equal(thawed.target_mean_, y.mean(axis=0))


def test_partial_fit_three_times_is_fit_for_three_epochs(tier, blob_xy):
    x, y = blob_xy
    fitted = small(MLPTierClassifier, tier, epochs=3, dropout=0.1).fit(x, y)
    stepped = small(MLPTierClassifier, tier, dropout=0.1)
    for _ in range(3):
        stepped.partial_fit(x, y, classes=["cat", "bee", "ant"])
    assert stepped.n_iter_ == 3
    assert stepped.loss_curve_ == fitted.loss_curve_
    assert_same_weights(stepped, fitted.tier_.get_params())


def test_early_stopping_holds_out_val_fraction_and_keeps_the_best_epoch(tier, blob_xy):
    x, y = blob_xy
    fitted = small(MLPTierClassifier, tier, epochs=30, patience=2, lr=0.3, val_fraction=0.2)
    fitted.fit(x, y)
    assert len(fitted.validation_loss_curve_) == fitted.n_iter_ == len(fitted.loss_curve_)
    best = int(np.argmin(fitted.validation_loss_curve_)) + 1
    assert fitted.best_epoch_ == best and fitted.n_iter_ == best + 2 < 30  # stopped early
    # 90 rows, 18 held out: 72 trained on, in 5 batches of 16 (or fewer) an epoch.
    assert fitted.tier_.step == 5 * fitted.n_iter_
    everything = small(MLPTierClassifier, tier).fit(x, y)
    assert everything.validation_loss_curve_ == [] and everything.tier_.step == 6 * 5


def run_train_script(tier, tmp_path, flags):
    """The weights ``mlp-tiers train --tier <tier>`` (the tier's train script) ends with."""
    assert mlp_tiers_main(["train", "--tier", tier, *flags, "--quiet", "--out", str(tmp_path)]) == 0
    (checkpoint,) = tmp_path.glob("*/checkpoint.npz")
    return load_checkpoint(checkpoint).params


def assert_same_weights(estimator, params):
    assert len(estimator.coefs_) == len(params)
    for W, b, (W_run, b_run) in zip(estimator.coefs_, estimator.intercepts_, params, strict=True):
        np.testing.assert_array_equal(W, W_run)
        np.testing.assert_array_equal(b, b_run)


FLAGS = dict(hidden=(16, 8), epochs=2, batch_size=32, optimizer="adam", l2=1e-4, dropout=0.1,
             seed=3)  # fmt: skip
FLAG_ARGS = ["--hidden", "16,8", "--epochs", "2", "--batch-size", "32", "--optimizer", "adam",
             "--l2", "1e-4", "--dropout", "0.1", "--seed", "3"]  # fmt: skip


def test_a_classifier_fits_the_train_scripts_weights(tier, tmp_path):
    from shared.data import load_dataset

    params = run_train_script(tier, tmp_path, ["--dataset", "digits", *FLAG_ARGS])
    digits = load_dataset(DataSpec(name="digits"))  # the script's split and standardization
    estimator = MLPTierClassifier(tier, **FLAGS).fit(digits.x_train, digits.y_train)
    assert_same_weights(estimator, params)


def test_a_regressor_fits_the_train_scripts_weights(tier, tmp_path):
    from shared.data import load_dataset

    params = run_train_script(
        tier, tmp_path, ["--dataset", "diabetes", "--task", "regression", *FLAG_ARGS]
    )
    diabetes = load_dataset(DataSpec(name="diabetes"), "regression")
    # The script's training targets in their own units: the dataset's two hold-outs replayed
    # on the raw rows, with its default fractions and seeds (the estimator standardizes them).
    spec, raw = DataSpec(name="diabetes"), load_diabetes(scaled=False)
    x, y, _, _ = hold_out(raw.data, raw.target, spec.test_fraction, spec.split_seed, None)
    _, y_train, _, _ = hold_out(x, y, spec.val_fraction, spec.split_seed + 1, None)
    np.testing.assert_allclose(
        (y_train - y_train.mean()) / y_train.std(), diabetes.y_train[:, 0], rtol=1e-12
    )  # the same rows, in the same order
    estimator = MLPTierRegressor(tier, **FLAGS).fit(diabetes.x_train, y_train)
    assert_same_weights(estimator, params)


def test_importing_the_estimators_loads_no_framework():
    code = (
        "import sys, mlp_tiers.estimators\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'jax', 'torch', 'cupy') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_an_unknown_tier_is_refused_by_name(blob_xy):
    with pytest.raises(UnknownNameError, match="'tensorflow-nn'") as raised:
        MLPTierClassifier("tensorflow-nn").fit(*blob_xy)
    assert "numpy" in str(raised.value)  # the message lists the tiers there are


def test_a_tier_on_another_keras_backend_says_how_to_run_it(blob_xy):
    other = [name for name in available_tiers() if TIERS[name].conflicts()]
    if not other:
        pytest.skip("every installed Keras tier runs on this process's backend")
    with pytest.raises(BackendError, match=f"KERAS_BACKEND={TIERS[other[0]].keras_backend}"):
        MLPTierClassifier(other[0], epochs=1).fit(*blob_xy)


def test_parameters_that_cannot_work_are_refused(blob_xy):
    x, y = blob_xy
    with pytest.raises(SpecError, match="val_fraction must lie strictly between 0 and 1"):
        MLPTierClassifier(patience=3, val_fraction=0.0).fit(x, y)
    with pytest.raises(SpecError, match="set patience=None"):
        MLPTierClassifier(patience=3).partial_fit(x, y, classes=["ant", "bee", "cat"])
    with pytest.raises(ValueError, match="needs classes="):
        MLPTierClassifier().partial_fit(x, y)
    with pytest.raises(ValueError, match=r"labels \['dog'\]"):
        MLPTierClassifier(epochs=1).fit(x, y).partial_fit(x[:2], ["ant", "dog"])
    with pytest.raises(ValueError, match="at least 2 classes"):
        MLPTierClassifier().fit(x, np.full(len(x), "ant"))
    with pytest.raises(SpecError, match="optimizer"):
        MLPTierClassifier(optimizer="adagrad").fit(x, y)
    with pytest.raises(ValueError, match=r"classes= holds 1 class \('ant'\)"):
        MLPTierClassifier().partial_fit(x, y, classes=["ant"])


def test_partial_fit_refuses_parameters_changed_since_the_network_was_built(blob_xy):
    x, y = blob_xy
    stepped = MLPTierClassifier(hidden=(4,), epochs=1).partial_fit(
        x, y, classes=["ant", "bee", "cat"]
    )
    stepped.set_params(hidden=(7,), lr=0.5)
    with pytest.raises(ValueError, match="hidden, lr changed since; call fit"):
        stepped.partial_fit(x, y)
    assert stepped.fit(x, y).coefs_[0].shape == (5, 7)  # fit builds the new network
    stepped.partial_fit(x, y)  # and partial_fit goes on with it
    assert stepped.n_iter_ == 2


def test_a_regressor_keeps_the_shape_of_y_it_was_first_given(regression_xy):
    x, y = regression_xy
    one = MLPTierRegressor(epochs=1).fit(x, y[:, 0])
    assert one.predict(x).shape == (len(x),)
    with pytest.raises(ValueError, match=r"y must be 1-D \(n_samples,\)"):
        one.partial_fit(x, y[:, :1])
    assert MLPTierRegressor(epochs=1).fit(x, y[:, :1]).predict(x).shape == (len(x), 1)


def test_numpy_integers_are_layer_widths_as_grids_make_them(blob_xy):
    for hidden in (np.int64(6), (np.int64(6), np.int32(3)), list(np.arange(4, 6))):
        fitted = MLPTierClassifier(hidden=hidden, epochs=1).fit(*blob_xy)
        widths = [w.shape[1] for w in fitted.coefs_[:-1]]
        assert widths == np.atleast_1d(hidden).tolist()


def test_the_sklearn_page_example_runs_as_written(monkeypatch, capsys):
    import mlp_tiers.registry

    page = Path(__file__).resolve().parents[2] / "docs" / "sklearn.md"
    (example, *_) = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL)
    monkeypatch.setattr(mlp_tiers.registry, "runnable_tiers", lambda: ["numpy"])
    exec(compile(example, str(page), "exec"), {})
    (row,) = capsys.readouterr().out.splitlines()
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[0] == "numpy"
    accuracy, r2 = (float(cell.split(" ± ")[0]) for cell in cells[1:3])
    assert accuracy > 0.9 and r2 > 0.3  # digits is easy; diabetes, noisy
