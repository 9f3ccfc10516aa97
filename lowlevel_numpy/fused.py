"""The optimizers' updates as one GPU kernel each, for the NumPy tier on CuPy.

On a GPU every NumPy operation is a kernel launch, and at MNIST's shapes a launch costs more
time than the arithmetic in it. Adam's three lines (``optimizers.Adam.update``) are twelve
operations, so twelve launches for each of the six parameter arrays of an MLP, 72 a step; SGD's
one line is two. The classes below run each optimizer's update as one ``cupy.ElementwiseKernel``
per parameter array: the same formula, the same order of operations, written once more in CUDA
C, so that each array is read and written once.

The kernels are compiled with ``--fmad=false``: without it the CUDA compiler may contract
``a * b + c`` into one fused multiply-add, rounded once instead of twice, and the weights would
drift from those of the separate operations by a rounding a step. With it, every operation
rounds as its own kernel would, and the weights come out bit for bit as with the plain
``optimizers`` classes on the same GPU (``tests/lowlevel_numpy/test_fused.py``, on a GPU).

The NumPy tier takes these classes when its parameters live on a GPU (``make_fused_optimizer``);
the NumPy classes stay the lesson, and the reference these kernels are tested against.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from lowlevel_numpy.optimizers import SGD, Adam, Momentum, Nesterov, Optimizer, RMSprop
from shared.spec import TrainSpec

# Each kernel: (inputs, outputs updated in place, body). ``T`` is the parameters' dtype.
KERNELS: dict[str, tuple[str, str, str]] = {
    "sgd": ("T g, T lr", "T w", "w -= lr * g;"),
    "momentum": (
        "T g, T lr, T momentum",
        "T w, T v",
        "v *= momentum;  v -= lr * g;  w += v;",
    ),
    "nesterov": (
        "T g, T lr, T momentum",
        "T w, T v",
        "v *= momentum;  v -= lr * g;  w += momentum * v - lr * g;",
    ),
    "adam": (
        "T g, T one_minus_beta1, T one_minus_beta2, T alpha, T eps",
        "T w, T m, T v",
        "m += (g - m) * one_minus_beta1;"
        "  v += (g * g - v) * one_minus_beta2;"
        "  w -= m * alpha / (sqrt(v) + eps);",
    ),
    "rmsprop": (
        "T g, T lr, T rho, T one_minus_rho, T eps",
        "T w, T s",
        "s *= rho;  s += g * g * one_minus_rho;  w -= lr * g / sqrt(s + eps);",
    ),
}


@cache
def kernel(name: str) -> Any:
    """The compiled-on-first-call kernel of optimizer ``name``."""
    import cupy

    inputs, outputs, body = KERNELS[name]
    return cupy.ElementwiseKernel(
        inputs, outputs, body, f"mlp_tiers_{name}", options=("--fmad=false",), no_return=True
    )


class FusedSGD(SGD):
    def update(self, i: int, w: Any, g: Any) -> None:
        kernel("sgd")(g, self.lr, w)


class FusedMomentum(Momentum):
    def update(self, i: int, w: Any, g: Any) -> None:
        name = "nesterov" if self.nesterov else "momentum"
        kernel(name)(g, self.lr, self.momentum, w, self.state["v"][i])


class FusedNesterov(FusedMomentum, Nesterov):
    pass


class FusedAdam(Adam):
    def update(self, i: int, w: Any, g: Any) -> None:
        kernel("adam")(
            g, 1 - self.beta1, 1 - self.beta2, self.alpha, self.eps,
            w, self.state["m"][i], self.state["v"][i],
        )  # fmt: skip


class FusedRMSprop(RMSprop):
    def update(self, i: int, w: Any, g: Any) -> None:
        kernel("rmsprop")(g, self.lr, self.rho, 1 - self.rho, self.eps, w, self.state["s"][i])


FUSED: dict[str, type[Optimizer]] = {
    "sgd": FusedSGD,
    "momentum": FusedMomentum,
    "nesterov": FusedNesterov,
    "adam": FusedAdam,
    "rmsprop": FusedRMSprop,
}


def make_fused_optimizer(parameters: list, spec: TrainSpec) -> Optimizer:
    """The optimizer ``spec`` names, its updates as kernels, for parameters on a GPU."""
    return FUSED[spec.optimizer](parameters, spec)
