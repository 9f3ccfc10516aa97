"""Downloading dataset files once, checking their SHA-256, and caching them (with pooch).

The cache folder is the user cache folder (``~/.cache/mlp-tiers`` on Linux) unless the environment
variable ``MLP_TIERS_DATA`` names another. ``MLP_TIERS_MIRROR`` replaces the base address of
the mirror, for a test server or a local copy (``file:///path/to/folder/``, read from that
folder). A file already in the cache with the right checksum is
used without any network access.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.errors import DataError

CACHE_ENV = "MLP_TIERS_DATA"
MIRROR_ENV = "MLP_TIERS_MIRROR"
# The public mirror that keras.datasets downloads from.
DEFAULT_MIRROR = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


@dataclass(frozen=True)
class RemoteFile:
    """A file to download: its name (on the mirror and in the cache), its SHA-256 digest, and
    its own address when it is published elsewhere than on the mirror. ``MLP_TIERS_MIRROR``,
    when set, serves every file, these too, as mirror + name."""

    name: str
    sha256: str
    url: str | None = None

    def address(self) -> str:
        if self.url is not None and MIRROR_ENV not in os.environ:
            return self.url
        return mirror() + self.name


def cache_dir() -> Path:
    """Where downloaded files are kept."""
    import pooch

    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else Path(pooch.os_cache("mlp-tiers"))


def mirror() -> str:
    """The mirror's base address (``MLP_TIERS_MIRROR``, or the public one), ending in ``/``."""
    base = os.environ.get(MIRROR_ENV, DEFAULT_MIRROR)
    if not base.startswith(("http://", "https://", "file://")):
        raise DataError(
            f"{MIRROR_ENV} must be an address starting with http://, https:// or file://; "
            f"got {base!r}"
        )
    return base if base.endswith("/") else base + "/"


def fetch(file: RemoteFile, *, timeout: float = 30.0) -> Path:
    """The local path of ``file``, downloading it into the cache first if needed.

    Raises ``DataError`` with what to do when the file cannot be downloaded or does not match
    its checksum. A corrupted download is removed, never left in the cache.
    """
    import pooch
    import requests

    pooch.get_logger().setLevel("WARNING")  # no "Downloading data from ..." line per file
    folder = cache_dir()
    url = file.address()
    target = folder / file.name
    limit = total_time_limit()
    check_cache(folder)
    # A cached copy that fails its checksum is downloaded again; offline, that is what to say.
    stale = target.is_file() and pooch.file_hash(str(target)) != file.sha256
    try:
        path = pooch.retrieve(
            url,
            known_hash=f"sha256:{file.sha256}",
            fname=file.name,
            path=folder,
            downloader=functools.partial(_download, timeout=timeout, limit=limit),
        )
    except TimeoutError:
        raise DownloadError(file, url, target, f"no complete download within {limit:g} s") from None
    except ValueError as exc:
        if "hash" not in str(exc).lower():
            raise
        raise DataError(
            f"the download of {file.name} from {url} is corrupted (its SHA-256 is not "
            f"{file.sha256}); it was discarded, so try again or place a good copy at {target}"
        ) from None
    except (requests.exceptions.RequestException, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        if stale:
            raise DataError(
                f"the cached {file.name} at {target} does not match its SHA-256 ({file.sha256}): "
                f"it is damaged or another file, and a fresh copy cannot be downloaded from {url} "
                f"({reason}); replace it with a good copy, or delete it and download again"
            ) from None
        raise DownloadError(file, url, target, reason) from None
    return Path(path)


def check_cache(folder: Path) -> None:
    """A clear ``DataError`` when the cache folder is not a folder, or cannot be made."""
    named = f" ({CACHE_ENV} names it)" if CACHE_ENV in os.environ else ""
    if folder.exists() and not folder.is_dir():
        raise DataError(
            f"the dataset cache {folder}{named} is a file, not a folder; point {CACHE_ENV} at a "
            "folder for the downloaded datasets"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"cannot make the dataset cache {folder}{named}: {exc.strerror or exc}; point "
            f"{CACHE_ENV} at a folder this user can write"
        ) from None


TIME_LIMIT_ENV = "MLP_TIERS_DOWNLOAD_TIMEOUT"


def total_time_limit() -> float:
    """Seconds a whole download may take (``MLP_TIERS_DOWNLOAD_TIMEOUT``, 900 by default)."""
    text = os.environ.get(TIME_LIMIT_ENV, "900")
    try:
        limit = float(text)
    except ValueError:
        limit = -1.0
    if not limit > 0:
        raise DataError(f"{TIME_LIMIT_ENV} must be a number of seconds above 0; got {text!r}")
    return limit


def _download(url: str, output_file: Any, pooch_object: Any, check_only: bool = False, *,
              timeout: float, limit: float) -> Any:  # fmt: skip
    """pooch's downloader, with a limit on the whole download as well as on each wait: a
    server that trickles a byte every few seconds never trips a read timeout, so the loop reads
    what has arrived (``read1``) and checks the clock after each read. pooch writes into a
    temporary file and removes it when this raises."""
    import requests

    if url.startswith("file://"):  # a mirror in a local folder
        return _copy_local(url, output_file, check_only)
    deadline = time.monotonic() + limit
    with requests.get(url, stream=True, timeout=timeout) as response:
        if check_only:
            return response.ok
        response.raise_for_status()
        with contextlib.ExitStack() as stack:
            handle = output_file
            if not hasattr(output_file, "write"):  # pooch gives a path to write to
                handle = stack.enter_context(open(output_file, "w+b"))
            while chunk := response.raw.read1(1 << 16):
                handle.write(chunk)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no complete download within {limit:g} s")
    return None


def _copy_local(url: str, output_file: Any, check_only: bool) -> Any:
    """``_download`` for a ``file://`` address: the file's bytes copied into ``output_file``
    (pooch checks the checksum after); ``FileNotFoundError`` when the mirror lacks the file."""
    import shutil
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    source = Path(url2pathname(urlparse(url).path))
    if check_only:
        return source.is_file()
    if not source.is_file():
        raise FileNotFoundError(2, f"no file {source} in the local mirror")
    with open(source, "rb") as data, contextlib.ExitStack() as stack:
        handle = output_file
        if not hasattr(output_file, "write"):
            handle = stack.enter_context(open(output_file, "w+b"))
        shutil.copyfileobj(data, handle, 1 << 20)
    return None


class DownloadError(DataError):
    """A file that could not be downloaded: what it is, where from, and where it belongs."""

    def __init__(self, file: RemoteFile, url: str, target: Path, reason: str) -> None:
        self.file, self.url, self.target, self.reason = file, url, target, reason
        super().__init__(
            f"cannot download {file.name} from {url} ({reason}); to work offline, place the "
            f"file at {target} (SHA-256 {file.sha256}) or point {CACHE_ENV} at a folder that "
            "holds it"
        )


def fetch_all(files: list[RemoteFile], dataset: str) -> list[Path]:
    """The local paths of ``files``, downloading each that is missing; when some cannot be
    downloaded, one error lists every one of them, so that a user offline learns at once what
    to fetch and where to put it."""
    paths, missing = [], []
    for file in files:
        try:
            paths.append(fetch(file))
        except DownloadError as exc:
            missing.append(exc)
    if len(missing) == 1:
        raise missing[0]
    if missing:
        listed = "; ".join(
            f"{m.file.name} from {m.url} (SHA-256 {m.file.sha256}) at {m.target}" for m in missing
        )
        raise DataError(
            f"cannot download {len(missing)} files of {dataset} ({missing[0].reason}); to work "
            f"offline, place each at its path, or point {CACHE_ENV} at a folder that holds them: "
            f"{listed}"
        )
    return paths
