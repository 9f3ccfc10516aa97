"""Framework plumbing that the tiers share and the lesson does not need to read.

- ``adapters.tensorflow_setup``: TensorFlow imported quietly (its start-up notes dropped), with
  TF32 off, for the TensorFlow tier and for Keras on TensorFlow.
- ``adapters.keras_setup``: Keras imported on a chosen backend, its float type set per model, and
  a Keras optimizer's state read under the checkpoint's slot names; for the ``tf-layers`` flavour
  and the Keras tier.

The tiers never import each other, and ``shared/`` never imports a framework; what two tiers need
from one framework lives here, once.
"""
