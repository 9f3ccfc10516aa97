"""The Keras tier on a GPU: float64 parity with the NumPy tier on the CPU (TF32 off), and float32
within the float32 rows. Skips, with the reason, where the backend sees no GPU."""

import numpy as np
import pytest

from mlp_tiers.parity import assert_params_close, expected_tolerance
from mlp_tiers.registry import get_tier
from shared.init import init_params
from shared.spec import ModelSpec, TrainSpec


@pytest.fixture
def gpu(keras_tier, backend):
    from highlevel_keras.backend import gpu_available, load_keras

    load_keras(backend, "float64")
    if not gpu_available(backend):
        pytest.skip(f"Keras's {backend} backend sees no GPU here")
    return keras_tier


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_gpu_step_matches_numpy_on_the_cpu(gpu, dtype, optimizer):
    model = ModelSpec(64, 10, (128, 64), "relu")
    params = init_params(model, 0, dtype)
    exact = dict(lr=0.125, beta1=0.875, beta2=0.998046875)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 64)).astype(dtype), rng.integers(0, 10, 32)
    reference = get_tier("numpy")(
        model, TrainSpec(optimizer=optimizer, dtype=dtype, **exact), params
    )
    tier = get_tier(gpu)(
        model, TrainSpec(optimizer=optimizer, dtype=dtype, device="gpu", **exact), params
    )
    assert tier.device == "gpu"
    for _ in range(3):
        reference.train_on_batch(x, y)
        tier.train_on_batch(x, y)
    tol = expected_tolerance(gpu, "epoch", dtype)
    assert_params_close(tier.get_params(), reference.get_params(), tol, f"{gpu} on the GPU")
