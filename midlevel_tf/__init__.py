"""The TensorFlow tier: the same MLP, with TensorFlow computing the gradients.

Two flavours, one training step and one training loop (``midlevel_tf.tier``):

- ``tf-nn`` (``midlevel_tf.nn``, ``midlevel_tf.optimizers``): parameters as ``tf.Variable``s, the
  forward pass and the loss from ``tf.matmul`` and ``tf.nn`` ops, the optimizer updates written
  with TensorFlow ops.
- ``tf-layers`` (``midlevel_tf.layers``): the network from Keras ``Dense`` layer objects (the
  TensorFlow 2 successor of ``tf.layers``), with Keras's loss and optimizer, in a custom
  ``tf.GradientTape`` loop.

Read in this order: ``nn`` -> ``optimizers`` -> ``layers`` -> ``tier`` (the step, compiled with
``tf.function``, and the loop) -> ``train`` (the script). ``runtime`` places the work on a
device; ``multistep`` is the faster loop, a variant (16 steps per call into TensorFlow).

Both compile the train step with ``tf.function`` by default; ``mode="eager"`` runs it op by op,
and ``mode="jit"`` compiles it with XLA; ``steps_per_call=16`` is the variant ``steps16``.
"""
