"""Downloads against a local HTTP server on 127.0.0.1: a good file, a corrupted one, none."""

import functools
import hashlib
import http.server
import threading

import numpy as np
import pytest

from shared.data import load_dataset, sources
from shared.data.download import RemoteFile, cache_dir, fetch, mirror
from shared.errors import DataError
from shared.spec import DataSpec
from tests.helpers import write_idx_gz


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """Serves the folder ``tmp_path / "mirror"`` and points the mirror variable at it."""
    root = tmp_path / "mirror"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("MLP_TIERS_MIRROR", f"http://127.0.0.1:{httpd.server_address[1]}/")
    yield root, httpd
    httpd.shutdown()
    httpd.server_close()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_good_file_is_downloaded_once_and_then_read_offline(server):
    root, httpd = server
    (root / "data.bin").write_bytes(b"mlp" * 1000)
    file = RemoteFile("data.bin", sha256(b"mlp" * 1000))
    path = fetch(file)
    assert path == cache_dir() / "data.bin"
    assert path.read_bytes() == b"mlp" * 1000
    httpd.shutdown()  # the server is gone: the cached, checked copy is used
    assert fetch(file).read_bytes() == b"mlp" * 1000


def test_corrupted_download_is_refused_and_discarded(server):
    root, _ = server
    (root / "data.bin").write_bytes(b"tampered")
    with pytest.raises(DataError, match="download of data.bin .* is corrupted"):
        fetch(RemoteFile("data.bin", sha256(b"original")))
    assert not (cache_dir() / "data.bin").exists()
    assert not any(cache_dir().iterdir())


def test_server_down_gives_offline_instructions(server):
    _, httpd = server
    httpd.shutdown()
    httpd.server_close()
    with pytest.raises(
        DataError, match="cannot download data.bin .* to work offline, place the file at"
    ):
        fetch(RemoteFile("data.bin", sha256(b"x")))


def test_missing_file_on_the_mirror(server):
    with pytest.raises(DataError, match="cannot download absent.bin"):
        fetch(RemoteFile("absent.bin", sha256(b"x")))


def test_corrupted_cache_is_replaced_by_a_good_download(server):
    root, _ = server
    (root / "data.bin").write_bytes(b"good")
    cache_dir().mkdir(parents=True, exist_ok=True)
    (cache_dir() / "data.bin").write_bytes(b"bad")
    assert fetch(RemoteFile("data.bin", sha256(b"good"))).read_bytes() == b"good"


def test_mnist_end_to_end_from_the_mirror(server, monkeypatch, tmp_path):
    """The whole mnist path (download, checksum, parse, split) on a small stand-in file."""
    root, _ = server
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, size=(60, 28, 28), dtype=np.uint8),
        "y_train": np.arange(60, dtype=np.uint8) % 10,
        "x_test": rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8),
        "y_test": np.arange(20, dtype=np.uint8) % 10,
    }
    np.savez(root / "mnist.npz", **arrays)
    digest = sha256((root / "mnist.npz").read_bytes())
    monkeypatch.setattr(sources, "MNIST_FILE", RemoteFile("mnist.npz", digest))
    data = load_dataset(DataSpec(name="mnist"))
    assert data.n_features == 784 and data.n_classes == 10
    assert len(data.y_test) == 20 and len(data.y_train) + len(data.y_val) == 60


def test_fashion_mnist_end_to_end_from_the_mirror(server, monkeypatch):
    root, _ = server
    rng = np.random.default_rng(0)
    parts = {
        "x_train": rng.integers(0, 256, size=(40, 28, 28)),
        "y_train": np.arange(40) % 10,
        "x_test": rng.integers(0, 256, size=(10, 28, 28)),
        "y_test": np.arange(10) % 10,
    }
    files = {}
    for key, array in parts.items():
        write_idx_gz(root / f"{key}.gz", array)
        files[key] = RemoteFile(f"{key}.gz", sha256((root / f"{key}.gz").read_bytes()))
    monkeypatch.setattr(sources, "FASHION_FILES", files)
    data = load_dataset(DataSpec(name="fashion_mnist"))
    assert data.class_names[0] == "T-shirt/top" and data.n_features == 784


def test_registered_mnist_without_network_or_cache_explains_what_to_do():
    with pytest.raises(DataError, match="cannot download mnist.npz .*SHA-256 731c5ac6"):
        load_dataset(DataSpec(name="mnist"))


def test_offline_every_missing_file_is_listed_with_its_url_digest_and_place(server):
    """A dataset of several files: the error names each one that is missing, not the first."""
    from shared.data.download import fetch_all

    root, _ = server
    (root / "present.bin").write_bytes(b"here")
    files = [
        RemoteFile("present.bin", sha256(b"here")),
        RemoteFile("absent-1.bin", sha256(b"one")),
        RemoteFile("absent-2.bin", sha256(b"two")),
    ]
    with pytest.raises(DataError) as error:
        fetch_all(files, "twofiles")
    message = str(error.value)
    assert message.startswith("cannot download 2 files of twofiles")
    for name, digest in (("absent-1.bin", sha256(b"one")), ("absent-2.bin", sha256(b"two"))):
        assert f"{name} from {mirror()}{name} (SHA-256 {digest}) at {cache_dir() / name}" in message
    assert "present.bin" not in message and len(message.splitlines()) == 1
    assert (cache_dir() / "present.bin").read_bytes() == b"here"


def test_a_server_that_trickles_is_given_up_on_after_the_time_limit(tmp_path, monkeypatch):
    """One byte every 0.2 s never trips a read timeout; the limit on the whole download does,
    and nothing is left in the cache."""
    import time

    class Trickle(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(1000):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass  # the client hung up: what the test wants

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("MLP_TIERS_MIRROR", f"http://127.0.0.1:{httpd.server_address[1]}/")
    monkeypatch.setenv("MLP_TIERS_DOWNLOAD_TIMEOUT", "1.5")
    start = time.monotonic()
    try:
        with pytest.raises(
            DataError, match=r"cannot download slow.bin .*no complete download within 1.5 s"
        ):
            fetch(RemoteFile("slow.bin", sha256(b"x" * 1000)))
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert time.monotonic() - start < 10
    assert not cache_dir().exists() or list(cache_dir().iterdir()) == []


def test_the_time_limit_must_be_a_positive_number(monkeypatch):
    monkeypatch.setenv("MLP_TIERS_DOWNLOAD_TIMEOUT", "soon")
    with pytest.raises(DataError, match="MLP_TIERS_DOWNLOAD_TIMEOUT must be a number of seconds"):
        fetch(RemoteFile("any.bin", sha256(b"x")))


def california_archive(path, rows):
    """A ``cal_housing.tgz`` stand-in: ``rows`` of the nine raw columns, as the real one holds."""
    import io
    import tarfile

    text = "".join(",".join(f"{v:.6g}" for v in row) + "\n" for row in rows).encode()
    with tarfile.open(path, "w:gz") as archive:
        member = tarfile.TarInfo("CaliforniaHousing/cal_housing.data")
        member.size = len(text)
        archive.addfile(member, io.BytesIO(text))


def test_california_housing_end_to_end_from_the_mirror(server, monkeypatch):
    """Download, checksum, the features derived as scikit-learn derives them (per household),
    the target in $100,000, and a split of 20% for testing."""
    root, _ = server
    rng = np.random.default_rng(0)
    n = 100
    # longitude, latitude, age, rooms, bedrooms, population, households, income, value
    rows = np.column_stack([
        rng.uniform(-124, -114, n), rng.uniform(32, 42, n), rng.integers(1, 52, n),
        rng.integers(500, 5000, n), rng.integers(100, 1000, n), rng.integers(300, 3000, n),
        rng.integers(100, 1000, n), rng.uniform(0.5, 15, n), rng.uniform(15000, 500001, n),
    ])  # fmt: skip
    california_archive(root / "cal_housing.tgz", rows)
    digest = sha256((root / "cal_housing.tgz").read_bytes())
    monkeypatch.setattr(sources, "CALIFORNIA_FILE", RemoteFile("cal_housing.tgz", digest))
    data = load_dataset(DataSpec(name="california_housing"), "regression")
    assert data.task == "regression" and data.target_names == ("MedHouseVal",)
    assert data.feature_names[:3] == ("MedInc", "HouseAge", "AveRooms")
    assert len(data.y_test) == 20 and data.n_features == 8
    x, y = sources.read_california(root / "cal_housing.tgz")
    np.testing.assert_allclose(x[:, 2], rows[:, 3] / rows[:, 6], rtol=1e-5)  # rooms per household
    np.testing.assert_allclose(x[:, 5], rows[:, 5] / rows[:, 6], rtol=1e-5)  # occupants
    np.testing.assert_allclose(y, rows[:, 8] / 1e5, rtol=1e-5)
    everything = np.concatenate([data.y_train, data.y_val, data.y_test])
    assert sorted(data.in_target_units(everything)[:, 0]) == pytest.approx(sorted(y))


def test_california_housing_offline_names_its_file_and_checksum():
    with pytest.raises(DataError, match="cannot download cal_housing.tgz .*SHA-256 aaa5c9a6"):
        load_dataset(DataSpec(name="california_housing"), "regression")


def test_a_file_published_elsewhere_is_fetched_from_the_mirror_when_one_is_set(monkeypatch):
    monkeypatch.delenv("MLP_TIERS_MIRROR")
    assert sources.CALIFORNIA_FILE.address() == "https://ndownloader.figshare.com/files/5976036"
    monkeypatch.setenv("MLP_TIERS_MIRROR", "http://127.0.0.1:8000/data")
    assert sources.CALIFORNIA_FILE.address() == "http://127.0.0.1:8000/data/cal_housing.tgz"


def test_a_damaged_california_archive_is_refused_in_one_line(tmp_path):
    (tmp_path / "cal_housing.tgz").write_bytes(b"not a tarball")
    with pytest.raises(DataError, match="is not the California housing archive"):
        sources.read_california(tmp_path / "cal_housing.tgz")


def test_a_local_folder_serves_as_the_mirror(tmp_path, monkeypatch):
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "a.bin").write_bytes(b"hello")
    monkeypatch.setenv("MLP_TIERS_MIRROR", (tmp_path / "mirror").as_uri())
    monkeypatch.setenv("MLP_TIERS_DATA", str(tmp_path / "cache"))
    assert fetch(RemoteFile("a.bin", sha256(b"hello"))).read_bytes() == b"hello"
    with pytest.raises(DataError, match="no file .*b.bin in the local mirror"):
        fetch(RemoteFile("b.bin", sha256(b"hello")))


def test_a_damaged_cached_file_that_cannot_be_downloaded_again_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("MLP_TIERS_MIRROR", (tmp_path / "empty-mirror").as_uri())
    monkeypatch.setenv("MLP_TIERS_DATA", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "a.bin").write_bytes(b"damaged")
    with pytest.raises(DataError, match="the cached a.bin at .* does not match its SHA-256"):
        fetch(RemoteFile("a.bin", sha256(b"hello")))


def test_a_cache_folder_that_is_a_file_is_a_cache_error(tmp_path, monkeypatch):
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("MLP_TIERS_DATA", str(tmp_path / "not-a-folder"))
    with pytest.raises(DataError, match=r"the dataset cache .* \(MLP_TIERS_DATA names it\) is a "
                       "file, not a folder"):  # fmt: skip
        fetch(RemoteFile("a.bin", sha256(b"hello")))
