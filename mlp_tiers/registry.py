"""The tier registry: every tier by name, the packages it needs, its variants, and how to run
one whose Keras backend is not this process's.

A tier is imported only when it is asked for, so listing tiers or using the NumPy tier never
imports TensorFlow, Keras, JAX or PyTorch.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.errors import BackendError, UnknownNameError
from shared.packages import installed

if TYPE_CHECKING:
    from shared.contract import Tier


@dataclass(frozen=True)
class TierEntry:
    """A registered tier: where its class lives and which packages it needs."""

    name: str
    target: str  # "module:Class"
    requires: tuple[str, ...]
    summary: str
    keras_backend: str | None = None  # the Keras backend the tier needs, if it uses Keras
    variants: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()  # name -> options
    # Known, measured causes of difference from the NumPy tier (mlp_tiers.parity names their rows):
    # Keras's optimizers on TensorFlow round some float64 hyper-parameters through float32 ...
    casts_hyperparameters: bool = False
    # ... and the Keras ops that compute float64 inputs in float32 on this backend ("matmul":
    # every Dense layer; "tanh": the tanh activation; "mean": the MSE loss).
    float64_demoted_ops: tuple[str, ...] = ()
    # How the tier runs data parallel (--replicas), in words; None: it has no data-parallel path.
    data_parallel: str | None = None

    @property
    def script(self) -> str:
        """The module of the tier's own train script (``python -m <script>``)."""
        return self.target.split(".")[0] + ".train"

    def options(self, variant: str | None) -> dict[str, Any]:
        """The constructor options of ``variant`` (``tf-nn:eager`` -> ``{"mode": "eager"}``)."""
        if variant is None:
            return {}
        table = {name: dict(options) for name, options in self.variants}
        if variant not in table:
            allowed = ", ".join(table) or "none"
            raise UnknownNameError(
                f"tier {self.name!r} has no variant {variant!r}; its variants are {allowed}"
            )
        return table[variant]

    def conflicts(self) -> bool:
        """True when this process's Keras runs (or will run) on another backend than the tier's.

        Keras picks its backend once per process, so such a tier runs in a process of its own.
        """
        return self.keras_backend is not None and self.keras_backend != process_keras_backend()

    def missing(self) -> list[str]:
        """The required packages that are not installed (checked without importing them)."""
        return [pkg for pkg in self.requires if not installed(pkg)]

    def load(self) -> type[Tier]:
        missing = self.missing()
        if missing:
            raise UnknownNameError(
                f"tier {self.name!r} needs {', '.join(missing)}, which is not installed"
            )
        module_name, class_name = self.target.split(":")
        return getattr(importlib.import_module(module_name), class_name)


# Variants, for `mlp-tiers bench --tiers tf-nn:eager,...`: how a tier runs. For the TensorFlow
# tier: its step as a graph (function), op by op (eager) or compiled by XLA (jit), and the loop
# several steps per call into TensorFlow (steps16, midlevel_tf.multistep). For Keras: XLA.
TF_VARIANTS = (("function", (("mode", "function"),)), ("eager", (("mode", "eager"),)),
            ("jit", (("mode", "jit"),)), ("steps16", (("steps_per_call", 16),)),
            ("jit-steps16", (("mode", "jit"), ("steps_per_call", 16))))  # fmt: skip
KERAS_VARIANTS = (("auto", (("jit_compile", "auto"),)), ("jit", (("jit_compile", True),)),
             ("nojit", (("jit_compile", False),)))  # fmt: skip

TIERS: dict[str, TierEntry] = {
    entry.name: entry
    for entry in (
        TierEntry("numpy", "lowlevel_numpy.tier:NumpyTier", ("numpy",),
                  "NumPy from scratch: hand-written forward, backward and optimizers",
                  data_parallel="MPI Allreduce (mpi4py)"),
        TierEntry("tf-nn", "midlevel_tf.tier:TFNnTier", ("tensorflow",),
                  "TensorFlow: tf.Variable, tf.nn ops, GradientTape, tf.function",
                  variants=TF_VARIANTS, data_parallel="tf.distribute.MirroredStrategy"),
        TierEntry("tf-layers", "midlevel_tf.tier:TFLayersTier", ("tensorflow", "keras"),
                  "TensorFlow: Keras Dense layers in a custom GradientTape loop", "tensorflow",
                  TF_VARIANTS, casts_hyperparameters=True,
                  data_parallel="tf.distribute.MirroredStrategy"),
        TierEntry("keras", "highlevel_keras.tier:KerasTier", ("keras", "tensorflow"),
                  "Keras 3 on TensorFlow: Sequential, compile, fit", "tensorflow", KERAS_VARIANTS,
                  casts_hyperparameters=True, data_parallel="fit under a MirroredStrategy"),
        TierEntry("keras-jax", "highlevel_keras.tier:KerasJaxTier", ("keras", "jax"),
                  "Keras 3 on JAX: the same Sequential, compile, fit", "jax", KERAS_VARIANTS,
                  float64_demoted_ops=("tanh", "mean"),
                  data_parallel="keras.distribution.DataParallel"),
        TierEntry("keras-torch", "highlevel_keras.tier:KerasTorchTier", ("keras", "torch"),
                  "Keras 3 on PyTorch: the same Sequential, compile, fit", "torch", KERAS_VARIANTS,
                  float64_demoted_ops=("matmul", "mean")),
    )
}  # fmt: skip


def get_tier(name: str) -> type[Tier]:
    """The tier class registered as ``name``."""
    if name not in TIERS:
        raise UnknownNameError(f"unknown tier {name!r}; registered tiers are {', '.join(TIERS)}")
    return TIERS[name].load()


def available_tiers() -> list[str]:
    """Registered tiers whose packages are installed, in registry order."""
    return [name for name, entry in TIERS.items() if not entry.missing()]


def process_keras_backend() -> str:
    """The backend Keras has in this process, or will have when first imported."""
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        return keras.backend.backend()
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def parse_tier(text: str) -> tuple[str, dict[str, Any]]:
    """``"tf-nn:eager"`` -> ``("tf-nn", {"mode": "eager"})``; a clear error for unknown names."""
    name, _, variant = text.strip().partition(":")
    if name not in TIERS:
        raise UnknownNameError(f"unknown tier {name!r}; registered tiers are {', '.join(TIERS)}")
    return name, TIERS[name].options(variant or None)


def run_in_new_process(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` in a fresh Python process: for a tier whose Keras backend is not this
    process's (``TierEntry.conflicts``). ``fn`` and its arguments must be picklable.

    The process is stopped on every way out of this call: an answer, an error, or a signal that
    interrupts the wait (the command line turns SIGTERM and Ctrl-C into an exception)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_answer, args=(sender, fn, args))
    process.start()
    sender.close()  # this end is the child's: a child that dies leaves the pipe at EOF
    try:
        ok, value = receiver.recv()
    except EOFError:
        raise BackendError(
            "the process running this tier (Keras on another backend needs one of its own) "
            "ended without an answer: it was killed, or ran out of memory"
        ) from None
    finally:
        receiver.close()
        if process.is_alive():
            process.terminate()
        process.join()
    if not ok:
        raise value
    return value


def _answer(sender: Any, fn: Any, args: tuple[Any, ...]) -> None:
    """In the child of ``run_in_new_process``: send ``(True, fn(*args))``, or ``(False, error)``."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops this process on a Ctrl-C
    try:
        answer = (True, fn(*args))
    except Exception as exc:  # an error of the tier's, raised again in the parent
        answer = (False, exc)
    try:
        sender.send(answer)
    except Exception as exc:  # an answer that cannot be pickled: say so, in the parent's words
        sender.send((False, BackendError(f"the tier's process could not send its answer: {exc}")))
    sender.close()


def runnable_tiers() -> list[str]:
    """Installed tiers that can run in this process (their Keras backend, if any, is its own)."""
    return [name for name in available_tiers() if not TIERS[name].conflicts()]


def tier_names(text: str | None) -> list[str]:
    """The tiers a comma-separated ``--tiers`` names (every installed one when it is None)."""
    if text is None:
        return available_tiers()
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise UnknownNameError(
            "--tiers names no tier; give one or more, such as --tiers numpy,tf-nn"
        )
    for name in names:
        if name not in TIERS:
            raise UnknownNameError(
                f"unknown tier {name!r}; registered tiers are {', '.join(TIERS)}"
            )
    return names


def train_script(name: str) -> Any:
    """The module of tier ``name``'s own train script (its ``add_flags`` and ``choose``)."""
    return importlib.import_module(TIERS[name].script)
