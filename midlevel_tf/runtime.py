"""TensorFlow for this tier, and where its work runs.

TensorFlow is imported through ``adapters.tensorflow_setup``: quietly, and with TF32 off, so that
float32 means IEEE float32 here as in every tier.

- **Devices**: ``cpu`` pins the work to ``/CPU:0`` (also on a machine with a GPU), ``gpu`` to
  ``/GPU:0`` with a clear error when TensorFlow sees none, ``auto`` to the GPU when there is one.
- **Determinism**: TensorFlow's CPU kernels used here are deterministic for a given machine and
  thread count (tested: the same seed gives bit-identical weights). On a GPU, sums done with
  atomics are not, so a run placed on a GPU turns on ``enable_op_determinism()``. It stays off on
  the CPU because it is process-wide and Keras turns XLA off under it (``jit_compile=True`` would
  be ignored by the Keras tier in the same process).
- **Replicas**: ``replica_strategy`` (``adapters.tf_distribute``) for ``--replicas N``: a
  ``MirroredStrategy`` over this machine's devices, or a ``MultiWorkerMirroredStrategy`` over
  the workers of ``TF_CONFIG`` (``docs/distributed.md``).
"""

from __future__ import annotations

from adapters.tensorflow_setup import import_tensorflow
from adapters.tf_distribute import is_chief, replica_strategy
from shared.errors import DeviceError

tf = import_tensorflow()


def device_name(device: str) -> str:
    """The TensorFlow device string for the spec's ``device`` (``cpu``, ``gpu`` or ``auto``)."""
    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise DeviceError(
            "device 'gpu' was asked for, but TensorFlow sees no GPU (a CPU-only TensorFlow "
            "build, or no CUDA driver); use --device cpu or auto"
        )
    if device == "gpu" or (device == "auto" and gpus):
        tf.config.experimental.enable_op_determinism()
        return "/GPU:0"
    return "/CPU:0"


__all__ = ["device_name", "is_chief", "replica_strategy", "tf"]
