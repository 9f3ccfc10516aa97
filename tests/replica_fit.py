"""Run in a fresh process by the replica tests: train one tier on each spec of a request file
data parallel and on one device, and write how far apart they end.

    python tests/replica_fit.py TIER REQUEST.json OUT.json

A fresh process, because the devices the replicas run on are fixed when a framework starts:
TensorFlow's logical CPU devices, JAX's host devices (``XLA_FLAGS``).
"""

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlp_tiers.parity import replicas_run
from mlp_tiers.runner import build_tier, prepare_run
from shared.spec import config_from_dict


def normwise(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def main(tier_name: str, request: str, out: str) -> None:
    answers = []
    for raw in json.loads(Path(request).read_text()):
        run = prepare_run(config_from_dict(raw))
        replicated = build_tier(tier_name, run)
        replicated.fit(run.data)
        one = dataclasses.replace(run, train=dataclasses.replace(run.train, replicas=1))
        single = build_tier(tier_name, one)
        single.fit(run.data)
        errors = [
            normwise(a, b)
            for pair, ref in zip(replicated.get_params(), single.get_params(), strict=True)
            for a, b in zip(pair, ref, strict=True)
        ]
        answers.append({
            "replicas_run": replicas_run(replicated),  # as the engine counts them
            "steps": [replicated.step, single.step],
            "error": max(errors),
            "loss": [replicated.history.records[-1]["loss"], single.history.records[-1]["loss"]],
            "note": getattr(replicated, "replica_note", None),
        })  # fmt: skip
    Path(out).write_text(json.dumps(answers))


if __name__ == "__main__":
    main(*sys.argv[1:])
