"""The peers bench measures the tiers against. The ones that start from the tiers' weights and
batches must learn what the NumPy tier learns; scikit-learn must be configured like the tiers."""

import dataclasses

import numpy as np
import pytest

from mlp_tiers.runner import build_tier, prepare_run
from peers import PEERS, get_peer
from shared.errors import UnknownNameError
from shared.packages import installed
from shared.spec import DataSpec, ModelSpec, RunConfig, TrainSpec


def small_run(optimizer="sgd", dtype="float64", **train):
    config = RunConfig(
        DataSpec(name="digits"),
        ModelSpec(hidden=(16, 8)),
        TrainSpec(epochs=2, batch_size=50, optimizer=optimizer, dtype=dtype, **train),
    )
    return prepare_run(config)


def numpy_tier(run):
    """The NumPy tier's epoch losses and test accuracy on ``run``."""
    tier = build_tier("numpy", run)
    losses = tier.fit(run.data).column("loss")
    accuracy = (tier.predict_proba(run.data.x_test).argmax(axis=1) == run.data.y_test).mean()
    return losses, accuracy


def test_every_peer_names_what_it_needs():
    assert set(PEERS) == {"gemm-floor", "sklearn", "torch", "torch:compile", "jax-scan"}
    assert PEERS["torch:compile"].options == (("compile", True),)
    with pytest.raises(UnknownNameError, match="unknown peer 'mxnet'; peers are gemm-floor"):
        get_peer("mxnet")


def test_the_floor_times_every_epoch_and_learns_nothing():
    result = get_peer("gemm-floor").load()(small_run(dtype="float32"), 3, {})
    assert len(result.epoch_seconds) == 3 and min(result.epoch_seconds) > 0
    assert result.test_accuracy is None and result.final_loss is None


@pytest.mark.slow  # compiles an epoch per optimizer
@pytest.mark.skipif(not installed("jax"), reason="jax-scan needs jax, which is not installed")
@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adam", "rmsprop"])
def test_jax_scan_learns_what_the_numpy_tier_learns(optimizer):
    """Same weights, batches and math in float64: the epochs' losses agree to rounding."""
    run = small_run(optimizer)
    result = get_peer("jax-scan").load()(run, 2, {})
    losses, accuracy = numpy_tier(run)
    assert result.final_loss == pytest.approx(losses[-1], rel=1e-10)
    assert result.test_accuracy == accuracy


@pytest.mark.slow  # compiles an epoch
@pytest.mark.skipif(not installed("jax"), reason="jax-scan needs jax, which is not installed")
def test_jax_scan_compiles_its_epoch_once(caplog):
    """The carry's step counter once started off the device; the second epoch's call then
    compiled the epoch again, and bench timed that compile as an epoch (0.48 s against 0.002 s on
    digits)."""
    import logging

    import jax

    run = small_run("adam", dtype="float32")  # 1221 rows: 24 batches of 50 and 21 left
    jax.config.update("jax_log_compiles", True)
    try:
        with caplog.at_level(logging.WARNING, logger="jax"):
            get_peer("jax-scan").load()(run, 4, {})
    finally:
        jax.config.update("jax_log_compiles", False)
    compiles = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Compiling")]
    assert sum("jit(epoch_of_full_batches)" in m for m in compiles) == 1, compiles
    assert sum("jit(step)" in m for m in compiles) == 1, compiles  # the short last batch


@pytest.mark.slow  # torch.compile takes seconds
@pytest.mark.skipif(not installed("torch"), reason="the torch peer needs torch, not installed")
@pytest.mark.parametrize("options", [{}, {"compile": True}], ids=["eager", "compile"])
def test_torch_learns_what_the_numpy_tier_learns_with_plain_sgd(options):
    """PyTorch's plain SGD is the tiers' rule: in float64 the losses agree to rounding."""
    run = small_run("sgd", l2=1e-3)
    result = get_peer("torch").load()(run, 2, options)
    losses, accuracy = numpy_tier(run)
    assert result.final_loss == pytest.approx(losses[-1], rel=1e-10)
    assert result.test_accuracy == accuracy


def test_sklearn_is_configured_like_the_tiers(monkeypatch):
    import sklearn.neural_network

    seen = {}
    original = sklearn.neural_network.MLPClassifier

    def spy(**kwargs):
        seen.update(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(sklearn.neural_network, "MLPClassifier", spy)
    run = small_run("nesterov", dtype="float32", l2=1e-3, momentum=0.8)
    result = get_peer("sklearn").load()(run, 2, {})
    assert seen["hidden_layer_sizes"] == (16, 8) and seen["batch_size"] == 50
    assert seen["solver"] == "sgd" and seen["momentum"] == 0.8 and seen["nesterovs_momentum"]
    assert seen["learning_rate_init"] == run.train.lr and not seen["early_stopping"]
    assert seen["alpha"] == pytest.approx(2 * 1e-3 * 50)  # l2 ||W||^2 = alpha / (2 n) ||W||^2
    assert result.notes == []  # float32 kept
    assert np.isfinite(result.final_loss) and result.test_accuracy > 0.3


def test_sklearn_refuses_an_optimizer_it_does_not_have():
    with pytest.raises(ValueError, match="MLPClassifier has no 'rmsprop' optimizer"):
        get_peer("sklearn").load()(small_run("rmsprop"), 1, {})


def regression_run(optimizer="sgd", dtype="float64"):
    config = RunConfig(
        DataSpec(name="diabetes"),
        ModelSpec(hidden=(16, 8), task="regression"),
        TrainSpec(epochs=2, batch_size=50, optimizer=optimizer, dtype=dtype),
    )
    return prepare_run(config)


def numpy_regressor(run):
    """The NumPy tier's epoch losses and test R² (by scikit-learn) on ``run``."""
    from sklearn.metrics import r2_score

    tier = build_tier("numpy", run)
    losses = tier.fit(run.data).column("loss")
    return losses, r2_score(run.data.y_test, tier.predict_proba(run.data.x_test))


@pytest.mark.slow  # compiles an epoch
@pytest.mark.skipif(not installed("jax"), reason="jax-scan needs jax, which is not installed")
def test_jax_scan_learns_the_regressor_the_numpy_tier_learns():
    run = regression_run("adam")
    result = get_peer("jax-scan").load()(run, 2, {})
    losses, r2 = numpy_regressor(run)
    assert result.final_loss == pytest.approx(losses[-1], rel=1e-10)
    assert result.test_r2 == pytest.approx(r2, rel=1e-9) and result.test_accuracy is None


@pytest.mark.skipif(not installed("torch"), reason="the torch peer needs torch, not installed")
def test_torch_learns_the_regressor_the_numpy_tier_learns():
    run = regression_run("sgd")
    result = get_peer("torch").load()(run, 2, {})
    losses, r2 = numpy_regressor(run)
    assert result.final_loss == pytest.approx(losses[-1], rel=1e-10)
    assert result.test_r2 == pytest.approx(r2, rel=1e-9)


def test_sklearn_fits_a_regression_with_mlpregressor(monkeypatch):
    import sklearn.neural_network

    built = []
    original = sklearn.neural_network.MLPRegressor

    def spy(**kwargs):
        built.append(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(sklearn.neural_network, "MLPRegressor", spy)
    result = get_peer("sklearn").load()(regression_run("adam", "float32"), 30, {})
    assert built and built[0]["hidden_layer_sizes"] == (16, 8)
    # Its loss is half the squared error: the same objective is alpha = l2 n (not 2 l2 n), and
    # plain SGD's step is doubled to move the weights as the tiers' step does.
    run = regression_run("sgd")
    run.train = dataclasses.replace(run.train, l2=1e-3)
    get_peer("sklearn").load()(run, 1, {})
    assert built[-1]["alpha"] == pytest.approx(1e-3 * 50)
    assert built[-1]["learning_rate_init"] == pytest.approx(2 * run.train.lr)
    # R² is scored on the test split, as the tiers' is: above what the mean predicts (0)
    assert result.test_accuracy is None and 0.2 < result.test_r2 <= 1.0
