"""The Keras tier beyond parity: checkpoints across tiers, the .keras file, backends and dtypes,
the train script and compare."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from adapters.keras_setup import import_keras
from adapters.tensorflow_setup import require
from mlp_tiers.parity import assert_params_close, expected_tolerance
from mlp_tiers.registry import TIERS, available_tiers, get_tier
from shared.errors import BackendError, UnknownNameError
from shared.init import init_params
from shared.packages import installed
from shared.spec import ModelSpec, TrainSpec
from tests.helpers import blobs


def test_a_keras_file_round_trips(tmp_path, blob_data, keras_tier):
    import keras

    model = ModelSpec(5, 3, (8,), "tanh", "softmax", "mse")
    train = TrainSpec(optimizer="rmsprop", dtype="float32", epochs=2, l2=1e-3, dropout=0.2)
    tier = get_tier(keras_tier)(model, train, init_params(model, 0, "float32"))
    tier.fit(blob_data.astype("float32"))
    path = tier.save_native(tmp_path / "model.keras")
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]  # no temporary left

    with keras.device(tier.device):  # where the tier computed (a GPU would round otherwise)
        loaded = keras.saving.load_model(path)
        x = blob_data.x_test.astype("float32")
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), tier.predict_proba(x))
    for a, b in zip(loaded.get_weights(), tier.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(np.asarray(loaded.optimizer.iterations)) == tier.step
    with pytest.raises(ValueError, match="must end in .keras"):
        tier.save_native(tmp_path / "model.h5")


def test_float64_after_a_float32_model_is_float64(blob_data, keras_tier):
    """On JAX this is the case where jax_enable_x64 comes on after a float32 model exists."""
    model = ModelSpec(5, 3, (8,), "relu")
    first = get_tier(keras_tier)(
        model, TrainSpec(dtype="float32"), init_params(model, 0, "float32")
    )
    first.train_on_batch(blob_data.x_train[:8].astype("float32"), blob_data.y_train[:8])

    train = TrainSpec(optimizer="sgd", dtype="float64", lr=0.125)
    params = init_params(model, 0, "float64")
    second = get_tier(keras_tier)(model, train, params)
    assert {a.dtype for pair in second.get_params() for a in pair} == {np.dtype("float64")}
    x, y = blob_data.x_train[:8], blob_data.y_train[:8]
    reference = get_tier("numpy")(model, train, params)
    reference.train_on_batch(x, y)
    second.train_on_batch(x, y)
    tol = expected_tolerance(keras_tier, "step", "float64")
    assert_params_close(second.get_params(), reference.get_params(), tol, keras_tier)
    assert second.predict_proba(x).dtype == np.float64
    assert first.predict_proba(x.astype("float32")).dtype == np.float32


def test_another_backend_in_this_process_is_a_clear_error(backend, keras_tier):
    import_keras(backend)
    other = next(b for b in ("tensorflow", "jax", "torch") if b != backend)
    with pytest.raises(BackendError, match=f"Keras already runs on the {backend} backend"):
        import_keras(other)
    with pytest.raises(UnknownNameError, match="unknown Keras backend 'mxnet'; the backends are"):
        import_keras("mxnet")
    with pytest.raises(UnknownNameError, match="needs the package 'no_such_package'"):
        require("no_such_package", "this test")


def users_environment():
    """This process's environment as a user's shell has it: without the TensorFlow log level
    that JAX sets for itself when a test in this process loaded it."""
    environment = dict(os.environ)
    if environment.get("TF_CPP_MIN_LOG_LEVEL") != environment.get("MLP_TIERS_TF_LOG_LEVEL"):
        environment.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return environment


def run(*args, env=None):
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**users_environment(), **(env or {})},
    )


@pytest.mark.slow
def test_a_missing_backend_is_one_line():
    """With torch made unimportable, --backend torch names the missing package."""
    code = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "torch":
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, Block())
from highlevel_keras.train import main
sys.exit(main(["--backend", "torch", "--epochs", "1", "--no-save"]))
"""
    result = run("-c", code)
    assert result.returncode == 2
    missing = ", ".join([*(["keras"] if not installed("keras") else []), "torch"])
    assert result.stderr.strip().splitlines() == [
        f"python -m highlevel_keras.train: error: tier 'keras-torch' needs {missing}, which is "
        "not installed"
    ]


@pytest.mark.slow
def test_an_unknown_backend_is_one_line():
    result = run("-m", "highlevel_keras.train", "--backend", "mxnet")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "argument --backend: invalid choice: 'mxnet'" in line


@pytest.mark.slow
def test_the_train_script_writes_a_keras_file(tmp_path, backend, keras_tier):
    result = run(
        "-m", "highlevel_keras.train", "--backend", backend, "--epochs", "2", "--out", str(tmp_path),
        "--dataset", str(_blob_file(tmp_path)),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # the epoch lines every tier prints, not Keras's own progress bar
    assert "epoch   2/2  loss" in result.stdout and "Epoch 2/2" not in result.stdout
    # Quiet on every backend: saving model.keras imports TensorFlow, silently; and no terminal
    # codes in output that is not a terminal.
    assert result.stderr == ""
    assert "\x1b[" not in result.stdout
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["tier"] == keras_tier and metrics["epochs_run"] == 2
    assert (folder / "model.keras").is_file() and (folder / "checkpoint.npz").is_file()


def _blob_file(tmp_path):
    x, y = blobs()
    path = tmp_path / "blobs.npz"
    np.savez(path, x=x, y=y)
    return path


@pytest.mark.slow
@pytest.mark.skipif("keras-jax" not in available_tiers(), reason="needs jax and keras")
def test_compare_runs_another_backend_in_its_own_process(tmp_path, backend):
    other = "keras-jax" if backend != "jax" else "keras"
    if TIERS[other].missing():
        pytest.skip(f"{other} needs {', '.join(TIERS[other].missing())}")
    from mlp_tiers.cli import main

    assert TIERS[other].conflicts()
    code = main(
        ["compare", "--tiers", f"numpy,{other}", "--epochs", "2", "--out", str(tmp_path),
         "--dataset", str(_blob_file(tmp_path))]
    )  # fmt: skip
    assert code == 0
    (report,) = tmp_path.glob("*/compare.json")
    rows = {row["tier"]: row for row in json.loads(report.read_text())["tiers"]}
    assert set(rows) == {"numpy", other}
    assert rows[other]["epochs"] == 2
    assert abs(rows[other]["test_accuracy"] - rows["numpy"]["test_accuracy"]) <= 0.05


@pytest.mark.parametrize(
    ("steps", "expected"), [(39, 13), (399, 7), (469, 7), (64, 16), (1, 1), (17, 1), (12, 12)]
)
def test_steps_per_execution_divides_the_epoch(steps, expected):
    """A call into compiled code never runs past an epoch's end (into the next epoch's batches)."""
    from highlevel_keras.support import steps_per_execution

    assert steps_per_execution(steps, "jax") == steps_per_execution(steps, "tensorflow")
    assert steps_per_execution(steps, "tensorflow") == expected
    assert steps % expected == 0
    assert steps_per_execution(steps, "torch") == 1  # Keras on PyTorch: one step per call


def test_a_later_fit_call_reuses_the_training_tensors_of_a_read_only_dataset(
    blob_data, keras_tier, backend
):
    """On TensorFlow the training set is copied into TensorFlow once per tier, not once per fit
    call, when the dataset cannot change (read-only, as prepare_run makes it); from writeable
    arrays it is copied every call, so an edit between calls is never missed."""
    import dataclasses

    if backend != "tensorflow":
        pytest.skip(f"the training tensors are kept on TensorFlow; this process runs {backend}")
    model = ModelSpec(5, 3, (8,))
    train = TrainSpec(optimizer="sgd", dtype="float32", epochs=1)
    frozen = blob_data.astype("float32").frozen()
    tier = get_tier(keras_tier)(model, train, init_params(model, 0, "float32"))
    tier.fit(frozen)
    kept = tier.held.kept
    assert kept is not None
    tier.train_spec = dataclasses.replace(train, epochs=2)
    tier.fit(frozen)
    assert tier.held.kept is kept  # not copied again
    frozen.x_train.flags.writeable = True  # made writeable again: never trusted after
    tier.train_spec = dataclasses.replace(train, epochs=3)
    tier.fit(frozen)
    assert tier.held.kept is None
    frozen.x_train.flags.writeable = False

    writeable = blob_data.astype("float32")
    tier.train_spec = dataclasses.replace(train, epochs=4)
    tier.fit(writeable)
    assert tier.held.kept is None
    writeable.x_train[:] = 0.0  # an edit between calls reaches the next one
    before = tier.get_params()
    tier.train_spec = dataclasses.replace(train, epochs=5)
    tier.fit(writeable)
    first_layer = tier.get_params()[0][0]
    assert np.array_equal(first_layer, before[0][0])  # zero inputs: no gradient for W1


def test_a_frozen_dataset_cannot_be_edited(blob_data):
    frozen = blob_data.frozen()
    with pytest.raises(ValueError, match="read-only"):
        frozen.x_train[0, 0] = 1.0
    assert np.array_equal(frozen.x_train, blob_data.x_train)
