"""Datasets: the registry of named datasets and the user's own files.

``load_dataset(DataSpec(name="digits"))`` returns a validated, split and standardized
``Dataset``. The name is a registered dataset (``DATASETS``) or a path to an ``.npz`` or ``.csv``
file; ``task`` says whether its targets are class labels or numbers to predict, and a registered
dataset of the other task is refused with the flag to pass.
"""

from __future__ import annotations

from pathlib import Path

from shared.data.dataset import Dataset, make_dataset
from shared.data.files import SUFFIXES, load_file
from shared.data.sources import SOURCES
from shared.errors import DataError, UnknownNameError
from shared.spec import DataSpec

DATASETS = tuple(SOURCES)

__all__ = ["DATASETS", "SOURCES", "Dataset", "load_dataset", "make_dataset"]


def load_dataset(spec: DataSpec, task: str = "classification") -> Dataset:
    """The dataset that ``spec`` names, loaded, split and standardized, for ``task``
    (``classification`` or ``regression``)."""
    if spec.name in SOURCES:
        source = SOURCES[spec.name]
        if source.task != task:
            advice = ("pass --task regression" if source.task == "regression"
                      else "leave out --task regression")  # fmt: skip
            raise DataError(
                f"dataset {spec.name!r} is a {source.task} dataset, and the model is set up for "
                f"{task}: {advice}"
            )
        return source.load(spec)
    path = Path(spec.name).expanduser()
    if path.suffix.lower() in SUFFIXES or path.exists():
        return load_file(path, spec, task)
    raise UnknownNameError(
        f"unknown dataset {spec.name!r}; registered datasets are {', '.join(DATASETS)}, "
        "or give a path to an .npz or .csv file"
    )
