"""The notebooks: each runs top to bottom from its source, and the committed ``.ipynb`` is that
source, executed (``scripts/notebooks`` holds the checks; ``make notebooks`` rebuilds)."""

from __future__ import annotations

import copy
import importlib.util
import re
import runpy
import shutil
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

for module in ("jupytext", "nbformat", "nbclient", "ipykernel"):
    if importlib.util.find_spec(module) is None:
        pytest.skip(
            f"{module} is not installed (pip install -e '.[dev]' brings it), so the notebooks "
            "cannot be read or run",
            allow_module_level=True,
        )

import nbformat
from nbclient.exceptions import CellExecutionError

tool = runpy.run_path(str(ROOT / "scripts" / "notebooks"))
SOURCES = tool["sources"]()
NAMES = [path.stem for path in SOURCES]
BUDGET_SECONDS = 300  # one notebook, top to bottom, on CI's 2 cores beside the rest of the suite

# What each notebook imports beyond the NumPy tier's requirements (notebook 4 runs Keras on JAX:
# scripts/notebooks leaves KERAS_BACKEND out of its kernels' environment).
NEEDS = {
    "01_linear_regression": [],
    "02_numpy_mlp": [],
    "03_tensorflow": ["tensorflow", "keras"],
    "04_keras": ["keras", "jax"],
    "05_side_by_side": ["tensorflow", "keras"],
}
# The notebooks whose printed numbers repeat from run to run (no timings, no benchmark): a
# fresh run must print what the committed notebook shows, so a change to a tier that changes
# them cannot leave the committed outputs stale.
REPEATABLE = ("01_linear_regression", "02_numpy_mlp")
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def printed(notebook) -> list[str]:
    """What each code cell printed, in order."""
    return [
        "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]


def same_printout(fresh: str, committed: str) -> bool:
    """The same text, and the same numbers to 6 digits (below 1e-9 counted as 0: rounding
    differences between machines' BLAS)."""
    if NUMBER.sub("#", fresh) != NUMBER.sub("#", committed):
        return False
    pairs = zip(NUMBER.findall(fresh), NUMBER.findall(committed), strict=True)
    return all(abs(float(a) - float(b)) <= 1e-9 + 1e-6 * abs(float(b)) for a, b in pairs)


def test_the_notebooks_are_the_five_the_readme_lists():
    assert list(NEEDS) == NAMES
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in NAMES:
        assert f"notebooks/{name}.ipynb" in readme


@pytest.mark.parametrize("name", NAMES)
def test_the_committed_notebook_is_its_source_executed(name):
    """Same cells as the source, run top to bottom in one kernel, no error or warning shown,
    within the size limits."""
    source = ROOT / "notebooks" / f"{name}.py"
    assert tool["problems"](source) == []
    built = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    first, last = built.cells[0], built.cells[-1]
    assert first.cell_type == "markdown" and "How long" in first.source
    assert last.cell_type == "markdown" and "Exercises" in last.source


def _copy(name: str, tmp_path: Path) -> tuple[Path, Path]:
    source = tmp_path / f"{name}.py"
    shutil.copy(ROOT / "notebooks" / f"{name}.py", source)
    shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", source.with_suffix(".ipynb"))
    return source, source.with_suffix(".ipynb")


def test_a_notebook_that_drifted_from_its_source_is_reported(tmp_path):
    source, built = _copy("02_numpy_mlp", tmp_path)
    text = source.read_text(encoding="utf-8")
    source.write_text(text.replace("z1 = x @ W1 + b1\n", "z1 = x @ W1\n", 1), encoding="utf-8")
    found = tool["problems"](source, built)
    assert len(found) == 1 and "differs from 02_numpy_mlp.py" in found[0]
    assert "make notebooks" in found[0]

    source.write_text(text + "\n# %%\nprint('one more cell')\n", encoding="utf-8")
    assert any("differs" in problem for problem in tool["problems"](source, built))


def test_a_stale_oversized_or_noisy_notebook_is_reported(tmp_path):
    source, built = _copy("01_linear_regression", tmp_path)
    notebook = nbformat.read(built, as_version=4)

    reordered = copy.deepcopy(notebook)
    [cell for cell in reordered.cells if cell.cell_type == "code"][1].execution_count = 9
    nbformat.write(reordered, built)
    assert any("top to bottom" in problem for problem in tool["problems"](source, built))

    noisy = copy.deepcopy(notebook)
    noisy_code = [cell for cell in noisy.cells if cell.cell_type == "code"]
    noisy_code[0].outputs.append(nbformat.v4.new_output("stream", name="stderr", text="warn\n"))
    noisy_code[1].outputs.append(
        nbformat.v4.new_output("error", ename="ValueError", evalue="planted", traceback=[])
    )
    nbformat.write(noisy, built)
    found = tool["problems"](source, built)
    assert any("standard error" in problem for problem in found)
    assert any("raised an error" in problem for problem in found)

    large = copy.deepcopy(notebook)
    big = "x" * (tool["MAX_OUTPUT_BYTES"] + 1)
    next(cell for cell in large.cells if cell.cell_type == "code").outputs.append(
        nbformat.v4.new_output("stream", name="stdout", text=big)
    )
    nbformat.write(large, built)
    found = tool["problems"](source, built)
    assert any("outputs are" in problem and "above the limit" in problem for problem in found)

    built.unlink()
    assert tool["problems"](source, built) == [f"{built.name} is missing: run `make notebooks`"]


def test_a_cell_that_raises_fails_the_run(tmp_path):
    source = tmp_path / "99_broken.py"
    source.write_text(
        "# %%\nvalue = 1\n\n# %%\nraise ValueError('a planted mistake')\n\n# %%\nprint('never')\n",
        encoding="utf-8",
    )
    with pytest.raises(CellExecutionError, match="a planted mistake"):
        tool["execute"](source, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_the_notebook_runs_top_to_bottom(name, tmp_path):
    """Executed from its source in a fresh kernel, offline (downloads point at a closed port),
    within its time budget, without a warning; its own asserts check the numbers (the NumPy
    notebook's hand-written cells against the tier's functions, for one), and a repeatable
    notebook prints what its committed copy shows."""
    missing = [package for package in NEEDS[name] if importlib.util.find_spec(package) is None]
    if missing:
        pytest.skip(f"{name} needs {', '.join(missing)}, which is not installed")
    source = ROOT / "notebooks" / f"{name}.py"
    start = time.perf_counter()
    notebook = tool["execute"](source, tmp_path)  # a cell that raises fails here
    seconds = time.perf_counter() - start
    assert seconds < BUDGET_SECONDS, f"{name} took {seconds:.0f} s, over its budget"
    fresh = tmp_path / f"{name}.ipynb"
    tool["write"](notebook, fresh)
    assert tool["problems"](source, fresh) == []  # no warning on stderr, within the limits
    if name in REPEATABLE:
        committed = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
        for number, (now, then) in enumerate(
            zip(printed(notebook), printed(committed), strict=True), start=1
        ):
            assert same_printout(now, then), (
                f"code cell {number} of {name} now prints\n{now}\nwhere the committed notebook "
                f"shows\n{then}\nrun `make notebooks`"
            )


def test_a_stale_printout_or_a_lost_pairing_is_reported(tmp_path):
    committed = nbformat.read(ROOT / "notebooks" / "02_numpy_mlp.ipynb", as_version=4)
    last = next(text for text in reversed(printed(committed)) if "test accuracy" in text)
    assert same_printout(last, last)
    assert same_printout(last.replace("0.9528", "0.95280000001"), last)  # rounding: the same
    assert not same_printout(last.replace("0.9528", "0.9531"), last)  # another number
    assert not same_printout(last.replace("test accuracy", "accuracy"), last)  # another text

    source, built = _copy("01_linear_regression", tmp_path)
    notebook = nbformat.read(built, as_version=4)
    del notebook.metadata["jupytext"]
    nbformat.write(notebook, built)
    assert any("not paired" in problem for problem in tool["problems"](source, built))
