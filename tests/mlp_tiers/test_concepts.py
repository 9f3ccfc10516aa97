"""The concept table (mlp_tiers/concepts.py) against the code it names, and docs/concepts.md."""

import sys
import textwrap
from pathlib import Path

import pytest

from mlp_tiers.concepts import (
    COLUMNS,
    CONCEPTS,
    Concept,
    Where,
    arguments,
    locate,
    problems,
    render_details,
    render_markdown,
    render_page,
)

ROOT = Path(__file__).resolve().parents[2]


def test_every_reference_names_code_under_the_shared_vocabulary():
    assert problems() == []


def test_every_concept_has_every_tier():
    for entry in CONCEPTS:
        assert tuple(entry.where) == COLUMNS, entry.key
        for column, where in entry.where.items():
            assert where.refs or where.note, (entry.key, column)  # either code or what replaces it


def test_the_hand_written_tiers_write_the_core_concepts_under_one_name():
    """Read directly from the source: these are the names a reader finds in each folder."""
    expected = {
        "lowlevel_numpy.model:MLP.forward": ("x",),
        "midlevel_tf.nn:NnModel.forward": ("x",),
        "midlevel_tf.layers:LayersModel.forward": ("x",),
        "lowlevel_numpy.model:MLP.loss": ("z", "t"),
        "midlevel_tf.nn:NnModel.loss": ("z", "t"),
        "midlevel_tf.layers:LayersModel.loss": ("z", "t"),
        "lowlevel_numpy.optimizers:Optimizer.apply_update": ("parameters", "grads"),
        "midlevel_tf.optimizers:Optimizer.apply_update": ("parameters", "grads"),
        "midlevel_tf.tier:TFLayersTier.apply_update": ("parameters", "grads"),
        "lowlevel_numpy.tier:NumpyTier.train_step": ("x", "t"),
        "midlevel_tf.tier:TFTier.train_step": ("x", "t"),
    }
    for ref, args in expected.items():
        assert arguments(ref)[: len(args)] == args, ref


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A package ``fake_tier`` whose model renamed ``forward`` to ``forward_pass`` and whose
    optimizer takes its arguments the other way round."""
    package = tmp_path / "fake_tier"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "model.py").write_text(
        textwrap.dedent(
            """
            class MLP:
                def forward_pass(self, x):
                    return x

                def apply_update(self, grads, params):
                    pass
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "fake_tier"
    sys.modules.pop("fake_tier", None)


def test_a_renamed_function_fails_naming_the_concept_and_the_tier(fake_package):
    table = (
        Concept("forward", "Forward pass", "", {"numpy": Where(("fake_tier.model:MLP.forward",))}),
    )
    (problem,) = problems(table)
    assert "concept 'forward', tier 'numpy'" in problem
    assert "fake_tier.model:MLP.forward names no definition" in problem


def test_a_name_or_argument_order_off_the_vocabulary_fails(fake_package):
    table = (
        Concept("forward", "", "", {"tf-nn": Where(("fake_tier.model:MLP.forward_pass",))}),
        Concept(
            "apply_update",
            "",
            "",
            {"numpy": Where(("fake_tier.model:MLP.apply_update",))},
            args=("params", "grads"),
        ),
    )
    renamed, swapped = problems(table)
    assert "concept 'forward', tier 'tf-nn'" in renamed and "is not named 'forward'" in renamed
    assert "concept 'apply_update', tier 'numpy'" in swapped
    assert "takes ('grads', 'params')" in swapped


def test_locate_quotes_the_definition():
    location = locate("lowlevel_numpy.model:MLP.backward")
    assert location.path.name == "model.py"
    source = location.source()
    assert source.lstrip().startswith("def backward(self, dz")
    assert "return [g for layer in self.layers" in source


def test_the_table_is_checked_without_importing_a_framework():
    import subprocess

    code = (
        "import sys; from mlp_tiers.concepts import problems; assert problems() == []; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_concepts_page_is_the_table():
    page = (ROOT / "docs" / "concepts.md").read_text(encoding="utf-8")
    assert render_markdown() in page and render_details() in page
    assert page == render_page(), "regenerate: mlp-tiers concepts --markdown > docs/concepts.md"
