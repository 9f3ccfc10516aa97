"""Fixtures shared by the whole suite: isolation from the network and the user's cache, and
small models and data built in memory."""

from __future__ import annotations

import numpy as np
import pytest

from shared.data import Dataset, make_dataset
from shared.spec import DataSpec, ModelSpec, TrainSpec

# A closed port on the loopback interface: any download a test forgets to redirect fails fast
# instead of reaching the internet.
UNREACHABLE_MIRROR = "http://127.0.0.1:9/"


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MLP_TIERS_DATA", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("MLP_TIERS_MIRROR", UNREACHABLE_MIRROR)
    monkeypatch.setenv("COLUMNS", "120")


def blobs(n_per_class: int = 40, n_classes: int = 3, n_features: int = 5, seed: int = 0):
    """Gaussian blobs: an easy classification problem, made in memory."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, size=(n_classes, n_features))
    x = np.concatenate([c + rng.normal(size=(n_per_class, n_features)) for c in centres])
    y = np.repeat(np.arange(n_classes), n_per_class)
    return x, y


@pytest.fixture
def blob_data() -> Dataset:
    x, y = blobs()
    return make_dataset("blobs", x, y, DataSpec(name="blobs"))


@pytest.fixture
def small_model() -> ModelSpec:
    return ModelSpec(n_inputs=5, n_outputs=3, hidden=(8, 6), activation="tanh")


@pytest.fixture
def small_train() -> TrainSpec:
    return TrainSpec(optimizer="adam", lr=0.01, batch_size=16, epochs=3, dtype="float64")
