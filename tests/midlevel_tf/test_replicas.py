"""The TensorFlow tier data parallel: ``MirroredStrategy`` over logical CPU devices and
``MultiWorkerMirroredStrategy`` over two local workers take the step of one device, up to the
order of the all-reduce's sum."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import REPLICA_SPECS, replica_config, require_framework

require_framework("tensorflow", "tf")

ROOT = Path(__file__).parents[2]
SPECS = REPLICA_SPECS  # SGD and Adam, with and without dropout and L2 (tests.helpers)
config = replica_config  # two epochs of digits, of uneven shares


def replica_fit(tmp_path: Path, tier: str, configs: list[dict], env: dict | None = None) -> list:
    """``tests/replica_fit.py`` in a fresh process: TensorFlow splits the CPU into devices
    only before it first runs."""
    request, out = tmp_path / f"{tier}.json", tmp_path / f"{tier}-out.json"
    request.write_text(json.dumps(configs))
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "replica_fit.py"), tier, str(request), str(out)],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", **(env or {})},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize("tier", ["tf-nn", "tf-layers"])
def test_mirrored_replicas_take_the_step_of_one_device_over_two_epochs(tmp_path, tier):
    configs = [config(replicas, train) for replicas in (2, 4) for train in SPECS]
    for raw, answer in zip(configs, replica_fit(tmp_path, tier, configs), strict=True):
        assert answer["steps"] == [28, 28]  # two epochs of 13 batches of 90 and one of 51
        assert answer["replicas_run"] == raw["train"]["replicas"]  # as the strategy counts them
        assert answer["error"] > 0  # the replicas' sums are added in another order
        # the stated tolerance (docs/distributed.md); measured 1.3e-16 to 2.4e-16
        assert answer["error"] < 1e-13, (raw["train"], answer)
        assert answer["loss"][0] == pytest.approx(answer["loss"][1], rel=1e-12)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_workers_on_localhost_train_as_one_device(tmp_path):
    """``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``: two train scripts, one per worker,
    on 127.0.0.1; the first writes the run folder, which equals a one-device run's."""
    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    flags = ["--dataset", "digits", "--hidden", "32", "--epochs", "2", "--batch-size", "25",
             "--dtype", "float64", "--dropout", "0.1", "--l2", "0.001"]  # fmt: skip
    script = [sys.executable, "-m", "midlevel_tf.train", *flags]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "COLUMNS": "120"}
    started = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        started.append(subprocess.Popen(
            [*script, "--replicas", "2", "--out", str(tmp_path / "two")], cwd=ROOT,
            env={**env, "TF_CONFIG": json.dumps(tf_config)}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        ))  # fmt: skip
    outputs = [process.communicate(timeout=600) for process in started]
    for process, (_, err) in zip(started, outputs, strict=True):
        assert process.returncode == 0, err[-3000:]
    assert "run folder:" in outputs[0][0] and "2 replicas" in outputs[0][0]
    assert outputs[1][0] == ""  # the second worker trains and says nothing
    single = subprocess.run([*script, "--out", str(tmp_path / "one")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert single.returncode == 0, single.stderr[-3000:]
    (two,), (one,) = ((tmp_path / name).iterdir() for name in ("two", "one"))
    a, b = np.load(two / "checkpoint.npz"), np.load(one / "checkpoint.npz")
    kernels = [key for key in b.files if key.startswith("params/") and key.endswith("/W")]
    assert kernels
    for key in kernels:  # measured 1.4e-16
        assert np.linalg.norm(a[key] - b[key]) / np.linalg.norm(b[key]) < 1e-13, key


def test_replicas_in_a_process_whose_tensorflow_has_started_say_what_to_do():
    from midlevel_tf.runtime import tf  # started by this process's earlier tests, or now
    from mlp_tiers.runner import build_tier, prepare_run
    from shared.errors import DeviceError
    from shared.spec import config_from_dict

    tf.constant(1.0) + 1.0  # TensorFlow runs: its devices are now fixed
    run = prepare_run(config_from_dict(config(2, {})))
    assert len(tf.config.list_logical_devices("CPU")) == 1  # no test splits it in-process
    with pytest.raises(DeviceError, match="start the replicated run in a fresh process"):
        build_tier("tf-nn", run)


@pytest.mark.parametrize("options", [{"mode": "jit"}, {"steps_per_call": 16}])
def test_replicas_refuse_xla_and_several_steps_per_call_in_one_sentence(options):
    from midlevel_tf.tier import TFNnTier
    from mlp_tiers.runner import prepare_run
    from shared.errors import SpecError
    from shared.spec import config_from_dict

    run = prepare_run(config_from_dict(config(2, {})))
    with pytest.raises(SpecError, match=r"take no replicas"):
        TFNnTier(run.model, run.train, run.params, **options)
