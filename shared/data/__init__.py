"""Datasets: the registry of named datasets and the user's own files.

``load_dataset(DataSpec(name="digits"))`` returns a validated, split and standardized
``Dataset``. The name is a registered dataset (``DATASETS``) or a path to an ``.npz`` or ``.csv``
file.
"""

from __future__ import annotations

from pathlib import Path

from shared.data.dataset import Dataset, make_dataset
from shared.data.files import SUFFIXES, load_file
from shared.data.sources import SOURCES
from shared.errors import UnknownNameError
from shared.spec import DataSpec

DATASETS = tuple(SOURCES)

__all__ = ["DATASETS", "SOURCES", "Dataset", "load_dataset", "make_dataset"]


def load_dataset(spec: DataSpec) -> Dataset:
    """The dataset that ``spec`` names, loaded, split and standardized."""
    if spec.name in SOURCES:
        return SOURCES[spec.name].load(spec)
    path = Path(spec.name).expanduser()
    if path.suffix.lower() in SUFFIXES or path.exists():
        return load_file(path, spec)
    raise UnknownNameError(
        f"unknown dataset {spec.name!r}; registered datasets are {', '.join(DATASETS)}, "
        "or give a path to an .npz or .csv file"
    )
