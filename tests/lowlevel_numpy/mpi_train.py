"""Run by ``tests/lowlevel_numpy/test_replicas.py`` under ``mpiexec``: train the NumPy tier with
one replica per MPI process on each spec of a request file, and save the first replica's weights.

    mpiexec -n N python tests/lowlevel_numpy/mpi_train.py REQUEST.json OUT.npz
"""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mlp_tiers.runner import build_tier, prepare_run
from shared.spec import config_from_dict


def main(request: str, out: str) -> None:
    weights = {}
    for index, raw in enumerate(json.loads(Path(request).read_text())):
        run = prepare_run(config_from_dict(raw))
        tier = build_tier("numpy", run)
        tier.fit(run.data)
        for layer, (W, b) in enumerate(tier.get_params()):
            weights[f"{index}/W{layer}"], weights[f"{index}/b{layer}"] = W, b
        weights[f"{index}/step"] = np.array(tier.step)
    weights["processes"] = np.array(tier.replicas.comm.Get_size() if tier.replicas else 1)
    np.savez(f"{out}.rank{tier.replicas.rank if tier.replicas else 0}.npz", **weights)
    if tier.chief:
        np.savez(out, **weights)


if __name__ == "__main__":
    main(*sys.argv[1:])
