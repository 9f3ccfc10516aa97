"""The Keras tier: the same MLP as a ``keras.Sequential``, trained by ``compile`` and ``fit``.

Keras 3 runs one model definition on several backends; ``--backend tensorflow|jax|torch`` picks
one before Keras is imported (a process keeps the backend it started with).

Read in this order:

- ``highlevel_keras.model``: the spec as a ``Sequential`` holding the shared initial weights,
  compiled with Keras's loss, L2 regularizers and optimizer;
- ``highlevel_keras.tier``: building, compiling, ``fit`` and predicting;
- ``highlevel_keras.train``: the script.

Beside them, what is not the lesson: ``backend`` (choosing and configuring the backend: float64,
TF32, devices), ``batches`` (the shared batch order as a ``keras.utils.PyDataset``),
``callbacks`` (early stopping that survives a resume, the shared history) and ``resume`` (the
framework-neutral checkpoint).
"""
