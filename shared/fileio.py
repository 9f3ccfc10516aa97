"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from shared.signals import held


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files readable by their owner only; written files get the usual permissions.
_FILE_MODE = 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success, fsync it and rename it onto ``path``.

    If the block raises, the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        # Held: a Ctrl-C between creating the file and knowing its name would leave it behind.
        with held():
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_prefix(path.name), suffix=".tmp")
        os.chmod(tmp, _FILE_MODE)
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def _prefix(name: str) -> str:
    """``.NAME.PID.``: the process that writes a temporary file is in its name, so that one left
    behind by a process that was killed outright (SIGKILL, a power cut) can be told from one
    being written now (``remove_stale_temporaries``)."""
    return f".{name}.{os.getpid()}."


# ``mkstemp`` adds 8 characters between the prefix and the suffix (.tmp, or .keras for a model).
_TEMPORARY = re.compile(r"^\..+\.(\d+)\.[a-z0-9_]{8}\.(?:tmp|keras)$")


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporary files in ``folder`` whose writing process no longer exists; the
    removed paths. A signal that can be caught removes its own (``atomic_write``); SIGKILL
    cannot be caught, and leaves one for this to clear on the next resume."""
    removed = []
    for entry in Path(folder).glob(".*"):
        match = _TEMPORARY.match(entry.name)
        if match is None or not entry.is_file() or _alive(int(match.group(1))):
            continue
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
            removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process, or not a process id at all: leave it alone
    return True


def _remove(tmp: str | None) -> None:
    with held(), contextlib.suppress(FileNotFoundError):
        if tmp is not None:
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """``atomic_write`` for writers that want a file name: a temporary path beside ``path``, with
    the same suffix, renamed onto ``path`` when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        with held():
            fd, tmp = tempfile.mkstemp(
                dir=path.parent, prefix=_prefix(path.stem), suffix=path.suffix
            )
            os.close(fd)
        yield Path(tmp)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def npz_problem(path: Path) -> str | None:
    """Why ``path`` cannot be an ``.npz`` archive, in a few words, or None if it may be one:
    a folder, a pipe or device, a file that cannot be read, or one that is not a zip archive
    (an ``.npz`` is a zip file of ``.npy`` arrays)."""
    if path.is_dir():
        return "it is a folder"
    if not path.is_file():
        return "it is not a regular file (a pipe or a device)" if path.exists() else "not found"
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except PermissionError:
        return "permission denied"
    except OSError as exc:
        return exc.strerror or str(exc)
    if magic != b"PK\x03\x04":
        return "it is not a valid .npz archive (a zip archive of .npy arrays)"
    return None


def npz_bytes(path: Path) -> float:
    """What loading every array of the ``.npz`` at ``path`` would allocate, read from the arrays'
    headers alone (an archive may claim shapes far larger than the file)."""
    import zipfile

    import numpy as np

    total = 0.0
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if not member.endswith(".npy"):
                continue
            with archive.open(member) as handle:
                major, _ = np.lib.format.read_magic(handle)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if major == 1
                    else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read_header(handle, max_header_size=100_000)
            count = 1.0
            for n in shape:
                count *= float(n)
            total += count * dtype.itemsize
    return total
