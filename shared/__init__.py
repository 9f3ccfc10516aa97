"""The common interface every tier imports: framework-free, and nothing else.

Specs (``spec``), datasets (``data``), the batch order (``batching``), seeds (``seeding``),
initial weights (``init``), the contract a tier meets (``contract``), the loop helpers
(``training``, ``early_stopping``, ``callbacks``), the history (``history``), evaluation
(``metrics``), checkpoints (``checkpoint``), errors (``errors``), atomic files and signals
(``fileio``, ``signals``), memory and thread budgets (``resources``) and installed packages
(``packages``).

Nothing here imports TensorFlow, Keras, JAX, CuPy or PyTorch, nor any tool of ``mlp_tiers``, so
the NumPy tier runs where none of them is installed. The tools that drive and measure tiers (the
command line, run folders, parity, bench, the study page) live in ``mlp_tiers/``.
"""

__version__ = "0.1.0"
