"""What the tiers are measured against in ``mlp-tiers bench``: the hardware floor and the
libraries a user would pick instead.

A peer is not a tier: it does not implement the ``Tier`` seam, and some import a framework, so
they live here, outside ``shared/`` (which stays framework-free). ``bench`` finds them through
``PEERS`` the way it finds tiers through ``mlp_tiers.registry.TIERS``: by module name, imported only
when the peer runs.

Every peer module has ``train(run, epochs, options, epoch_end) -> PeerResult``: it trains (or,
for the floor, computes) ``epochs`` epochs of the run's spec on its data, the same shapes, dtype
and batch size as the tiers, times each epoch's training steps alone, and calls ``epoch_end()``
after each (``bench`` marks there what the epoch compiled).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.errors import UnknownNameError
from shared.packages import installed

EpochEnd = Callable[[], object]


def no_hook() -> None:
    """The ``epoch_end`` of a peer run outside ``bench``: nothing to mark."""


@dataclass
class PeerResult:
    """What a peer measured: seconds of each epoch's training steps, and how well it learned:
    a classifier's test accuracy, or a regressor's test R² (``None`` for the floor, which
    computes matrix products and learns nothing)."""

    epoch_seconds: list[float]
    final_loss: float | None = None
    test_accuracy: float | None = None
    notes: list[str] = field(default_factory=list)
    test_r2: float | None = None

    @classmethod
    def scored(
        cls, seconds: list[float], loss: float | None, run: Any, outputs: Any, notes: Any = ()
    ) -> PeerResult:
        """The result of a peer whose test predictions are ``outputs (n_test, n_outputs)``
        (logits or probabilities of a classifier; a regressor's standardized predictions),
        scored by the code that scores the tiers."""
        import numpy as np

        from shared.metrics import evaluate_regression

        outputs, data = np.asarray(outputs), run.data
        if run.model.is_regression:
            r2 = evaluate_regression(outputs, data.y_test, *data.target_scaling).r2
            return cls(list(seconds), loss, None, list(notes), r2)
        accuracy = float((outputs.argmax(axis=1) == data.y_test).mean())
        return cls(list(seconds), loss, accuracy, list(notes))


@dataclass(frozen=True)
class PeerEntry:
    name: str
    module: str
    requires: tuple[str, ...]
    summary: str
    options: tuple[tuple[str, Any], ...] = ()

    def missing(self) -> list[str]:
        """Required packages that are not installed (found without importing them)."""
        return [pkg for pkg in self.requires if not installed(pkg)]

    def load(self) -> Callable[..., PeerResult]:
        return importlib.import_module(self.module).train


PEERS: dict[str, PeerEntry] = {
    entry.name: entry
    for entry in (
        PeerEntry("gemm-floor", "peers.floor", ("numpy",),
                  "the matrix products of every training step alone, in NumPy: the floor"),
        PeerEntry("sklearn", "peers.sklearn_mlp", ("sklearn",),
                  "scikit-learn's MLPClassifier (MLPRegressor), same architecture and optimizer"),
        PeerEntry("torch", "peers.torch_mlp", ("torch",),
                  "PyTorch: nn.Sequential and an idiomatic eager training loop"),
        PeerEntry("torch:compile", "peers.torch_mlp", ("torch",),
                  "PyTorch: the same loop with the step compiled by torch.compile",
                  (("compile", True),)),
        PeerEntry("jax-scan", "peers.jax_scan", ("jax",),
                  "JAX: a whole epoch jitted as one lax.scan, the floor of a compiled framework"),
    )
}  # fmt: skip


def get_peer(name: str) -> PeerEntry:
    if name not in PEERS:
        raise UnknownNameError(f"unknown peer {name!r}; peers are {', '.join(PEERS)}")
    return PEERS[name]
