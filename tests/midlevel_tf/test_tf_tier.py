"""The TensorFlow tier beyond parity: checkpoints across tiers, modes, devices, dropout, errors,
and the quiet start-up."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import require_framework

tf = require_framework("tensorflow", "tf")

from adapters.tensorflow_setup import quiet_tensorflow_startup
from midlevel_tf import multistep
from midlevel_tf.multistep import train_steps
from midlevel_tf.nn import dropout
from midlevel_tf.train import main as train_main
from mlp_tiers.registry import get_tier
from shared.errors import DeviceError, SpecError, UnknownNameError
from shared.init import init_params
from shared.packages import installed
from shared.spec import TrainSpec

FLAVOURS = ["tf-nn", "tf-layers"]


def test_an_unknown_mode_is_refused(small_model):
    with pytest.raises(UnknownNameError, match="unknown TensorFlow execution mode 'graph'"):
        get_tier("tf-nn")(small_model, TrainSpec(), init_params(small_model, 0), mode="graph")


@pytest.mark.skipif(
    bool(tf.config.list_physical_devices("GPU")), reason="this machine has a GPU TensorFlow sees"
)
def test_gpu_without_a_gpu_is_a_clear_error(small_model):
    train = TrainSpec(device="gpu", dtype="float32")
    with pytest.raises(DeviceError, match="TensorFlow sees no GPU"):
        get_tier("tf-nn")(small_model, train, init_params(small_model, 0, "float32"))


def test_auto_device_runs_where_tensorflow_can(blob_data, small_model):
    train = TrainSpec(device="auto", dtype="float32", epochs=1)
    tier = get_tier("tf-layers")(small_model, train, init_params(small_model, 0, "float32"))
    assert tier.device in ("/CPU:0", "/GPU:0")
    tier.fit(blob_data.astype("float32"))


def test_dropout_keeps_the_expected_share_and_rescales():
    a = tf.ones((400, 500), tf.float64)
    seed = tf.constant([3, 7], tf.int64)
    out = dropout(a, 0.25, seed, layer=0).numpy()
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.005  # 200,000 draws: the standard error is 0.001
    np.testing.assert_array_equal(out[kept], 1 / 0.75)
    np.testing.assert_array_equal(dropout(a, 0.25, seed, layer=0).numpy(), out)
    assert not np.array_equal(dropout(a, 0.25, seed, layer=1).numpy(), out)


def test_startup_notes_are_dropped_and_everything_else_passes(monkeypatch, capfd):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.delenv("MLP_TIERS_TF_LOG_LEVEL", raising=False)
    with quiet_tensorflow_startup():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are\n")
        os.write(2, b"I0000 00:00:1795665111.165662   10055 port.cc:153] oneDNN custom ops\n")
        os.write(
            2,
            b"E0000 00:00:1795668544.597606     660 cuda_platform.cc:52] failed call to "
            b"cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n",
        )
        os.write(
            2,
            b"I0000 00:00:1796357271.729561    6921 cpu_feature_guard.cc:227] This TensorFlow "
            b"binary is optimized to use available CPU instructions in performance-critical "
            b"operations.\nTo enable the following instructions: AVX2 FMA, in other operations, "
            b"rebuild TensorFlow with the appropriate compiler flags.\n",
        )
        os.write(2, b"To enable the following instructions: said by the user, not TensorFlow\n")
        os.write(2, b"E0000 00:00:1795665111.2   10055 cuda.cc:1] a real error\n")
        os.write(2, b"Traceback: something else\n")
    err = capfd.readouterr().err
    assert "oneDNN" not in err and "InitializeLog" not in err and "cuInit" not in err
    assert "AVX2" not in err and "rebuild TensorFlow" not in err  # a note's second line too
    assert "a real error" in err and "something else" in err and "said by the user" in err
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"


def test_a_user_chosen_log_level_is_left_alone(monkeypatch, capfd):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    with quiet_tensorflow_startup():
        os.write(2, b"I0000 00:00:1795665111.165662   10055 port.cc:153] oneDNN custom ops\n")
    assert "oneDNN" in capfd.readouterr().err
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"


def without_log_level():
    """This process's environment without a TensorFlow log level, ours or JAX's."""
    environment = dict(os.environ)
    for name in ("TF_CPP_MIN_LOG_LEVEL", "MLP_TIERS_TF_LOG_LEVEL"):
        environment.pop(name, None)
    return environment


JAX_FIRST = """
import os, subprocess, sys
import jax  # sets TF_CPP_MIN_LOG_LEVEL to 1, as it does when a user's script imports it first
from adapters.tensorflow_setup import import_tensorflow, quiet_logs
import_tensorflow()
child = "from adapters.tensorflow_setup import quiet_logs; print(quiet_logs())"
print(quiet_logs(), os.environ["TF_CPP_MIN_LOG_LEVEL"],
      subprocess.run([sys.executable, "-c", child], capture_output=True, text=True).stdout)
"""


@pytest.mark.skipif(not installed("jax"), reason="needs jax, which is not installed")
def test_tensorflow_is_quiet_after_jax_loaded_first_and_a_users_level_is_kept():
    """JAX sets TF_CPP_MIN_LOG_LEVEL when it loads; loaded before the quiet import, its 1 was
    taken for the user's choice, and TensorFlow's start-up notes were printed."""
    quiet = subprocess.run(
        [sys.executable, "-c", JAX_FIRST],
        capture_output=True, text=True, timeout=300, env=without_log_level(),
    )  # fmt: skip
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    assert quiet.stdout.split() == ["True", "2", "True"]  # and the process it starts knows
    users = subprocess.run(
        [sys.executable, "-c", "import os, jax\nfrom adapters.tensorflow_setup import quiet_logs\n"
         "print(quiet_logs(), os.environ['TF_CPP_MIN_LOG_LEVEL'])"],
        capture_output=True, text=True, timeout=300,
        env={**without_log_level(), "TF_CPP_MIN_LOG_LEVEL": "1"},
    )  # fmt: skip
    assert users.stdout.split() == ["False", "1"], users.stderr


def run_train(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "midlevel_tf.train", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.slow
def test_the_train_script_is_quiet_and_records_its_mode(tmp_path):
    result = run_train(
        "--flavour", "layers", "--jit", "--epochs", "2", "--quiet", "--out", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "test" in result.stdout
    (folder,) = tmp_path.iterdir()
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["tier"] == "tf-layers" and metrics["tier_options"] == {"mode": "jit"}
    assert metrics["epochs_run"] == 2


def exit_code(argv):
    try:
        return train_main(argv)
    except SystemExit as exit:  # argparse's own errors
        return exit.code


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--flavour", "keras"], "argument --flavour: invalid choice: 'keras'"),
        (["--eager", "--jit"], "argument --jit: not allowed with argument --eager"),
        (["--dtype", "float16"], "dtype must be one of float32, float64; got 'float16'"),
    ],
)
def test_bad_flags_are_one_line(args, message, capsys):
    assert exit_code([*args, "--no-save", "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_steps16_variant_trains_the_same_weights_as_the_plain_loop(
    flavour, dtype, blob_data, small_model, monkeypatch
):
    # batch 7 leaves a partial last batch; dropout and L2 on, early stopping on
    train = TrainSpec(optimizer="adam", lr=0.01, batch_size=7, epochs=3, dtype=dtype,
                      dropout=0.2, l2=1e-3, patience=2)  # fmt: skip
    data = blob_data.astype(dtype)
    params = init_params(small_model, 0, dtype)
    traced = []  # the variant's loop really runs: its graph is traced (once per chunk shape)
    monkeypatch.setattr(
        multistep, "train_steps", lambda *args: traced.append(1) or train_steps(*args)
    )
    plain = get_tier(flavour)(small_model, train, params)
    fast = get_tier(flavour)(small_model, train, params, steps_per_call=16)
    plain_history, fast_history = plain.fit(data), fast.fit(data)
    assert traced
    assert fast.step == plain.step == 3 * -(-len(data.y_train) // 7)
    for (W, b), (W_fast, b_fast) in zip(plain.get_params(), fast.get_params(), strict=True):
        np.testing.assert_array_equal(W_fast, W)
        np.testing.assert_array_equal(b_fast, b)
    for record, fast_record in zip(plain_history.records, fast_history.records, strict=True):
        assert {k: v for k, v in fast_record.items() if k != "seconds"} == {
            k: v for k, v in record.items() if k != "seconds"
        }


@pytest.mark.parametrize("steps", [0, -3, 2.5, True])
def test_steps_per_call_must_be_a_whole_number_from_one(steps, small_model):
    with pytest.raises(
        SpecError, match=f"steps_per_call must be a whole number >= 1; got {steps!r}"
    ):
        get_tier("tf-nn")(
            small_model, TrainSpec(), init_params(small_model, 0), steps_per_call=steps
        )
