"""The Keras tier: the same MLP as a ``keras.Sequential``, trained by ``compile`` and ``fit``.

Keras 3 runs one model definition on several backends; ``--backend tensorflow|jax|torch`` picks
one before Keras is imported (a process keeps the backend it started with).

- ``highlevel_keras.backend``: choosing and configuring the backend (float64, TF32, devices);
- ``highlevel_keras.model``: the spec as a ``Sequential``, compiled with Keras's losses,
  regularizers and optimizers;
- ``highlevel_keras.batches``: the shared batch order as a ``keras.utils.PyDataset``;
- ``highlevel_keras.tier``: the ``Tier`` protocol around ``model.fit``.
"""
