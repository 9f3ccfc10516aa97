"""What every installed tier must do alike: learn, reproduce, resume, stop early, keep dtypes.

Each test runs once per installed tier (``mlp_tiers.registry.available_tiers``).
"""

import contextlib
import dataclasses
import itertools
import os
import signal

import numpy as np
import pytest
from scipy.special import softmax as scipy_softmax

from mlp_tiers.parity import expected_tolerance
from mlp_tiers.registry import available_tiers, get_tier
from shared.callbacks import Callback
from shared.checkpoint import load_checkpoint, save_checkpoint
from shared.data import load_dataset
from shared.errors import CheckpointError, Interrupted
from shared.init import init_params
from shared.signals import stop_on_signals
from shared.spec import DataSpec, ModelSpec, TrainSpec
from tests.helpers import skip_if_other_keras_backend

OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam", "rmsprop"]


@pytest.fixture(params=available_tiers())
def tier_name(request):
    skip_if_other_keras_backend(request.param)
    return request.param


def make_tier(name, model, train, seed=0):
    return get_tier(name)(model, train, init_params(model, seed, train.dtype))


def assert_same_params(a, b):
    for (Wa, ba), (Wb, bb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataSpec())


@pytest.mark.slow
def test_digits_reaches_95_percent_in_20_epochs(tier_name, digits):
    model = ModelSpec().resolve(digits.n_features, digits.n_classes)
    tier = make_tier(tier_name, model, TrainSpec(epochs=20))
    history = tier.fit(digits.astype("float32"))
    assert len(history) == 20
    p = tier.predict_proba(digits.x_test.astype("float32"))
    assert np.mean(p.argmax(axis=1) == digits.y_test) >= 0.95
    assert history.records[-1]["loss"] < history.records[0]["loss"] / 5


@pytest.mark.slow
def test_same_seed_gives_bit_identical_weights(tier_name, blob_data, small_model):
    train = TrainSpec(optimizer="adam", epochs=3, batch_size=16, dropout=0.2, seed=5)
    a, b = make_tier(tier_name, small_model, train), make_tier(tier_name, small_model, train)
    a.fit(blob_data.astype("float32"))
    b.fit(blob_data.astype("float32"))
    assert_same_params(a.get_params(), b.get_params())
    c = make_tier(tier_name, small_model, dataclasses.replace(train, seed=6))
    c.fit(blob_data.astype("float32"))
    assert not np.array_equal(a.get_params()[0][0], c.get_params()[0][0])


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_resume_from_a_checkpoint_is_bit_identical(
    tier_name, tmp_path, blob_data, small_model, optimizer
):
    train = TrainSpec(
        optimizer=optimizer, epochs=6, batch_size=16, dropout=0.1, patience=10, l2=1e-3
    )
    data = blob_data.astype("float32")
    straight = make_tier(tier_name, small_model, train)
    straight.fit(data)

    first = make_tier(tier_name, small_model, dataclasses.replace(train, epochs=3))
    first.fit(data)
    path = save_checkpoint(tmp_path / "mid.npz", first.checkpoint())
    checkpoint = load_checkpoint(path)
    resumed = get_tier(tier_name)(small_model, train, checkpoint.params)
    resumed.restore(checkpoint)
    resumed.fit(data)

    assert resumed.step == straight.step
    assert_same_params(resumed.get_params(), straight.get_params())
    assert resumed.history.records[3:] == [
        {**r, "seconds": resumed.history.records[3 + i]["seconds"]}
        for i, r in enumerate(straight.history.records[3:])
    ]


def test_checkpoints_cross_from_numpy_and_back(tier_name, tmp_path, blob_data):
    """A NumPy checkpoint loads into every tier with the same predictions (rtol 1e-12 in
    float64, or the tier's quirk row), and a step later the NumPy tier takes over again."""
    model = ModelSpec(5, 3, (8, 6), "relu")
    train = TrainSpec(optimizer="adam", dtype="float64", epochs=2, batch_size=16)
    params = init_params(model, 0, "float64")
    numpy_tier = get_tier("numpy")(model, train, params)
    numpy_tier.fit(blob_data)
    path = save_checkpoint(tmp_path / "numpy.npz", numpy_tier.checkpoint())

    tier = get_tier(tier_name)(model, train, params)
    tier.restore(load_checkpoint(path))
    x = blob_data.x_test
    tol = expected_tolerance(tier_name, "forward", "float64")
    assert tol.rtol <= 1e-12 or tier_name == "keras-torch"  # torch: Keras's float64 is float32
    np.testing.assert_allclose(
        tier.predict_proba(x), numpy_tier.predict_proba(x), rtol=tol.rtol, atol=tol.atol
    )

    tier.train_on_batch(blob_data.x_train[:16], blob_data.y_train[:16])
    back = save_checkpoint(tmp_path / "back.npz", tier.checkpoint())
    again = get_tier("numpy")(model, train, params)
    again.restore(load_checkpoint(back))
    assert again.step == tier.step == numpy_tier.step + 1
    np.testing.assert_allclose(
        again.predict_proba(x), tier.predict_proba(x), rtol=tol.rtol, atol=tol.atol
    )


def test_restore_refuses_a_mismatched_optimizer(tier_name, small_model):
    adam = make_tier(tier_name, small_model, TrainSpec(optimizer="adam"))
    sgd = make_tier(tier_name, small_model, TrainSpec(optimizer="sgd"))
    with pytest.raises(
        CheckpointError, match="holds optimizer state \\['m', 'v'\\], but optimizer 'sgd'"
    ):
        sgd.restore(adam.checkpoint())


class Snapshots(Callback):
    def __init__(self):
        self.params = {}

    def on_epoch_end(self, tier, record):
        self.params[record["epoch"]] = tier.get_params()


@pytest.mark.slow
def test_early_stopping_restores_the_best_epoch(tier_name, blob_data, small_model):
    # A large learning rate makes the validation loss bounce, so the last epoch is not the best.
    train = TrainSpec(optimizer="momentum", lr=1.0, epochs=40, batch_size=8, patience=3)
    tier = make_tier(tier_name, small_model, train)
    snapshots = Snapshots()
    history = tier.fit(blob_data.astype("float32"), [snapshots])
    val = history.column("val_loss")
    best = history.best_epoch
    assert val[best - 1] == min(val)
    assert_same_params(tier.get_params(), snapshots.params[best])
    assert history.stopped_epoch == best + 3 and len(history) == best + 3 < 40


def test_patience_that_never_runs_out_stops_nothing(tier_name, blob_data, small_model):
    train = TrainSpec(optimizer="adam", lr=0.01, epochs=4, batch_size=16, patience=10)
    history = make_tier(tier_name, small_model, train).fit(blob_data.astype("float32"))
    assert len(history) == 4 and history.stopped_epoch is None
    assert history.best_epoch == int(np.argmin(history.column("val_loss"))) + 1


def test_softmax_regression_is_softmax_of_an_affine_map(tier_name, blob_data):
    model = ModelSpec(n_inputs=5, n_outputs=3, hidden=())
    params = init_params(model, 0, "float64")
    tier = get_tier(tier_name)(model, TrainSpec(dtype="float64"), params)
    ((W, b),) = params
    x = blob_data.x_test
    tol = expected_tolerance(tier_name, "forward", "float64")
    np.testing.assert_allclose(
        tier.predict_proba(x), scipy_softmax(x @ W + b, axis=1), rtol=tol.rtol, atol=tol.atol
    )


@pytest.mark.slow
@pytest.mark.parametrize(("output", "hidden"), [("identity", ()), ("softmax", (8,))])
def test_mse_models_learn(tier_name, blob_data, output, hidden):
    model = ModelSpec(n_inputs=5, n_outputs=3, hidden=hidden, output=output, loss="mse")
    tier = make_tier(tier_name, model, TrainSpec(optimizer="sgd", lr=0.1, epochs=15, batch_size=8))
    history = tier.fit(blob_data.astype("float32"))
    assert history.records[-1]["val_accuracy"] >= 0.9


@pytest.mark.slow
def test_l2_shrinks_the_weights(tier_name, blob_data, small_model):
    norms = []
    for l2 in (0.0, 0.05):
        train = TrainSpec(optimizer="sgd", lr=0.1, epochs=10, batch_size=8, l2=l2)
        tier = make_tier(tier_name, small_model, train)
        tier.fit(blob_data.astype("float32"))
        norms.append(sum(float(np.sum(W**2)) for W, _ in tier.get_params()))
    assert norms[1] < 0.8 * norms[0]


def test_a_step_on_one_batch_lowers_its_loss(tier_name, blob_data, small_model):
    tier = make_tier(tier_name, small_model, TrainSpec(optimizer="sgd", lr=0.1, dtype="float64"))
    x, y = blob_data.x_train[:32], blob_data.y_train[:32]
    losses = [tier.train_on_batch(x, y) for _ in range(5)]
    assert all(b < a for a, b in itertools.pairwise(losses))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_dtype_holds_all_the_way(tier_name, blob_data, small_model, dtype):
    tier = make_tier(tier_name, small_model, TrainSpec(epochs=1, dtype=dtype, optimizer="adam"))
    tier.fit(blob_data.astype(dtype))
    arrays = [a for pair in tier.get_params() for a in pair]
    arrays += [a for pairs in tier.checkpoint().slots.values() for pair in pairs for a in pair]
    assert {a.dtype for a in arrays} == {np.dtype(dtype)}
    assert tier.predict_proba(blob_data.x_test.astype(dtype)).dtype == np.dtype(dtype)


def test_the_tier_does_not_alter_the_initial_weights(tier_name, blob_data, small_model):
    params = init_params(small_model, 0, "float64")
    before = [(W.copy(), b.copy()) for W, b in params]
    get_tier(tier_name)(small_model, TrainSpec(dtype="float64", epochs=1), params).fit(blob_data)
    assert_same_params(params, before)


def test_dropout_changes_training_but_not_prediction(tier_name, blob_data, small_model):
    """With dropout on, a step differs from one without; predictions use every unit, unscaled."""
    x, y = blob_data.x_train[:32], blob_data.y_train[:32]
    params = init_params(small_model, 0, "float64")
    plain = get_tier(tier_name)(small_model, TrainSpec(dtype="float64", optimizer="sgd"), params)
    dropped = get_tier(tier_name)(
        small_model, TrainSpec(dtype="float64", optimizer="sgd", dropout=0.5), params
    )
    np.testing.assert_array_equal(plain.predict_proba(x), dropped.predict_proba(x))
    assert plain.train_on_batch(x, y) != dropped.train_on_batch(x, y)


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_dropout_drops_its_share_and_scales_the_kept_units(tier_name, rate):
    """The dropout mask read off one SGD step, through the tier's public interface.

    One hidden layer of H identity units with W1 = I, b1 = 0, and W2 = 0: a sample of ones gives
    hidden activations a = 1, dropout turns them into the mask m, the logits are 0, and with MSE
    over two outputs and the target class 0, dL/dW2[i, 0] = -m_i. After one step with lr = 1,
    W2[:, 0] = m: the mask itself, H draws of it.
    """
    H = 4000
    model = ModelSpec(H, 2, (H,), "identity", "identity", "mse")
    params = [(np.eye(H), np.zeros(H)), (np.zeros((H, 2)), np.zeros(2))]
    train = TrainSpec(optimizer="sgd", lr=1.0, dtype="float64", dropout=rate, seed=3)
    tier = get_tier(tier_name)(model, train, params)
    x = np.ones((1, H))
    np.testing.assert_array_equal(tier.predict_proba(x), np.zeros((1, 2)))  # no dropout here
    tier.train_on_batch(x, np.array([0]))
    mask = tier.get_params()[1][0][:, 0]
    kept = mask != 0
    # The share kept is a binomial proportion: 5 standard errors either way.
    band = 5 * np.sqrt(rate * (1 - rate) / H)
    assert abs(kept.mean() - (1 - rate)) < band, kept.mean()
    # Kept units are scaled by 1 / (1 - rate), to float32 rounding where Keras demotes float64.
    np.testing.assert_allclose(mask[kept], 1 / (1 - rate), rtol=1e-6)
    np.testing.assert_array_equal(tier.get_params()[1][0][:, 1], 0.0)  # the other class: no step


def test_a_diverging_run_stops_at_the_first_non_finite_loss(tier_name, blob_data):
    from shared.errors import DivergedError

    model = ModelSpec(n_inputs=5, n_outputs=3, hidden=(8, 6), activation="relu")
    train = TrainSpec(optimizer="sgd", lr=1e6, epochs=5, batch_size=16)
    tier = make_tier(tier_name, model, train)
    with np.errstate(all="ignore"), pytest.raises(DivergedError) as error:
        tier.fit(blob_data.astype("float32"))
    message = str(error.value)
    assert message.startswith(f"{tier_name}: the training loss became nan at epoch 1, step ")
    assert "--lr is 1e+06" in message
    assert tier.history.records == []  # no epoch record holds NaN


def test_a_ctrl_c_that_a_library_caught_still_stops_fit(tier_name, blob_data, small_model):
    """A Ctrl-C's exception can be caught on its way to the command line: a C extension
    interrupted while it loads turns it into an error that its importer catches. The signal
    was recorded all the same, so ``fit`` stops before its first step instead of training on."""
    tier = make_tier(tier_name, small_model, TrainSpec(epochs=3, batch_size=16))
    with stop_on_signals(), pytest.raises(Interrupted) as caught:
        with contextlib.suppress(KeyboardInterrupt):  # what the library did with it
            os.kill(os.getpid(), signal.SIGINT)
        tier.fit(blob_data.astype("float32"))
    assert caught.value.signal_number == signal.SIGINT
    assert tier.epoch == 0 and len(tier.history) == 0
