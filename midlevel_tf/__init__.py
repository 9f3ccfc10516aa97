"""The TensorFlow tier: the same MLP, with TensorFlow computing the gradients.

Two flavours, one training loop (``midlevel_tf.tier``):

- ``tf-nn`` (``midlevel_tf.nn``): parameters as ``tf.Variable``s, the forward pass and the loss
  from ``tf.matmul`` and ``tf.nn`` ops, the optimizer updates written with TensorFlow ops.
- ``tf-layers`` (``midlevel_tf.layers``): the network from Keras ``Dense`` layer objects (the
  TensorFlow 2 successor of ``tf.layers``), with Keras's losses and optimizers, in a custom
  ``tf.GradientTape`` loop.

Both compile the train step with ``tf.function`` by default; ``mode="eager"`` runs it op by op,
and ``mode="jit"`` compiles it with XLA.
"""
