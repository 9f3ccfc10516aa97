"""The causes behind the quirk rows of ``mlp_tiers.parity``, each confirmed on its own, so that a
Keras release that removes one fails here and the table can be tightened."""

import numpy as np
import pytest


@pytest.fixture
def keras(backend, keras_tier):
    from highlevel_keras.backend import load_keras

    return load_keras(backend, "float64")


# The Keras ops whose float64 results are rounded to float32 on each backend (measured; the
# cause is keras.src.backend.common.dtypes.result_type, which maps float64 to float32 off
# TensorFlow). Every other op used by the tiers keeps float64.
DEMOTED_OPS = {"tensorflow": set(), "jax": {"tanh", "mean"}, "torch": {"matmul", "mean"}}


def test_keras_demotes_some_float64_ops_off_tensorflow(keras, backend):
    x = np.linspace(-3.0, 3.0, 1001)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(50, 60)), rng.normal(size=(60, 40))
    ops, tensor = keras.ops, keras.ops.convert_to_tensor
    results = {
        "tanh": (ops.tanh(tensor(x)), np.tanh(x)),
        "mean": (ops.mean(tensor(x**2)), np.mean(x**2)),
        "matmul": (ops.matmul(tensor(a), tensor(b)), a @ b),
        "sigmoid": (ops.sigmoid(tensor(x)), 1 / (1 + np.exp(-x))),
        "relu": (ops.relu(tensor(x)), np.maximum(x, 0)),
    }
    for name, (got, want) in results.items():
        error = np.max(np.abs(keras.ops.convert_to_numpy(got) - want) / np.abs(want).max())
        if name in DEMOTED_OPS[backend]:
            assert 1e-10 < error < 1e-5, (name, error)  # float32 rounding
        else:
            assert error < 1e-14, (name, error)


def test_the_backends_own_float64_tanh_is_exact(keras, backend):
    """The demotion is Keras's, not the backend's: its own tanh keeps float64."""
    x = np.linspace(-3.0, 3.0, 1001)
    if backend == "jax":
        import jax.numpy as jnp

        own = np.asarray(jnp.tanh(jnp.asarray(x)))
    elif backend == "torch":
        import torch

        own = torch.tanh(torch.as_tensor(x)).numpy()
    else:
        import tensorflow as tf

        own = tf.tanh(tf.constant(x)).numpy()
    assert own.dtype == np.float64
    np.testing.assert_allclose(own, np.tanh(x), rtol=1e-15, atol=1e-16)


def test_tensorflow_casts_a_python_float_through_float32(keras, backend):
    if backend != "tensorflow":
        pytest.skip("the hyper-parameter cast is TensorFlow's tf.cast of a Python float")
    cast = float(keras.ops.convert_to_numpy(keras.ops.cast(0.9, "float64")))
    assert cast == float(np.float32(0.9)) != 0.9
    assert float(keras.ops.convert_to_numpy(keras.ops.cast(0.875, "float64"))) == 0.875


def test_the_l2_regularizer_rounds_its_factor_through_float32_only_on_tensorflow(keras, backend):
    """Keras's L2 computes ops.cast(l2, x.dtype) * sum(x^2): on TensorFlow the Python float
    becomes a float32 tensor first (mlp_tiers.parity.CAST_FIELDS lists "l2" for that reason)."""
    ones = keras.ops.convert_to_tensor(np.ones((1, 1)))
    with_factor = {
        factor: float(keras.ops.convert_to_numpy(keras.regularizers.L2(factor)(ones)))
        for factor in (0.001, 2.0**-10)
    }
    if backend == "tensorflow":
        assert with_factor[0.001] == float(np.float32(0.001)) == 0.0010000000474974513
    else:
        assert with_factor[0.001] == 0.001
    assert with_factor[2.0**-10] == 2.0**-10  # exact in float32: no difference anywhere


def test_fit_would_shuffle_a_py_dataset_unless_told_not_to(keras):
    """Why the tier passes shuffle=False: fit permutes a PyDataset's batch indices by default."""
    seen = []

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 8

        def __getitem__(self, index):
            seen.append(index)
            return np.zeros((2, 3)), np.zeros((2, 1))

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    for shuffle in (True, False):
        seen.clear()
        keras.utils.set_random_seed(1)
        model.fit(Batches(), epochs=1, shuffle=shuffle, verbose=0)
        order = seen[-8:]
        assert (order == list(range(8))) is (not shuffle)
