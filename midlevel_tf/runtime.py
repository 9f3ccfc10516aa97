"""TensorFlow, imported quietly and configured once for reproducible, IEEE-exact runs.

- **Determinism**: TensorFlow's CPU kernels used here are deterministic for a given machine and
  thread count (tested: the same seed gives bit-identical weights). On a GPU, sums done with
  atomics are not, so a run placed on a GPU turns on ``enable_op_determinism()``. It stays off on
  the CPU because it is process-wide and Keras turns XLA off under it (``jit_compile=True`` would
  be ignored by the Keras tier in the same process).
- **No TF32**: on Ampere and newer GPUs TensorFlow multiplies float32 matrices in TF32 (10-bit
  mantissas) unless told otherwise. Here float32 means IEEE float32 in every tier, so TF32 is off.
- **Devices**: ``cpu`` pins the work to ``/CPU:0`` (also on a machine with a GPU), ``gpu`` to
  ``/GPU:0`` with a clear error when TensorFlow sees none, ``auto`` to the GPU when there is one.
"""

from __future__ import annotations

from shared.errors import DeviceError
from shared.frameworks import import_tensorflow, quiet_logs

tf = import_tensorflow()
if quiet_logs():
    # One tf.function per tier instance is by design here; TensorFlow's Python logger would
    # otherwise warn about "retracing" whenever a process builds several tiers.
    tf.get_logger().setLevel("ERROR")
tf.config.experimental.enable_tensor_float_32_execution(False)


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
