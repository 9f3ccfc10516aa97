"""Fixtures shared by the whole suite: isolation from the network and the user's cache, and
small models and data built in memory."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from shared.data import Dataset, make_dataset
from shared.spec import DataSpec, ModelSpec, TrainSpec
from tests.helpers import blobs

# In CI the property tests draw the same examples on every run, so that a submission's result does
# not depend on the luck of the draw; locally they keep drawing new ones (and remember failures).
# No deadline in either: the property tests check results, not speed, and on a loaded 2-core
# machine one example can take longer than hypothesis's default 200 ms.
settings.register_profile("local", deadline=None)
settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "local")

# A closed port on the loopback interface: any download a test forgets to redirect fails fast
# instead of reaching the internet.
UNREACHABLE_MIRROR = "http://127.0.0.1:9/"


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MLP_TIERS_DATA", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("MLP_TIERS_MIRROR", UNREACHABLE_MIRROR)
    monkeypatch.setenv("COLUMNS", "120")


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


def pytest_terminal_summary(terminalreporter):
    """The skipped tests summed up by reason, one line each, instead of one line per test."""
    from collections import Counter

    reasons = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    if reasons:
        terminalreporter.section("skipped, by reason")
        for reason, count in reasons.most_common():
            terminalreporter.write_line(f"{count:5d}  {reason}")
