"""The README's flag table against the real parsers, so that neither drifts from the other."""

import argparse
import re
from pathlib import Path

import pytest

from mlp_tiers.flags import FLAGS, add_run_flags

README = Path(__file__).resolve().parents[3] / "README.md"


def table_rows() -> dict[str, set[str]]:
    """The README's flag table: group -> the flags it names."""
    text = README.read_text(encoding="utf-8")
    table = text.split("| group | flags |")[1].split("\n\n")[0]
    rows = {}
    for line in table.splitlines()[2:]:
        group, flags = line.strip("|").split("|", 1)
        rows[group.strip()] = set(re.findall(r"`(--[a-z0-9-]+)", flags))
    return rows


def parser_flags(build) -> set[str]:
    parser = argparse.ArgumentParser()
    build(parser)
    return {s for action in parser._actions for s in action.option_strings if s.startswith("--")}


def test_the_shared_rows_are_the_flags_every_train_script_takes():
    rows = table_rows()
    shared = rows["data"] | rows["model"] | rows["training"] | rows["run"]
    assert shared == parser_flags(add_run_flags) - {"--help"}
    assert rows["data"] | rows["model"] | rows["training"] == set(FLAGS)


@pytest.mark.parametrize(
    ("row", "module"),
    [("TensorFlow tier (`midlevel_tf.train`)", "midlevel_tf.train"),
     ("Keras tier (`highlevel_keras.train`)", "highlevel_keras.train")],
)  # fmt: skip
def test_each_tier_row_is_that_train_script_s_own_flags(row, module):
    import importlib

    script = importlib.import_module(module)  # light: no framework is imported
    assert table_rows()[row] == parser_flags(script.add_flags) - {"--help"}


def test_mlp_tiers_train_takes_each_tier_s_flags(capsys):
    from mlp_tiers.cli import main

    for tier, flag in [
        ("tf-layers", "--jit"),
        ("keras-jax", "--jit-compile"),
        ("tf-nn", "--eager"),
    ]:
        with pytest.raises(SystemExit):
            main(["train", "--tier", tier, "--help"])
        assert flag in capsys.readouterr().out


@pytest.mark.slow
def test_the_headline_comparison_prints_the_figures_the_readme_quotes(capsys):
    """The README's spirals sentence quotes compare's params vs numpy; the same command, run
    here, prints those figures, and with Keras's default betas the note that explains them."""
    from mlp_tiers.cli import main as mlp_tiers
    from mlp_tiers.registry import runnable_tiers

    if "keras" not in runnable_tiers() or "tf-nn" not in runnable_tiers():
        pytest.skip("the headline compares numpy, tf-nn and keras: needs tensorflow and keras")
    readme = README.read_text(encoding="utf-8")
    flat = " ".join(readme.split())
    command = re.search(r"`mlp-tiers compare --dataset spirals ([^`]*)`", flat).group(1)
    assert mlp_tiers(["compare", "--dataset", "spirals", *command.split(), "--no-save"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[1]: line.split()[-2] for line in out.splitlines()
            if line.startswith("│ ")}  # fmt: skip
    quoted = re.search(r"tf-nn ends (\S+) and keras (\S+) from the NumPy", flat)
    # Rounding-level figures: another CPU's kernels may sum in another order, so the quoted
    # figure holds to within a factor of two; far below the 1e-3 the float32 row allows.
    for quote, tier in ((quoted.group(1), "tf-nn"), (quoted.group(2), "keras")):
        assert float(quote) / 2 <= float(rows[tier]) <= float(quote) * 2 < 1e-5, tier
    default = [word for word in command.split() if word not in ("--beta1", "0.875", "--beta2",
                                                                "0.998046875")]  # fmt: skip
    assert mlp_tiers(["compare", "--dataset", "spirals", *default, "--no-save"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    distance = re.search(r"keras ends (\S+) from the NumPy tier's weights", out).group(1)
    quote = float(re.search(r"keras ends (\S+) away instead", flat).group(1))
    assert float(distance) == pytest.approx(quote, rel=0.1)
