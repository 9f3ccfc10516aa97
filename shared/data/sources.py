"""The registered datasets.

- ``digits``: 1797 8x8 handwritten digits, 64 features, 10 classes; bundled with scikit-learn
  (offline); 20% held out for testing.
- ``mnist1d``: MNIST-1D, 4000 training and 1000 test signals of 40 points, 10 classes; generated
  locally by the reference generator.
- ``mnist``: 60000 training and 10000 test 28x28 digits, 784 features; downloaded once from the
  mirror keras.datasets uses, checksummed and cached.
- ``fashion_mnist``: Fashion-MNIST, the same shapes with 10 kinds of clothing; downloaded likewise.
- ``spirals``: interleaved 2-D spirals, any number of classes, generated locally.
- ``mnist_shaped``: random data of MNIST's shapes (784 features, 10 classes, 60000 training and
  10000 test samples), generated locally: for timing MNIST-sized runs without a download.

Regression (``--task regression``):

- ``diabetes``: 442 patients, 10 features, one target (disease progression after a year);
  bundled with scikit-learn (offline); 20% held out for testing.
- ``california_housing``: 20640 California districts of the 1990 census, 8 features, one
  target (median house value, in units of $100,000); downloaded once from the address
  scikit-learn uses, checksummed and cached.
- ``line``, ``parabola``, ``serpentine``: one input ``x`` in [-1, 1] and one target, a curve
  plus Gaussian noise (``noise``, 0.1 by default), generated locally: the first lessons, and
  pictures of every tier's fitted curve.
"""

from __future__ import annotations

import gzip
import io
import random
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.data.dataset import Dataset, make_dataset
from shared.data.download import RemoteFile, fetch, fetch_all
from shared.errors import DataError
from shared.resources import require_dataset
from shared.seeding import stream
from shared.spec import DataSpec

DIGIT_NAMES = tuple(str(d) for d in range(10))
FASHION_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

MNIST_FILE = RemoteFile(
    "mnist.npz", "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
)
FASHION_FILES = {
    "x_train": RemoteFile(
        "train-images-idx3-ubyte.gz",
        "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
    ),
    "y_train": RemoteFile(
        "train-labels-idx1-ubyte.gz",
        "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
    ),
    "x_test": RemoteFile(
        "t10k-images-idx3-ubyte.gz",
        "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
    ),
    "y_test": RemoteFile(
        "t10k-labels-idx1-ubyte.gz",
        "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
    ),
}


CALIFORNIA_FILE = RemoteFile(
    "cal_housing.tgz",
    "aaa5c9a6afe2225cc2aed2723682ae403280c4a3695a2ddda4ffb5d8215ea681",
    url="https://ndownloader.figshare.com/files/5976036",
)
CALIFORNIA_FEATURES = ("MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup",
                       "Latitude", "Longitude")  # fmt: skip


def _reject_options(name: str, spec: DataSpec, allowed: tuple[str, ...] = ()) -> None:
    for option in ("n_classes", "n_samples", "noise", "target"):
        if option not in allowed and getattr(spec, option) is not None:
            raise DataError(f"option {option} does not apply to dataset {name!r}")


def _with_test_split(
    name: str,
    arrays: dict[str, np.ndarray],
    spec: DataSpec,
    class_names: tuple[str, ...],
    description: str,
) -> Dataset:
    """A dataset that ships its own test split (``x_train``, ``y_train``, ``x_test``, ``y_test``):
    the test split is kept, and validation is held out of the training split."""
    return make_dataset(
        name, arrays["x_train"], arrays["y_train"], spec, class_names=class_names,
        test=(arrays["x_test"], arrays["y_test"]), description=description,
    )  # fmt: skip


def load_digits(spec: DataSpec) -> Dataset:
    from sklearn.datasets import load_digits as sklearn_digits

    _reject_options("digits", spec)
    bunch = sklearn_digits()
    return make_dataset(
        "digits",
        bunch.data,
        bunch.target,
        spec,
        class_names=DIGIT_NAMES,
        description="8x8 handwritten digits bundled with scikit-learn (UCI)",
    )


def load_mnist1d(spec: DataSpec) -> Dataset:
    """MNIST-1D (Greydanus, 2020) from its reference generator with its default arguments.

    The generator seeds NumPy's and Python's global random state; both are restored afterwards
    so that generating the data has no effect on the caller.
    """
    from mnist1d.data import get_dataset_args
    from mnist1d.data import make_dataset as generate

    _reject_options("mnist1d", spec)
    numpy_state, python_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        raw = generate(get_dataset_args())
    finally:
        np.random.set_state(numpy_state)  # noqa: NPY002
        random.setstate(python_state)
    arrays = {
        "x_train": raw["x"],
        "y_train": raw["y"],
        "x_test": raw["x_test"],
        "y_test": raw["y_test"],
    }
    return _with_test_split(
        "mnist1d",
        arrays,
        spec,
        DIGIT_NAMES,
        "MNIST-1D: 1-D signals of the ten digits, generated locally",
    )


def read_mnist_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of Keras's ``mnist.npz``: ``x_train``, ``y_train``, ``x_test``, ``y_test``."""
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in ("x_train", "y_train", "x_test", "y_test")}


def read_idx_gz(path: Path) -> np.ndarray:
    """A gzipped IDX file (the original MNIST format): a big-endian header, then uint8 data."""
    with gzip.open(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path} is truncated: expected {shape}, found {data.size} values")
    return data.reshape(shape)


def load_mnist(spec: DataSpec) -> Dataset:
    _reject_options("mnist", spec)
    arrays = read_mnist_npz(fetch(MNIST_FILE))
    return _with_test_split("mnist", arrays, spec, DIGIT_NAMES, "MNIST handwritten digits, 28x28")


def load_fashion_mnist(spec: DataSpec) -> Dataset:
    _reject_options("fashion_mnist", spec)
    paths = fetch_all(list(FASHION_FILES.values()), "fashion_mnist")
    arrays = {key: read_idx_gz(path) for key, path in zip(FASHION_FILES, paths)}
    return _with_test_split(
        "fashion_mnist",
        arrays,
        spec,
        FASHION_NAMES,
        "Fashion-MNIST (Zalando) clothing images, 28x28",
    )


def make_spirals(n_classes: int, n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved 2-D spirals, one arm per class.

    Sample ``i`` of class ``k`` lies at radius ``r = i / (n - 1)`` and angle
    ``theta = 2 pi k / K + 4 r + noise`` (``noise ~ N(0, 0.2^2)``), so every arm turns by four
    radians from the centre outwards, and the arms interleave.
    """
    rng = stream(seed, "synthetic")
    r = np.linspace(0.0, 1.0, n_per_class)
    xs, ys = [], []
    for k in range(n_classes):
        theta = 2 * np.pi * k / n_classes + 4 * r + rng.normal(0.0, 0.2, n_per_class)
        xs.append(np.column_stack([r * np.sin(theta), r * np.cos(theta)]))
        ys.append(np.full(n_per_class, k))
    return np.concatenate(xs), np.concatenate(ys)


def load_spirals(spec: DataSpec) -> Dataset:
    _reject_options("spirals", spec, allowed=("n_classes", "n_samples"))
    n_classes = spec.n_classes or 3
    n_samples = spec.n_samples or 200
    # Features, labels and the one-hot targets training makes of them: n x (2 + k).
    require_dataset((n_classes * n_samples, 2 + n_classes), f"spirals of {n_classes} x {n_samples}")
    x, y = make_spirals(n_classes, n_samples, spec.split_seed)
    return make_dataset(
        "spirals",
        x,
        y,
        spec,
        class_names=tuple(f"arm {k}" for k in range(n_classes)),
        feature_names=("x1", "x2"),
        description=f"{n_classes} interleaved 2-D spirals, {n_samples} points each",
    )


def make_mnist_shaped(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's shapes without MNIST: each class is a random 28x28 "prototype", pixels uniform in
    [0.43, 0.57], and a sample is its class's prototype plus Gaussian noise (std 0.3), clipped to
    [0, 1]. The classes overlap enough that the nearest class mean is right about 95% of the
    time, so accuracy and loss stay informative."""
    rng = stream(seed, "synthetic")
    prototypes = rng.uniform(0.43, 0.57, size=(10, 784))
    y = np.repeat(np.arange(10), n_per_class)
    x = prototypes[y] + rng.normal(0.0, 0.3, size=(len(y), 784))
    return np.clip(x, 0.0, 1.0, out=x), y


def load_mnist_shaped(spec: DataSpec) -> Dataset:
    _reject_options("mnist_shaped", spec, allowed=("n_samples",))
    n_per_class = spec.n_samples or 7000
    require_dataset((10 * n_per_class, 784 + 10), f"mnist_shaped with {n_per_class} per class")
    x, y = make_mnist_shaped(n_per_class, spec.split_seed)
    n_test = len(y) // 7  # MNIST's 10000 of 70000
    order = stream(spec.split_seed, "split", 784).permutation(len(y))
    test, train = order[:n_test], order[n_test:]
    return make_dataset(
        "mnist_shaped",
        x[train],
        y[train],
        spec,
        class_names=DIGIT_NAMES,
        test=(x[test], y[test]),
        description=f"random data of MNIST's shapes, {n_per_class} samples per class",
    )


def load_diabetes(spec: DataSpec) -> Dataset:
    from sklearn.datasets import load_diabetes as sklearn_diabetes

    _reject_options("diabetes", spec)
    bunch = sklearn_diabetes(scaled=False)  # the measurements as taken; standardized below
    return make_dataset(
        "diabetes", bunch.data, bunch.target, spec, task="regression",
        feature_names=tuple(bunch.feature_names), target_names=("progression",),
        description="442 diabetes patients bundled with scikit-learn (Efron et al., 2004)",
    )  # fmt: skip


def read_california(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The features and target of ``cal_housing.tgz``, derived as scikit-learn derives them.

    The archive's ``cal_housing.data`` holds nine raw columns per district: longitude,
    latitude, median age, total rooms, total bedrooms, population, households, median income
    and median house value. The features are the median income, the median age, rooms,
    bedrooms and occupants per household, the population, latitude and longitude; the target is
    the median house value in units of $100,000.
    """
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            member = archive.extractfile("CaliforniaHousing/cal_housing.data")
            text = member.read().decode("ascii") if member is not None else ""
        raw = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2)
    except (tarfile.TarError, KeyError, AttributeError, ValueError, OSError, EOFError) as exc:
        raise DataError(
            f"{path} is not the California housing archive (CaliforniaHousing/cal_housing.data "
            f"in a .tgz): {exc}"
        ) from None
    if raw.shape[1] != 9:
        raise DataError(f"{path}: cal_housing.data has {raw.shape[1]} columns, not 9")
    (longitude, latitude, age, rooms, bedrooms, population, households, income,
     value) = raw.T  # fmt: skip
    with np.errstate(divide="ignore", invalid="ignore"):  # a district without households
        x = np.column_stack([income, age, rooms / households, bedrooms / households,
                             population, population / households, latitude, longitude])  # fmt: skip
    return x, value / 100000.0


def load_california_housing(spec: DataSpec) -> Dataset:
    _reject_options("california_housing", spec)
    x, y = read_california(fetch(CALIFORNIA_FILE))
    return make_dataset(
        "california_housing", x, y, spec, task="regression",
        feature_names=CALIFORNIA_FEATURES, target_names=("MedHouseVal",),
        description="California housing, 1990 census: median house value ($100,000) per district",
    )  # fmt: skip


CURVES: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "line": (lambda x: 2.0 * x + 1.0, "y = 2x + 1"),
    "parabola": (lambda x: 2.0 * x**2 - 1.0, "y = 2x² - 1"),
    "serpentine": (lambda x: np.sin(2.0 * np.pi * x), "y = sin(2πx)"),
}


def make_curve(name: str, n_samples: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_samples`` points of curve ``name``: ``x`` uniform in [-1, 1] and ``y = f(x) + e``,
    ``e ~ N(0, noise^2)``."""
    rng = stream(seed, "curve", list(CURVES).index(name) + 1)  # one key: the curve
    x = rng.uniform(-1.0, 1.0, n_samples)
    return x[:, None], CURVES[name][0](x) + rng.normal(0.0, noise, n_samples)


def curve_loader(name: str) -> Callable[[DataSpec], Dataset]:
    def load(spec: DataSpec) -> Dataset:
        _reject_options(name, spec, allowed=("n_samples", "noise"))
        n_samples = spec.n_samples or 300
        noise = 0.1 if spec.noise is None else spec.noise
        require_dataset((n_samples, 2), f"{name} with {n_samples} samples")
        x, y = make_curve(name, n_samples, noise, spec.split_seed)
        return make_dataset(
            name, x, y, spec, task="regression", feature_names=("x",), target_names=("y",),
            description=f"{CURVES[name][1]} plus noise of std {noise:g}, {n_samples} points",
        )  # fmt: skip

    return load


@dataclass(frozen=True)
class Source:
    load: Callable[[DataSpec], Dataset]
    summary: str
    offline: bool
    task: str = "classification"


SOURCES: dict[str, Source] = {
    "digits": Source(load_digits, "8x8 handwritten digits, 1797 samples (bundled)", True),
    "mnist1d": Source(load_mnist1d, "MNIST-1D, 5000 1-D signals of 40 points (generated)", True),
    "mnist": Source(load_mnist, "MNIST, 70000 28x28 digits (downloaded once, 11 MB)", False),
    "fashion_mnist": Source(
        load_fashion_mnist,
        "Fashion-MNIST, 70000 28x28 clothing images (downloaded once, 30 MB)",
        False,
    ),
    "spirals": Source(load_spirals, "interleaved 2-D spirals, any number of classes", True),
    "mnist_shaped": Source(
        load_mnist_shaped, "random data of MNIST's shapes, for timing (generated)", True
    ),
    "diabetes": Source(
        load_diabetes,
        "diabetes progression, 442 patients, 10 features (bundled)",
        True,
        "regression",
    ),
    "california_housing": Source(
        load_california_housing,
        "California house values, 20640 districts, 8 features (downloaded once, 0.4 MB)",
        False,
        "regression",
    ),
    **{
        name: Source(
            curve_loader(name), f"{formula} plus noise, 1 input (generated)", True, "regression"
        )
        for name, (_, formula) in CURVES.items()
    },
}
