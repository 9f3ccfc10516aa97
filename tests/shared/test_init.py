import numpy as np
import pytest

from shared.init import TRUNCATED_NORMAL_STD, check_params, init_params, truncated_normal
from shared.spec import ModelSpec


def spec(init: str, hidden=(300,)) -> ModelSpec:
    return ModelSpec(n_inputs=200, n_outputs=100, hidden=hidden, init=init)


def test_shapes_dtypes_and_zero_biases():
    params = init_params(ModelSpec(n_inputs=5, n_outputs=3, hidden=(7, 4)), seed=0, dtype="float32")
    assert [(W.shape, b.shape) for W, b in params] == [
        ((5, 7), (7,)),
        ((7, 4), (4,)),
        ((4, 3), (3,)),
    ]
    assert all(W.dtype == np.float32 and b.dtype == np.float32 for W, b in params)
    assert all(not b.any() for _, b in params)


def test_same_seed_same_weights_and_float32_is_float64_rounded():
    model = spec("glorot_uniform")
    a, b = init_params(model, 7), init_params(model, 7)
    for (Wa, _), (Wb, _) in zip(a, b, strict=True):
        np.testing.assert_array_equal(Wa, Wb)
    single = init_params(model, 7, "float32")
    np.testing.assert_array_equal(single[0][0], a[0][0].astype(np.float32))
    assert not np.array_equal(init_params(model, 8)[0][0], a[0][0])


@pytest.mark.parametrize(
    ("init", "limit"),
    [("glorot_uniform", np.sqrt(6 / (200 + 300))), ("he_uniform", np.sqrt(6 / 200))],
)
def test_uniform_limits(init, limit):
    W = init_params(spec(init), 0)[0][0]
    assert np.abs(W).max() <= limit
    assert np.abs(W).max() > 0.99 * limit  # 60000 draws reach the edge
    assert abs(W.std() - limit / np.sqrt(3)) < 0.01 * limit


@pytest.mark.parametrize(
    ("init", "std"), [("glorot_normal", np.sqrt(2 / (200 + 300))), ("he_normal", np.sqrt(2 / 200))]
)
def test_truncated_normals_keep_the_intended_variance(init, std):
    W = init_params(spec(init), 0)[0][0]
    cut = 2 * std / TRUNCATED_NORMAL_STD
    assert np.abs(W).max() <= cut
    assert abs(W.std() - std) < 0.01 * std  # 60000 draws: the standard error is about 0.3%


def test_truncation_constant_is_the_std_of_a_unit_normal_cut_at_two():
    from scipy.stats import truncnorm

    assert pytest.approx(truncnorm(-2, 2).std(), rel=1e-12) == TRUNCATED_NORMAL_STD
    x = truncated_normal(np.random.default_rng(0), (100_000,), 1.0)
    assert np.abs(x).max() <= 2.0


def test_check_params_names_the_mismatch():
    model = ModelSpec(n_inputs=5, n_outputs=3, hidden=(4,))
    params = init_params(model, 0)
    check_params(params, model)
    with pytest.raises(ValueError, match="the model 5-4-3 needs"):
        check_params(params[:1], model)
