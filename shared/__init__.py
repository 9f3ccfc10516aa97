"""What every tier shares: specs, data, batch order, initial weights, checkpoints, evaluation.

Nothing here imports TensorFlow, Keras, JAX, CuPy or PyTorch at module level, so the NumPy tier and
every framework-free command run where none of them is installed.
"""

__version__ = "0.1.0"
