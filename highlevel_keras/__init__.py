"""The Keras tier: the same MLP as a ``keras.Sequential``, trained by ``compile`` and ``fit``.

Keras 3 runs one model definition on several backends; ``--backend tensorflow|jax|torch`` picks
one before Keras is imported (a process keeps the backend it started with).

Read ``highlevel_keras.tier``: the spec as a ``Sequential`` holding the shared initial weights,
compiled with Keras's loss, L2 regularizers and optimizer, then ``fit`` and ``predict``; then
``highlevel_keras.train``, the script.

Beside them, what is not the lesson: ``backend`` (choosing and configuring the backend: float64,
TF32, devices) and ``support`` (the shared batch order fed to ``fit``, the history recorder,
early stopping that survives a resume, the framework-neutral checkpoint, the parity probe).
"""
