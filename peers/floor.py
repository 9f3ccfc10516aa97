"""The GEMM floor: the matrix products of one training step, alone, for every batch of an epoch.

A step of an MLP with ``L`` dense layers needs ``3L - 1`` matrix products: ``L`` in the forward
pass (``a @ W``), ``L`` weight gradients (``a.T @ dz``) and ``L - 1`` gradients passed down
(``dz @ W.T``; the input layer's is not needed). Everything else a step does (activations, the
loss, the update) is cheap elementwise work by comparison. No implementation, on this BLAS, can
run a step faster than these products alone, so "× floor" says how much a contender spends on
top of the arithmetic it cannot avoid.

The products run on arrays of the spec's shapes and dtype, the same number of batches per epoch
as the tiers (the last one smaller when the batch size does not divide the data).
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np

from peers import EpochEnd, PeerResult, no_hook
from shared.batching import epoch_batches


def train(
    run: Any, epochs: int, options: dict[str, Any], epoch_end: EpochEnd = no_hook
) -> PeerResult:
    sizes = run.model.layer_sizes
    dtype = np.dtype(run.train.dtype)
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(shape).astype(dtype) for shape in itertools.pairwise(sizes)]
    n = len(run.data.y_train)
    seconds = []
    for epoch in range(epochs):
        batch_sizes = [len(rows) for rows in epoch_batches(n, run.train.batch_size, 0, epoch)]
        # Activations and gradients of each batch size, made before the clock starts.
        arrays = {
            m: [rng.standard_normal((m, width)).astype(dtype) for width in sizes]
            for m in set(batch_sizes)
        }
        start = time.perf_counter()
        for m in batch_sizes:
            step_products(weights, arrays[m])
        seconds.append(time.perf_counter() - start)
        epoch_end()
    return PeerResult(seconds)


def step_products(weights: list[np.ndarray], a: list[np.ndarray]) -> None:
    """The matrix products of one step: ``a[i]`` stands for layer ``i``'s input (and, one index
    up, for its output's gradient), with the shapes of a real step."""
    for i, W in enumerate(weights):
        a[i] @ W  # forward: z = a @ W
        a[i].T @ a[i + 1]  # weight gradient: dW = a.T @ dz
        if i > 0:
            a[i + 1] @ W.T  # gradient passed down: da = dz @ W.T
