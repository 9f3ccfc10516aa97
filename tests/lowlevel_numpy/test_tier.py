"""NumPy-specific tier tests; the behaviour every tier shares is in tests/shared/test_tier_behaviour.py."""

import numpy as np

from lowlevel_numpy.tier import NumpyTier
from shared.init import init_params
from shared.spec import TrainSpec


def test_the_optimizer_updates_the_layers_arrays_in_place(blob_data, small_model):
    tier = NumpyTier(
        small_model, TrainSpec(dtype="float64"), init_params(small_model, 0, "float64")
    )
    kernel = tier.mlp.layers[0].W
    tier.train_step(blob_data.x_train[:8], blob_data.y_train[:8])
    assert tier.mlp.layers[0].W is kernel
    np.testing.assert_array_equal(tier.get_params()[0][0], kernel)
