"""What the terminal views show in a terminal of a given width: formulas as text, code wrapped
but never cut, names never split, titles on one line."""

import argparse
import io
import re

import pytest

from mlp_tiers.cli.commands import list_concepts, print_concept
from mlp_tiers.concepts import COLUMNS, CONCEPTS
from mlp_tiers.console import TextConsole
from mlp_tiers.plainmath import plain_text
from mlp_tiers.study import FORMULAS


@pytest.mark.parametrize(
    ("latex", "text"),
    [
        (r"\frac{y - \bar{y}}{s}", "(y − ȳ)/s"),
        (r"\frac{1}{n k} \sum_{i=1}^{n} z_i", "1/(nk) ∑ᵢ₌₁ⁿ zᵢ"),
        (r"\frac{\partial \mathcal{L}}{\partial W_l}", "∂ℒ/∂Wₗ"),
        (r"w \leftarrow w - \frac{\eta\, g}{\sqrt{s + \epsilon}}", "w ← w − (η g)/(√(s + ϵ))"),
        (r"a_{l-1}^{\top} \delta_l", "aₗ₋₁ᵀδₗ"),
        (r"\hat{y} = \mathop{\mathrm{arg\,max}}_j p_j", "ŷ = arg maxⱼ pⱼ"),
        (r"x_{\mathrm{train}}^{(k)}", "xₜᵣₐᵢₙ^(k)"),
        (r"a = -b,\quad c = d", "a = −b,   c = d"),
    ],
)
def test_a_formula_reads_as_plain_text(latex, text):
    assert plain_text(latex) == text


def test_every_formula_of_the_page_has_no_latex_left_in_the_terminal():
    for key, formulas in FORMULAS.items():
        for latex in formulas.values():
            shown = plain_text(latex)
            assert not re.search(r"[\\{}]", shown), (key, shown)
            assert shown.count("(") == shown.count(")"), (key, shown)


def _concept(key, width, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(width))
    out = io.StringIO()
    assert print_concept(TextConsole(file=out, width=width), key) == 0
    return out.getvalue()


@pytest.mark.parametrize("key", ["loss", "apply_update", "fit"])
def test_study_concept_shows_formulas_as_text_and_code_wrapped_never_cut(key, monkeypatch):
    """Found at 100 columns: raw LaTeX, three code columns squeezed side by side, long names cut
    with an ellipsis."""
    shown = _concept(key, 100, monkeypatch)
    assert not re.search(r"…\s*│?$", shown, re.M)  # rich's mark of a line it cut
    assert "\\frac" not in shown and "\\mathcal" not in shown
    assert all(len(line) <= 100 for line in shown.splitlines())
    titles = [
        line for line in shown.splitlines() if re.search(r"(NumPy|TensorFlow|Keras) · ", line)
    ]
    assert len(titles) == 3  # one panel under another: each title on a line of its own
    wide = _concept(key, 330, monkeypatch)
    (row,) = [line for line in wide.splitlines() if "NumPy · " in line]
    assert "TensorFlow · " in row and "Keras · " in row  # side by side when the lines fit


def _concepts(width):
    out = io.StringIO()
    console = TextConsole(file=out, width=width)
    assert list_concepts(argparse.Namespace(markdown=False), console) == 0
    return out.getvalue()


@pytest.mark.parametrize("width", [80, 100, 1000])
def test_concepts_never_splits_a_name(width):
    shown = _concepts(width)
    names = set()
    for entry in CONCEPTS:
        names.add(entry.title)
        for column in COLUMNS:
            refs = entry.where[column].refs
            if refs:
                module, _, qualname = refs[0].partition(":")
                names.add(f"{module.rpartition('.')[2]}.{qualname}")
    for name in names:
        assert name in shown, (width, name)
    assert all(len(line.rstrip()) <= width for line in shown.splitlines())


def test_the_gradient_check_title_fits_an_80_column_terminal(monkeypatch, capsys):
    from lowlevel_numpy.gradcheck import main

    monkeypatch.setenv("COLUMNS", "80")
    assert main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].strip() == "Gradient check: backward pass vs centred differences"


@pytest.mark.slow
def test_every_tier_prints_the_same_epoch_lines_keras_included(capsys):
    """Keras once printed its own progress bar and two lines per epoch (Epoch 1/2, 39/39 ...),
    not the lines the README shows for every tier."""
    from mlp_tiers.cli import main as mlp_tiers
    from mlp_tiers.registry import runnable_tiers

    if "keras" not in runnable_tiers():
        pytest.skip("Keras on TensorFlow is not installed here")
    lines = {}
    for tier in ("numpy", "keras"):
        assert mlp_tiers(["train", "--tier", tier, "--epochs", "2", "--hidden", "8", "--dtype", "float64",
                          "--no-save"]) == 0  # fmt: skip
        out = capsys.readouterr().out
        # the same names in the same places; the figures agree to rounding (Keras keeps its
        # running mean of the loss in float32)
        lines[tier] = [re.sub(r"\d+\.\d+( ms| s)?", "N", line) for line in out.splitlines()
                       if line.startswith("epoch")]  # fmt: skip
        assert "Epoch 1/2" not in out and "/step" not in out
    assert (
        lines["keras"]
        == lines["numpy"]
        == [f"epoch   {e}/2  loss N  acc N  val_loss N  val_acc N  N" for e in (1, 2)]
    )
