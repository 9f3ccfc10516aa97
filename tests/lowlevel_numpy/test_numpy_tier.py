"""NumPy-specific tier tests; the behaviour every tier shares is in tests/test_every_tier.py."""

import numpy as np

from lowlevel_numpy.tier import NumpyTier
from shared.init import init_params
from shared.spec import TrainSpec


def test_the_optimizer_updates_the_layers_arrays_in_place(blob_data, small_model):
    tier = NumpyTier(
        small_model, TrainSpec(dtype="float64"), init_params(small_model, 0, "float64")
    )
    kernel = tier.model.layers[0].W
    before = kernel.copy()
    tier.train_on_batch(blob_data.x_train[:8], blob_data.y_train[:8])
    # The step moved the weights (a no-op optimizer fails here) ...
    assert np.abs(kernel - before).max() > 1e-6
    # ... in the layer's own array, the one the model computes with and the optimizer holds.
    assert tier.model.layers[0].W is kernel and tier.model.parameters[0] is kernel
