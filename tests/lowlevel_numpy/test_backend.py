import sys
import types

import numpy as np
import pytest

from lowlevel_numpy.backend import array_module, to_numpy
from lowlevel_numpy.tier import NumpyTier
from shared.errors import DeviceError
from shared.init import init_params
from shared.spec import ModelSpec, TrainSpec
from tests.helpers import gpu_available


def test_cpu_is_numpy():
    assert array_module("cpu") is np
    a = np.arange(3)
    assert to_numpy(a) is a


def test_gpu_without_cupy_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` fail
    with pytest.raises(DeviceError, match="--device gpu needs CuPy, which is not installed"):
        array_module("gpu")
    assert array_module("auto") is np


def test_gpu_without_a_device_is_a_clear_error(monkeypatch):
    def no_device():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake = types.SimpleNamespace(
        cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_device))
    )
    monkeypatch.setitem(sys.modules, "cupy", fake)
    with pytest.raises(DeviceError, match="found no usable CUDA GPU .*no CUDA-capable device"):
        array_module("gpu")
    assert array_module("auto") is np


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason="needs CuPy and a CUDA GPU")
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_gpu_matches_cpu_in_float64(blob_data, optimizer):
    model = ModelSpec(n_inputs=5, n_outputs=3, hidden=(16, 8))
    params = init_params(model, 0, "float64")
    tiers = [NumpyTier(model, TrainSpec(optimizer=optimizer, dtype="float64", device=d, epochs=2), params)
             for d in ("cpu", "gpu")]  # fmt: skip
    for tier in tiers:
        tier.fit(blob_data)
    for (Wc, _), (Wg, _) in zip(tiers[0].get_params(), tiers[1].get_params(), strict=True):
        assert np.max(np.abs(Wc - Wg)) / np.max(np.abs(Wc)) <= 1e-10
