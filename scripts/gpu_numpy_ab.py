"""The NumPy tier on CuPy, its two GPU changes taken apart: per-epoch seconds with the plain
optimizers or the fused kernels, reading every step back or 32 at a time, side by side in one
process (MNIST's shapes, 784-256-128-10, batch 128, float32; epochs after the first).

    python scripts/gpu_numpy_ab.py [sgd|adam ...]     # on a machine with CuPy and a GPU
"""

from __future__ import annotations

import statistics
import sys

import cupy
import numpy as np

from lowlevel_numpy.fused import FUSED
from lowlevel_numpy.optimizers import OPTIMIZERS
from lowlevel_numpy.tier import NumpyTier
from shared.data import load_dataset
from shared.init import init_params
from shared.spec import DataSpec, ModelSpec, TrainSpec

EPOCHS = 4


def main(optimizers: list[str]) -> None:
    data = load_dataset(DataSpec(name="mnist_shaped")).astype("float32")
    model = ModelSpec(n_inputs=784, n_outputs=10, hidden=(256, 128))
    params = init_params(model, 0, "float32")
    pool = cupy.get_default_memory_pool()
    print(f"{'optimizer':<9} {'updates':<7} {'read':>4}  epochs 2-{EPOCHS} (s)   median   pool MiB")
    for name in optimizers:
        train = TrainSpec(
            optimizer=name, lr=0.01 if name == "sgd" else 0.001, batch_size=128,
            epochs=EPOCHS, dtype="float32", device="gpu",
        )  # fmt: skip
        weights = {}
        for use_kernels in (False, True):
            for read_every in (1, 32):
                tier = NumpyTier(model, train, params)
                tier.read_every = read_every
                chosen = (FUSED if use_kernels else OPTIMIZERS)[name]
                tier.optimizer = chosen(tier.model.parameters, train)
                tier.fit(data)
                seconds = [record["seconds"] for record in tier.history.records[1:]]
                weights[use_kernels, read_every] = tier.get_params()
                print(
                    f"{name:<9} {'fused' if use_kernels else 'plain':<7} {read_every:>4}  "
                    + ", ".join(f"{s:.3f}" for s in seconds)
                    + f"   {statistics.median(seconds):.3f}   {pool.total_bytes() / 2**20:.0f}"
                )
        reference = weights[False, 1]
        same = all(
            np.array_equal(a, b)
            for other in weights.values()
            for pair_a, pair_b in zip(reference, other, strict=True)
            for a, b in zip(pair_a, pair_b, strict=True)
        )
        print(f"{name}: the four runs' weights are bit-identical: {same}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["sgd", "adam"])
