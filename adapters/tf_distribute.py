"""The ``tf.distribute`` strategy of a data-parallel run on TensorFlow (``--replicas N``), for
the TensorFlow tier and for Keras on TensorFlow."""

from __future__ import annotations

import json
import os
from typing import Any

from adapters.tensorflow_setup import import_tensorflow
from shared.errors import DeviceError

tf = import_tensorflow()


def replica_strategy(replicas: int, device: str) -> Any:
    """The ``tf.distribute`` strategy that runs ``replicas`` data-parallel replicas.

    - Started with a ``TF_CONFIG`` that names several workers (one process on each machine, or
      several on one): ``MultiWorkerMirroredStrategy``, one replica per worker, gradients summed
      over the network by collective ops.
    - Otherwise ``MirroredStrategy`` over the devices of this machine: ``replicas`` GPUs, or
      as many logical devices split from the CPU (the CPU's cores then serve them all: a way to
      run and test the distributed code on any machine, not a speed-up).
    """
    if len(cluster_workers()) > 1:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        if strategy.num_replicas_in_sync != replicas:
            raise DeviceError(
                f"--replicas {replicas} asks for {replicas} replicas, and the cluster of "
                f"TF_CONFIG holds {strategy.num_replicas_in_sync} (every worker's devices); give "
                f"--replicas {strategy.num_replicas_in_sync} on every worker"
            )
        return strategy
    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" or (device == "auto" and gpus):
        if len(gpus) < replicas:
            raise DeviceError(
                f"--replicas {replicas} on the GPU needs {replicas} GPUs, and TensorFlow sees "
                f"{len(gpus)}; give --replicas {max(len(gpus), 1)}, or --device cpu"
            )
        return tf.distribute.MirroredStrategy([f"/GPU:{i}" for i in range(replicas)])
    return tf.distribute.MirroredStrategy(
        split_cpu(replicas), cross_device_ops=tf.distribute.ReductionToOneDevice()
    )


# TensorFlow splits the CPU once per process, before it first runs: into this many devices at
# least, so that later replicated runs in the same process (the tests, parity) fit in them.
CPU_SPLIT = 8


def split_cpu(count: int) -> list[str]:
    """``count`` logical CPU devices (``/CPU:0`` ...), split from the CPU if there are fewer."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    logical = tf.config.get_logical_device_configuration(cpu) or []
    if len(logical) < count:
        try:
            configs = [tf.config.LogicalDeviceConfiguration()] * max(count, CPU_SPLIT)
            tf.config.set_logical_device_configuration(cpu, configs)
        except RuntimeError:  # TensorFlow has started: its devices are fixed for this process
            raise DeviceError(
                f"--replicas {count} on the CPU splits it into {count} logical devices, which "
                f"TensorFlow allows only before it first runs, and this process has "
                f"{max(len(logical), 1)}; start the replicated run in a fresh process"
            ) from None
    return [f"/CPU:{i}" for i in range(count)]


def cluster_workers() -> list[str]:
    """The workers ``TF_CONFIG`` names (none without one)."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return []
    try:
        cluster = json.loads(text).get("cluster", {})
    except (ValueError, AttributeError):
        raise DeviceError('TF_CONFIG is not the JSON TensorFlow reads: {"cluster": ...}') from None
    return list(cluster.get("worker", [])) + list(cluster.get("chief", []))


def is_chief(strategy: Any) -> bool:
    """Whether this process is the one that writes: always, but for a worker of a multi-worker
    cluster other than the first (``chief``, or ``worker`` 0 without one)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not cluster_workers():
        return True
    kind, index = resolver.task_type, resolver.task_id
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return kind == "chief" or (not has_chief and kind == "worker" and index == 0)
