"""One benchmark run of one entry, in a process of its own (started by ``mlp_tiers.bench``).

Reads ``{"entry", "kind", "config"}`` as JSON on standard input, trains the entry for the spec's
epochs, and prints one JSON line: the seconds of each epoch's training steps, what each epoch
compiled (``mlp_tiers.compiles``), a tier's fixed cost of a first and a later ``fit`` call, the
final loss, the test accuracy (a regressor's test R²), the peak resident memory of this process
while it trained (the data already loaded), and the BLAS libraries it ran on. A failure prints
one line on standard error and exits 1.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

import numpy as np


def reset_peak_memory() -> None:
    """Start the peak resident memory afresh (Linux: ``clear_refs``); elsewhere a no-op, and the
    peak then covers the whole process."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        pass


def peak_memory() -> int:
    """The peak resident memory of this process since ``reset_peak_memory``, in bytes."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    # ru_maxrss is in kibibytes on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def measure(entry: str, kind: str, raw_config: dict[str, Any]) -> dict[str, Any]:
    from mlp_tiers.compiles import CompileWatch, EpochCompiles
    from mlp_tiers.runner import prepare_run
    from mlp_tiers.threads import blas_info
    from shared.spec import config_from_dict

    run = prepare_run(config_from_dict(raw_config))
    reset_peak_memory()  # what making the data took is not the entry's
    watch = CompileWatch(jax=uses_jax(entry, kind))
    compiles = EpochCompiles(watch)
    if kind == "peer":
        result = measure_peer(entry, run, compiles)
    else:
        result = measure_tier(entry, run, compiles)
    return {
        **result,
        "epoch_compiles": compiles.to_json(),
        "peak_rss_bytes": int(peak_memory()),
        "blas": blas_info(),
    }


def uses_jax(entry: str, kind: str) -> bool:
    """Whether the entry runs on JAX (its compiles are then counted)."""
    if kind == "peer":
        from peers import PEERS

        return "jax" in PEERS[entry].requires
    from mlp_tiers.registry import TIERS, parse_tier

    return TIERS[parse_tier(entry)[0]].keras_backend == "jax"


def measure_peer(entry: str, run: Any, compiles: Any) -> dict[str, Any]:
    from peers import PEERS

    peer = PEERS[entry]
    result = peer.load()(run, run.train.epochs, dict(peer.options), epoch_end=compiles.mark)
    return {
        "epoch_seconds": [float(s) for s in result.epoch_seconds],
        "final_loss": _number(result.final_loss),
        "test_accuracy": _number(result.test_accuracy),
        "test_r2": _number(result.test_r2),
        "notes": result.notes,
        "call_seconds": None,  # a peer has no fit call to time
    }


def measure_tier(entry: str, run: Any, compiles: Any) -> dict[str, Any]:
    """The tier trains the spec's epochs in one ``fit`` call, then one epoch more in a second
    call on the same dataset, as a notebook's next ``fit`` on ``run.data`` does. On data without
    validation rows, so that what a call spends outside its epochs' steps is the call's own: the
    first call's (its set-up, and what the loop does between its epochs) and a later one's. The
    second call's epoch is not one of the timed epochs."""
    import dataclasses

    from mlp_tiers.registry import parse_tier
    from mlp_tiers.runner import build_tier
    from shared.metrics import evaluate_for

    data = dataclasses.replace(run.data, x_val=run.data.x_val[:0], y_val=run.data.y_val[:0])
    name, options = parse_tier(entry)
    tier = build_tier(name, run, **options)
    start = time.perf_counter()
    history = tier.fit(data, callbacks=[compiles])
    first_call = time.perf_counter() - start
    seconds, loss = history.column("seconds"), history.last["loss"]
    outputs = tier.predict_proba(run.data.x_test)  # scored after the spec's epochs
    tier.train_spec = dataclasses.replace(tier.train_spec, epochs=tier.epoch + 1)
    start = time.perf_counter()
    later = tier.fit(data)
    later_call = time.perf_counter() - start
    evaluation = evaluate_for(run.model, outputs, run.data.y_test, run.data.target_scaling)
    regression = run.model.is_regression
    return {
        "epoch_seconds": [float(s) for s in seconds],
        "final_loss": _number(loss),
        "test_accuracy": None if regression else float(evaluation.accuracy),  # type: ignore[union-attr]
        "test_r2": float(evaluation.r2) if regression else None,  # type: ignore[union-attr]
        "notes": [],
        # what each call spent outside its epochs' timed steps
        "call_seconds": [first_call - sum(seconds), later_call - later.last["seconds"]],
    }


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def main() -> int:
    request = json.loads(sys.stdin.read())
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            result = measure(request["entry"], request["kind"], request["config"])
    except Exception as exc:  # reported as the entry's row, not as a traceback
        print(f"{type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
