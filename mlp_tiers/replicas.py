"""Running a tier's data-parallel replicas from the tools (``compare``, ``parity``, ``bench``).

A replicated run needs processes set up for it before its framework starts: the NumPy tier one
MPI process per replica (``mpiexec -n N``); TensorFlow its CPU split into logical devices, and
JAX its host devices, both fixed when the framework first runs. So the tools run a replicated
tier in processes of its own: under ``mpiexec`` for the NumPy tier, in one fresh Python process
for the others.

    python -m mlp_tiers.replicas REQUEST ANSWER     # what each MPI process runs (internal)
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from shared.errors import BackendError, SpecError


def check_capable(name: str) -> str:
    """How tier ``name`` runs data parallel (``TierEntry.data_parallel``); a clear error when it
    cannot."""
    from mlp_tiers.registry import TIERS

    engine = TIERS[name].data_parallel
    if engine is None:
        capable = ", ".join(tier for tier, entry in TIERS.items() if entry.data_parallel)
        raise SpecError(
            f"tier {name!r} has no data-parallel path (Keras on PyTorch: keras.distribution "
            f"runs on JAX only); the tiers that take --replicas are {capable}"
        )
    return engine


def run_replicated(name: str, replicas: int, fn: Any, *args: Any) -> Any:
    """``fn(*args)`` where tier ``name`` can run ``replicas`` replicas: under ``mpiexec`` for the
    NumPy tier (every process runs it; the first one's answer comes back), in a fresh Python
    process for the others. ``fn`` and its arguments must be picklable."""
    check_capable(name)
    if name != "numpy":
        from mlp_tiers.registry import run_in_new_process

        return run_in_new_process(fn, *args)
    return _under_mpiexec(replicas, fn, args)


def mpiexec() -> str:
    """The ``mpiexec`` beside this Python (the ``mpich`` wheel puts it there), or on the PATH."""
    beside = Path(sys.executable).with_name("mpiexec")
    found = str(beside) if beside.is_file() else shutil.which("mpiexec")
    if found is None:
        raise SpecError(
            "--replicas on the NumPy tier runs one MPI process per replica, and there is no "
            "mpiexec beside this Python or on the PATH; pip install 'mlp-tiers[mpi]'"
        )
    return found


def _under_mpiexec(replicas: int, fn: Any, args: tuple[Any, ...]) -> Any:
    with tempfile.TemporaryDirectory(prefix="mlp-tiers-replicas-") as folder:
        request, answer = Path(folder) / "request.pickle", Path(folder) / "answer.pickle"
        request.write_bytes(pickle.dumps((fn, args)))
        command = [mpiexec(), "-n", str(replicas), sys.executable, "-m", "mlp_tiers.replicas",
                   str(request), str(answer)]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _, errors = process.communicate()  # the run's own length: as long as training takes
        finally:  # a signal that interrupts the wait stops the MPI processes too
            if process.poll() is None:
                process.terminate()
                process.wait()
        if not answer.is_file():
            last = errors.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
            raise BackendError(
                f"the {replicas} MPI processes of the NumPy tier ended without an answer "
                f"(exit status {process.returncode}): {last[0]}"
            )
        ok, value = pickle.loads(answer.read_bytes())  # written by this tool's own worker
    if not ok:
        raise value
    return value


def _serve(request: str, answer: str) -> None:
    """In each MPI process: run the request; the first process writes the answer."""
    from mpi4py import MPI

    fn, args = pickle.loads(Path(request).read_bytes())
    try:
        reply = (True, fn(*args))
    except Exception as exc:  # the tier's own error, raised again in the tool
        reply = (False, exc)
    if MPI.COMM_WORLD.Get_rank() == 0:
        temporary = Path(f"{answer}.{os.getpid()}.tmp")
        temporary.write_bytes(pickle.dumps(reply))
        temporary.replace(answer)
    if not reply[0]:  # a non-zero exit makes mpiexec stop the processes still waiting on this one
        print(f"{type(reply[1]).__name__}: {reply[1]}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    _serve(*sys.argv[1:3])
