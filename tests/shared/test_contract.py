"""One contract test run against every installed tier (``shared.contract.Tier``)."""

import numpy as np
import pytest

from mlp_tiers.registry import available_tiers, get_tier
from shared.checkpoint import load_checkpoint, save_checkpoint
from shared.contract import Tier
from shared.errors import DataError
from shared.init import init_params
from shared.spec import TrainSpec
from tests.helpers import skip_if_other_keras_backend


@pytest.fixture(params=available_tiers())
def tier_cls(request):
    skip_if_other_keras_backend(request.param)
    return get_tier(request.param)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_contract(tier_cls, blob_data, small_model, dtype, tmp_path):
    train = TrainSpec(optimizer="momentum", lr=0.05, batch_size=16, epochs=2, dtype=dtype)
    params = init_params(small_model, 0, dtype)
    tier = tier_cls(small_model, train, params)
    assert isinstance(tier, Tier)
    data = blob_data.astype(dtype)

    for (W, b), (W0, b0) in zip(tier.get_params(), params, strict=True):
        np.testing.assert_array_equal(W, W0)
        assert W.dtype == np.dtype(dtype) and b.shape == b0.shape

    x, y = data.x_train[:16], data.y_train[:16]
    loss = tier.train_on_batch(x, y)
    assert isinstance(loss, float) and np.isfinite(loss)
    assert not np.array_equal(tier.get_params()[0][0], params[0][0])

    p = tier.predict_proba(data.x_test)
    assert isinstance(p, np.ndarray) and p.shape == (len(data.y_test), 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)

    history = tier.fit(data)
    assert [r["epoch"] for r in history.records] == [1, 2]
    assert set(history.records[0]) == {
        "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"
    }  # fmt: skip
    n = len(data.y_train)
    for record in history.records:  # a share of the epoch's samples: k / n for a whole k
        assert 0 <= record["accuracy"] <= 1
        assert record["accuracy"] * n == pytest.approx(round(record["accuracy"] * n), abs=1e-3)

    path = save_checkpoint(tmp_path / "c.npz", tier.checkpoint())
    restored = tier_cls(small_model, train, params)
    restored.restore(load_checkpoint(path))
    np.testing.assert_array_equal(
        restored.predict_proba(data.x_test), tier.predict_proba(data.x_test)
    )


def accuracy_of(params, x, y) -> float:
    """The share of ``x`` that a tanh MLP with ``params`` classifies as ``y``, written out here."""
    a = x
    for W, b in params[:-1]:
        a = np.tanh(a @ W + b)
    W, b = params[-1]
    return float(np.mean((a @ W + b).argmax(axis=1) == y))


def test_training_accuracy_counts_each_sample_before_its_update(tier_cls, blob_data, small_model):
    """With the whole training set as one batch, epoch 1's training accuracy is that of the
    initial weights (Keras's rule: a sample is counted by the step that trains on it, before
    that step's update), not that of the weights the step produced."""
    x, y = blob_data.x_train, blob_data.y_train
    train = TrainSpec(optimizer="sgd", lr=2.0, batch_size=len(y), epochs=1, dtype="float64")
    params = init_params(small_model, 0, "float64")
    tier = tier_cls(small_model, train, params)
    tier.fit(blob_data)
    before, after = accuracy_of(params, x, y), accuracy_of(tier.get_params(), x, y)
    assert before != after  # the test tells the two rules apart
    # Keras on PyTorch keeps the metric's mean in float32: the same count, rounded.
    assert tier.history.records[0]["accuracy"] == pytest.approx(before, rel=1e-7)


def test_contract_bad_batches(tier_cls, small_model):
    tier = tier_cls(small_model, TrainSpec(dtype="float32"), init_params(small_model, 0, "float32"))
    x = np.zeros((4, 5), dtype=np.float32)
    with pytest.raises(DataError, match="input has dtype float64 but the model is float32"):
        tier.train_on_batch(x.astype(np.float64), np.zeros(4, dtype=np.int64))
    with pytest.raises(DataError, match=r"needs \(batch, 5\)"):
        tier.train_on_batch(np.zeros((4, 6), dtype=np.float32), np.zeros(4, dtype=np.int64))
    with pytest.raises(DataError, match="labels must lie in 0 .. 2; got values from 0 to 3"):
        tier.train_on_batch(x, np.array([0, 1, 2, 3]))
    with pytest.raises(DataError, match="needs at least one sample"):
        tier.train_on_batch(x[:0], np.zeros(0, dtype=np.int64))
    with pytest.raises(DataError, match="do not match 4 inputs"):
        tier.train_on_batch(x, np.array([0, 1]))
