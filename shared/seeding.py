"""Independent random streams derived from one seed.

Every random choice in a run (initial weights, batch order, dropout masks, dataset splits) comes
from its own stream, keyed by the run's seed, a purpose, and counters such as the epoch. Because a
stream depends only on these keys, a run resumed at epoch k draws exactly what an uninterrupted
run draws at epoch k: no generator state needs saving.
"""

import numpy as np

# Fixed numbers, one per purpose, so that streams never collide. Never renumber these: doing so
# would change every seeded result.
_PURPOSES = {"init": 1, "batches": 2, "dropout": 3, "split": 4, "synthetic": 5, "curve": 6}


def stream(seed: int, purpose: str, *keys: int) -> np.random.Generator:
    """A NumPy generator for ``purpose``, reproducible from ``(seed, purpose, *keys)``.

    NumPy's ``SeedSequence`` pads its entropy with zeros, so trailing zero keys do not count:
    ``stream(s, p, 3)`` and ``stream(s, p, 3, 0)`` are one stream. Each purpose therefore always
    takes the same number of keys.
    """
    if purpose not in _PURPOSES:
        raise ValueError(f"unknown random stream purpose {purpose!r}; known: {sorted(_PURPOSES)}")
    entropy = [int(seed), _PURPOSES[purpose], *(int(k) for k in keys)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))
