"""Read by the type checker (``make lint``), never run: every tier class meets the ``Tier``
contract of ``shared.contract``, member for member, and the Keras tier its ``SavesNative``."""

from highlevel_keras.tier import KerasJaxTier, KerasTier, KerasTorchTier
from lowlevel_numpy.tier import NumpyTier
from midlevel_tf.tier import TFLayersTier, TFNnTier
from shared.contract import SavesNative, Tier

TIERS: list[type[Tier]] = [
    NumpyTier,
    TFNnTier,
    TFLayersTier,
    KerasTier,
    KerasJaxTier,
    KerasTorchTier,
]
NATIVE: list[type[SavesNative]] = [KerasTier, KerasJaxTier, KerasTorchTier]
