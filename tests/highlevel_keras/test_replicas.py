"""The Keras tier data parallel: ``keras.distribution.DataParallel`` on JAX (forced host devices)
and ``fit`` under a ``MirroredStrategy`` on TensorFlow take the step of one device, up to the
order of the all-reduce's sum; batches that do not divide among the replicas are padded and the
padding weighed out of the loss."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlp_tiers.registry import process_keras_backend
from shared.packages import installed
from tests.helpers import replica_config

ROOT = Path(__file__).parents[2]

pytestmark = pytest.mark.skipif(
    process_keras_backend() != "tensorflow",
    reason="runs once, in the pass with Keras on TensorFlow: it starts a process per backend",
)

# (replicas, training) pairs: SGD and Adam, with and without L2 and dropout, on 2 and 4.
CASES = [
    (2, {"optimizer": "sgd"}),
    (2, {"optimizer": "adam", "l2": 1e-3}),
    (4, {"optimizer": "adam", "dropout": 0.2, "l2": 1e-3}),
]


config = replica_config  # two epochs of digits, of uneven shares (tests.helpers)


def replica_fit(tmp_path: Path, tier: str, backend: str, configs: list[dict]) -> list[dict]:
    request, out = tmp_path / f"{tier}.json", tmp_path / f"{tier}-out.json"
    request.write_text(json.dumps(configs))
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "replica_fit.py"), tier, str(request), str(out)],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "KERAS_BACKEND": backend},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.skipif(not installed("jax"), reason="needs JAX (pip install -e '.[jax]')")
def test_keras_on_jax_data_parallel_takes_the_step_of_one_device(tmp_path):
    configs = [config(replicas, train) for replicas, train in CASES]
    for raw, answer in zip(
        configs, replica_fit(tmp_path, "keras-jax", "jax", configs), strict=True
    ):
        assert answer["steps"] == [28, 28]
        assert answer["replicas_run"] == raw["train"]["replicas"]  # the engine's own count
        # dropout included: JAX draws one mask for the global batch (measured 1.5e-16 to 2.8e-16)
        assert 0 < answer["error"] < 1e-13, (raw["train"], answer)
        assert answer["note"] is None
        # Keras's epoch mean weighs a padded batch by its padded size: close, not equal
        assert answer["loss"][0] == pytest.approx(answer["loss"][1], rel=1e-3)


@pytest.mark.skipif(not installed("tensorflow"), reason="needs TensorFlow (pip install -e '.[tf]')")
def test_keras_on_tensorflow_under_a_strategy_takes_the_step_of_one_device(tmp_path):
    configs = [config(replicas, train) for replicas, train in CASES]
    for raw, answer in zip(
        configs, replica_fit(tmp_path, "keras", "tensorflow", configs), strict=True
    ):
        assert answer["steps"] == [28, 28]
        assert answer["replicas_run"] == raw["train"]["replicas"]  # the engine's own count
        if raw["train"].get("dropout"):
            # each replica draws its own masks: said at run time, and the runs part
            assert "for its own rows only, from the same seed" in answer["note"]
            assert answer["error"] > 1e-3
            continue
        assert answer["note"] is None
        assert 0 < answer["error"] < 1e-13, (raw["train"], answer)  # measured 1.6e-16 to 3.1e-16


def test_keras_on_pytorch_has_no_data_parallel_path_and_says_so():
    from highlevel_keras.backend import replica_distribution
    from shared.errors import BackendError

    with pytest.raises(BackendError, match=r"Keras on PyTorch has no data-parallel path .*"
                       r"use --backend jax or tensorflow for --replicas, or --replicas 1"):  # fmt: skip
        replica_distribution(None, "torch", 2, "cpu")


@pytest.mark.skipif(not installed("torch"), reason="needs PyTorch, for Keras on PyTorch")
def test_keras_on_pytorch_train_script_refuses_replicas_in_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "highlevel_keras.train", "--backend", "torch", "--replicas", "2",
         "--epochs", "1", "--no-save"],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 2
    assert "Keras on PyTorch has no data-parallel path" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_batch_padded_for_replicas_keeps_the_mean_of_its_real_rows():
    import numpy as np

    from highlevel_keras.support import padded_for_replicas

    rng = np.random.default_rng(0)
    x, t, loss = rng.normal(size=(21, 3)), rng.normal(size=(21, 2)), rng.random(21)
    px, pt, w = padded_for_replicas(x, t, 4)
    assert px.shape == (24, 3) and pt.shape == (24, 2)
    assert (px[:21] == x).all() and (px[21:] == 0).all() and (pt[21:] == 0).all()
    padded_loss = np.concatenate([loss, rng.random(3)])  # whatever the padding's loss is
    # Keras's mean over all 24 rows of weight * loss is the mean over the 21 real ones
    assert np.sum(w * padded_loss) / 24 == pytest.approx(loss.mean(), rel=1e-15)
    same = padded_for_replicas(x[:20], t[:20], 4)  # 20 divides: no padding, weights exactly 1
    assert same[0].shape == (20, 3) and (same[2] == 1.0).all()
