"""Gradient checking: the hand-written backward pass against centred finite differences.

For a scalar function ``L(w)`` and one entry ``w_i``:

    dL/dw_i  ~  (L(w + h e_i) - L(w - h e_i)) / (2 h)      (error O(h^2))

and the analytic gradient ``a`` passes when the relative error

    |a - n| / max(|a| + |n|, tiny)

is small (about 1e-7 or less in float64 with ``h = 1e-5`` for smooth functions). This is how we
know that ``backward`` is right: the test suite runs it for every activation, loss and the L2
term, in float64, with dropout off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lowlevel_numpy.model import MLP
from shared.training import training_targets

TINY = 1e-300


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> np.ndarray:
    """Elementwise ``|a - n| / max(|a| + |n|, tiny)``."""
    return np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), TINY)


def numerical_gradient(
    f: Callable[[], float], w: np.ndarray, indices: list[tuple[int, ...]], h: float = 1e-5
) -> np.ndarray:
    """Centred differences of ``f`` with respect to ``w[index]`` for each index (``w`` is
    perturbed in place and restored)."""
    grads = np.empty(len(indices))
    for k, index in enumerate(indices):
        original = w[index]
        w[index] = original + h
        plus = f()
        w[index] = original - h
        minus = f()
        w[index] = original
        grads[k] = (plus - minus) / (2 * h)
    return grads


@dataclass(frozen=True)
class GradCheckResult:
    """The largest relative error per parameter (``W1``, ``b1``, ...) and overall."""

    errors: dict[str, float]

    @property
    def max_error(self) -> float:
        return max(self.errors.values())


def check_gradients(
    model: MLP,
    x: np.ndarray,
    y: np.ndarray,
    *,
    term: str = "total",
    entries: int = 8,
    h: float = 1e-5,
    seed: int = 0,
    avoid_kinks: float = 1e-3,
) -> GradCheckResult:
    """Compare ``model``'s backward pass with finite differences on a few entries of each array.

    Args:
        model: a float64 ``MLP`` on the CPU, with dropout off.
        x, y: a batch of inputs ``(n, n_inputs)`` and integer labels ``(n,)`` (a regressor:
            targets ``(n, n_outputs)``).
        term: ``"data"`` (the data loss alone), ``"l2"`` (the L2 term alone) or ``"total"``.
        entries: how many randomly chosen entries of each parameter array to check.
        h: the finite-difference step.
        avoid_kinks: for ReLU, skip an entry whose nudge moves any pre-activation across zero
            by less than ``h`` (the derivative does not exist there), trying another.
    """
    if term not in ("data", "l2", "total"):
        raise ValueError(f"term must be data, l2 or total; got {term!r}")
    t = training_targets(y, model.spec, str(x.dtype))  # one-hot labels, or a regressor's
    l2 = model.l2

    def loss() -> float:
        if term == "l2":
            return float(model.l2_penalty())
        model.l2 = l2 if term == "total" else 0.0
        value = model.loss(model.forward(x), t)[0]
        model.l2 = l2
        return float(value)

    # Analytic gradients of the chosen term.
    z = model.forward(x)
    dz = model.loss(z, t)[1] if term != "l2" else np.zeros_like(z)
    model.l2 = l2 if term != "data" else 0.0
    analytic = [g.copy() for g in model.backward(dz)]
    model.l2 = l2

    rng = np.random.default_rng(seed)
    names = [f"{kind}{l + 1}" for l in range(len(model.layers)) for kind in ("W", "b")]
    errors = {}
    for name, w, a in zip(names, model.parameters, analytic):
        indices = _pick_entries(model, x, w, rng, entries, h, avoid_kinks)
        numeric = numerical_gradient(loss, w, indices, h)
        picked = np.array([a[index] for index in indices])
        errors[name] = float(relative_error(picked, numeric).max()) if indices else 0.0
    return GradCheckResult(errors)


def _pick_entries(model, x, w, rng, entries, h, avoid_kinks) -> list[tuple[int, ...]]:
    candidates = [
        tuple(int(i) for i in np.unravel_index(k, w.shape)) for k in rng.permutation(w.size)
    ]
    if model.spec.activation != "relu":
        return candidates[:entries]
    picked = []
    for index in candidates:
        if len(picked) == entries:
            break
        if _far_from_kinks(model, x, w, index, h + avoid_kinks * h):
            picked.append(index)
    return picked


def _far_from_kinks(model: MLP, x: np.ndarray, w: np.ndarray, index, margin: float) -> bool:
    """True when nudging ``w[index]`` by +-margin flips no ReLU in the network."""
    original = w[index]
    signs = []
    for delta in (-margin, margin):
        w[index] = original + delta
        model.forward(x)
        signs.append([z > 0 for z, _ in model._hidden])
    w[index] = original
    return all(np.array_equal(a, b) for a, b in zip(*signs))


def gradient_report(seed: int = 0) -> list[dict[str, object]]:
    """The gradient check of every activation with every output and loss pair, and of the L2
    term alone, on a small float64 network (4-7-5-3, a batch of 6): one row each."""
    from shared.init import init_params
    from shared.spec import ACTIVATIONS, ModelSpec

    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    rows = []
    cases = [
        (a, o, lo, "data")
        for a in ACTIVATIONS
        for o, lo in (("softmax", "cross_entropy"), ("softmax", "mse"), ("identity", "mse"))
    ]
    cases.append(("tanh", "softmax", "cross_entropy", "l2"))  # fmt: skip
    for activation, output, loss, term in cases:
        spec = ModelSpec(4, 3, (7, 5), activation, output, loss)
        model = MLP(spec, init_params(spec, seed + 1), l2=0.01 if term == "l2" else 0.0)
        result = check_gradients(model, x, y, term=term, seed=seed)
        rows.append({"activation": activation, "output": output, "loss": loss, "term": term,
                     "max_relative_error": result.max_error})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    """``python -m lowlevel_numpy.gradcheck``: print the gradient check of every case."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m lowlevel_numpy.gradcheck",
        description="Check the NumPy tier's hand-written gradients against centred finite "
        "differences, for every activation with every output and loss, and for the L2 term, on "
        "a small float64 network; exits with status 1 if any relative error is above 1e-7.",
    )
    parser.parse_args(argv)
    from rich.console import Console
    from rich.table import Table

    # Title and caption each shorter than the table, so that neither wraps in an 80-column terminal.
    table = Table(
        title="Gradient check: backward pass vs centred differences",
        caption="float64, step h = 1e-5",
        title_justify="left",
        caption_justify="left",
    )
    for column in ("term", "activation", "output + loss", "max relative error"):
        table.add_column(column, justify="right" if column.startswith("max") else "left")
    worst = 0.0
    for row in gradient_report():
        worst = max(worst, row["max_relative_error"])
        table.add_row(row["term"], row["activation"], f"{row['output']} + {row['loss']}",
                      f"{row['max_relative_error']:.1e}")  # fmt: skip
    console = Console()
    console.print(table)
    console.print(f"worst: {worst:.1e} (passes at <= 1e-7)")
    return 0 if worst <= 1e-7 else 1


if __name__ == "__main__":
    raise SystemExit(main())
