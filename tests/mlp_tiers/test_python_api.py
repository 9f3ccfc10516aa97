"""docs/python-api.md works as written: its code blocks run, in order, as one script."""

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


@pytest.mark.slow  # trains a few small models
def test_the_python_api_page_runs_as_written(tmp_path, monkeypatch, capsys):
    blocks = code_blocks(PAGE.read_text(encoding="utf-8"))
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), namespace)
    out = capsys.readouterr().out
    assert "test accuracy" in out and "largest normwise weight difference" in out
    assert namespace["result"].r2 > 0.1  # the regressor's, the last evaluated
    assert namespace["run"].data.x_train.dtype.name == "float32"  # cast for the user
    accuracy = float(re.search(r"test accuracy (\S+),", out).group(1))
    assert accuracy > 0.9  # 5 epochs of adam on digits
