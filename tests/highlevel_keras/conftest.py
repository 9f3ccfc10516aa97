"""The Keras tests run against the Keras tier of this process's backend.

Keras picks its backend once per process, from ``KERAS_BACKEND`` (TensorFlow by default); ``make
test`` runs the suite once per installed backend. ``keras_tier`` names the tier under test:
``keras``, ``keras-jax`` or ``keras-torch``.
"""

import pytest

from mlp_tiers.registry import TIERS, process_keras_backend

TIER_OF_BACKEND = {entry.keras_backend: name for name, entry in TIERS.items()
                   if name.startswith("keras")}  # fmt: skip


@pytest.fixture(scope="session")
def keras_tier() -> str:
    backend = process_keras_backend()
    name = TIER_OF_BACKEND[backend]
    missing = TIERS[name].missing()
    if missing:
        pytest.skip(f"the Keras tier on {backend} needs {', '.join(missing)}, not installed")
    return name


@pytest.fixture(scope="session")
def backend() -> str:
    return process_keras_backend()
