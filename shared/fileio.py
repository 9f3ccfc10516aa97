"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import re
import stat
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


def file_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be read as a user's file, in a few words, or None if it can be opened:
    not found, a folder, a pipe or device, or a file this user may not read. The wording every
    reader of user files shares (datasets, checkpoints, reports, pictures, configs)."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "not found"
    except PermissionError:
        return "permission denied"
    except OSError as exc:  # a name too long, a loop of links
        return exc.strerror or str(exc)
    if stat.S_ISDIR(mode):
        return "it is a folder"
    if not stat.S_ISREG(mode):
        return "it is not a regular file (a pipe or a device)"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return None


def _without_blocking(path: str, flags: int) -> int:
    """``open``'s opener: a FIFO opens at once instead of waiting for a writer, and a terminal
    does not become this process's controlling terminal."""
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))


class Unreadable(Exception):
    """Why a user's file could not be read: ``str(exc)`` is a few words for a message."""


def read_bounded(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path``, refusing anything else and anything over
    ``limit`` bytes with ``Unreadable``.

    The file is opened without blocking and checked through its descriptor, so that a pipe, a
    device (``/dev/zero`` reads forever) or a file swapped in after a check is refused rather than
    read; at most ``limit + 1`` bytes are ever read, however the file grows meanwhile.
    """
    path = Path(path)
    try:
        handle = open(path, "rb", opener=_without_blocking)  # noqa: SIM115  # closed below
    except FileNotFoundError:
        raise Unreadable("not found") from None
    except IsADirectoryError:
        raise Unreadable("it is a folder") from None
    except PermissionError:
        raise Unreadable("permission denied") from None
    except OSError as exc:
        raise Unreadable(file_problem(path) or exc.strerror or str(exc)) from None
    with handle:
        mode = os.fstat(handle.fileno()).st_mode
        if stat.S_ISDIR(mode):
            raise Unreadable("it is a folder")
        if not stat.S_ISREG(mode):
            raise Unreadable("it is not a regular file (a pipe or a device)")
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise Unreadable(exc.strerror or str(exc)) from None
    if len(data) > limit:
        from shared.resources import size

        raise Unreadable(f"it is larger than {size(limit)}, the most this file can be")
    return data


def inside(folder: str | Path, name: str) -> Path:
    """``folder / name``, refused with ``Unreadable`` when that is a link (or under one) that
    leads out of ``folder``: a command reads from a folder only what the folder itself holds."""
    path = Path(folder) / name
    try:
        resolved = path.resolve(strict=False)
        root = Path(folder).resolve(strict=True)
    except (OSError, RuntimeError):
        raise Unreadable(f"{name} cannot be resolved (a loop of links)") from None
    if not resolved.is_relative_to(root):
        raise Unreadable(f"{name} is a link to {resolved}, outside the folder")
    return path


def npz_problem(path: Path) -> str | None:
    """Why ``path`` cannot be an ``.npz`` archive, in a few words, or None if it may be one:
    ``file_problem``'s reasons, or a file that is not a zip archive (an ``.npz`` is a zip file
    of ``.npy`` arrays)."""
    problem = file_problem(path)
    if problem:
        return problem
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
