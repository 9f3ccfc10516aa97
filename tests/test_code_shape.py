"""The shape of the code: no function longer than a reader takes in at once, and a test module
for every module of the interface, named after it."""

import ast
from pathlib import Path

from tests.test_layering import PACKAGES, ROOT

LONGEST = 60  # lines, from the def to the last line of the body


def long_functions(source: str, where: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines = node.end_lineno - node.lineno + 1
            if lines > LONGEST:
                found.append(f"{where}:{node.lineno} {node.name} has {lines} lines")
    return found


def test_no_function_is_longer_than_sixty_lines():
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found += long_functions(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert found == []


def test_a_long_function_is_named_with_its_length():
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    source = f"def short():\n    pass\n\n\ndef long():\n{body}\n"
    assert long_functions(source, Path("m.py").name) == ["m.py:5 long has 62 lines"]


def test_every_interface_module_has_a_test_module_named_after_it():
    missing = []
    for path in sorted((ROOT / "shared").rglob("*.py")):
        if path.name == "__init__.py":
            continue
        relative = path.relative_to(ROOT)
        test = ROOT / "tests" / relative.parent / f"test_{path.name}"
        if not test.is_file():
            missing.append(f"{relative} has no {test.relative_to(ROOT)}")
    assert missing == []
