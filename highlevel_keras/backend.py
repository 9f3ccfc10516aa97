"""Choosing Keras's backend and configuring it: precision, determinism, devices.

Keras fixes its backend when it is first imported, from ``KERAS_BACKEND``. ``load_keras`` sets
that variable and imports Keras, or explains why it cannot (``adapters.keras_setup``).

Precision, per backend:

- float64 on JAX needs ``jax_enable_x64``; without it JAX silently makes every float64 array
  float32. It is switched on before a float64 model is built, and the tier checks the dtype of
  every weight it built.
- TF32 (10-bit mantissas in float32 matrix products on Ampere and newer GPUs) is off on every
  backend: ``float32`` means IEEE float32 here, as in the other tiers.

Data parallelism (``--replicas N``, ``replica_distribution``): ``keras.distribution.DataParallel``
on JAX, ``fit`` under a ``tf.distribute.MirroredStrategy`` on TensorFlow; Keras on PyTorch has
no data-parallel path.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from adapters.keras_setup import import_keras
from shared.errors import BackendError, DeviceError


def load_keras(backend: str, dtype: str, replicas: int = 1) -> Any:
    """Keras on ``backend``, configured for reproducible runs in ``dtype``; on JAX, with at least
    ``replicas`` devices on the CPU when JAX is started here (``host_devices``)."""
    if backend == "jax" and replicas > 1:
        host_devices(replicas)
    keras = import_keras(backend)
    # On TensorFlow, import_keras imported TensorFlow quietly and turned TF32 off.
    if backend == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "highest")
        if dtype == "float64":
            jax.config.update("jax_enable_x64", True)
    elif backend == "torch":
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return keras


def gpu_available(backend: str) -> bool:
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return any(device.platform == "gpu" for device in jax.devices())
    import torch

    return torch.cuda.is_available()


def keras_device(backend: str, device: str) -> str:
    """The device name for ``keras.device``: ``cpu`` or ``gpu`` (the first GPU); a clear error for
    ``gpu`` without one.

    No index: on PyTorch, variables made under ``cpu:0`` differ from the ``cpu`` tensors Keras
    computes with, and the gradients never reach them ("No gradients provided").
    """
    gpu = gpu_available(backend)
    if device == "gpu" and not gpu:
        raise DeviceError(
            f"device 'gpu' was asked for, but Keras's {backend} backend sees no GPU; use "
            "--device cpu or auto"
        )
    return "gpu" if device == "gpu" or (device == "auto" and gpu) else "cpu"


def check_dtypes(model: Any, backend: str, dtype: str) -> None:
    """Never silently float32: every weight and optimizer slot must have the run's dtype."""
    variables = [*model.weights, *model.optimizer.variables]
    wrong = sorted({str(v.dtype) for v in variables if "float" in str(v.dtype)} - {dtype})
    if wrong:
        raise BackendError(
            f"Keras's {backend} backend built {', '.join(wrong)} weights for a {dtype} model"
            + (" (jax_enable_x64 is off)" if backend == "jax" else "")
        )


# JAX fixes its devices when it starts: on the CPU, this many at least, so that later replicated
# runs in the same process (the tests, parity) fit in them.
HOST_DEVICES = 8


def host_devices(count: int) -> None:
    """Ask XLA for ``count`` (at least ``HOST_DEVICES``) CPU devices, unless JAX has started."""
    if "jax" in sys.modules:
        return  # too late: replica_distribution says so if there are too few
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        wanted = max(count, HOST_DEVICES)
        # first: XLA stops reading at a word without "--" (as in the thread flags of --threads)
        os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={wanted} {flags}".strip()


def replica_distribution(keras: Any, backend: str, replicas: int, device: str) -> Any:
    """What spreads ``fit`` over ``replicas`` data-parallel replicas: a Keras ``DataParallel``
    distribution on JAX, a ``tf.distribute`` strategy on TensorFlow. Each has ``scope()``."""
    if backend == "torch":
        raise BackendError(
            "Keras on PyTorch has no data-parallel path (keras.distribution runs on JAX only); "
            "use --backend jax or tensorflow for --replicas, or --replicas 1"
        )
    if backend == "tensorflow":
        from adapters.tf_distribute import cluster_workers, replica_strategy

        if len(cluster_workers()) > 1:
            raise BackendError(
                "the Keras tier runs data parallel on one machine; TF_CONFIG names several "
                "workers, and the multi-worker form is the TensorFlow tier's (midlevel_tf)"
            )
        return replica_strategy(replicas, device)
    kind = "gpu" if keras_device(backend, device) == "gpu" else "cpu"
    devices = keras.distribution.list_devices(kind)
    if len(devices) < replicas:
        count = re.search(r"host_platform_device_count=(\d+)", os.environ.get("XLA_FLAGS", ""))
        if kind == "gpu":
            fix = f"give --replicas {len(devices)} or fewer"
        elif count is not None and int(count.group(1)) < replicas:
            fix = (
                f"XLA_FLAGS sets --xla_force_host_platform_device_count={count.group(1)}: raise "
                f"it to {replicas} or more, or unset it"
            )
        else:
            fix = (
                f"start the replicated run in a fresh process (JAX has {len(devices)} CPU "
                "devices, fixed when it started)"
            )
        raise DeviceError(f"--replicas {replicas} needs {replicas} {kind} devices; {fix}")
    return keras.distribution.DataParallel(devices=devices[:replicas])
