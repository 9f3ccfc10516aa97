"""One benchmark run of one entry, in a process of its own (started by ``mlp_tiers.bench``).

Reads ``{"entry", "kind", "config"}`` as JSON on standard input, trains the entry for the spec's
epochs, and prints one JSON line: the seconds of each epoch's training steps, the final loss, the
test accuracy (a regressor's test R²), the peak resident memory of this process while it trained
(the data already loaded), and the BLAS libraries it ran on. A failure prints one line on
standard error and exits 1.
"""

from __future__ import annotations

import json
import resource
import sys
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
    from mlp_tiers.runner import build_tier, prepare_run
    from mlp_tiers.threads import blas_info
    from shared.metrics import evaluate_for
    from shared.spec import config_from_dict

    run = prepare_run(config_from_dict(raw_config))
    epochs = run.train.epochs
    reset_peak_memory()  # what making the data took is not the entry's
    if kind == "peer":
        from peers import PEERS

        peer = PEERS[entry]
        result = peer.load()(run, epochs, dict(peer.options))
        seconds, loss, notes = result.epoch_seconds, result.final_loss, result.notes
        accuracy, r2 = result.test_accuracy, result.test_r2
    else:
        from mlp_tiers.registry import parse_tier

        name, options = parse_tier(entry)
        tier = build_tier(name, run, **options)
        history = tier.fit(run.data)
        seconds, loss = history.column("seconds"), history.last["loss"]
        outputs = tier.predict_proba(run.data.x_test)
        evaluation = evaluate_for(run.model, outputs, run.data.y_test, run.data.target_scaling)
        accuracy = None if run.model.is_regression else evaluation.accuracy  # type: ignore[union-attr]
        r2 = evaluation.r2 if run.model.is_regression else None  # type: ignore[union-attr]
        notes = []
    peak = peak_memory()
    return {
        "epoch_seconds": [float(s) for s in seconds],
        "final_loss": None if loss is None else float(loss),
        "test_accuracy": None if accuracy is None else float(accuracy),
        "test_r2": None if r2 is None else float(r2),
        "peak_rss_bytes": int(peak),
        "notes": notes,
        "blas": blas_info(),
    }


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
