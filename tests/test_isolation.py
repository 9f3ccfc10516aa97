"""The NumPy tier and shared/ import no deep-learning framework, and run where none is installed."""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FRAMEWORKS = ("tensorflow", "keras", "jax", "torch")


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_imports_leave_frameworks_out_of_sys_modules():
    result = run_python(
        f"""
        import sys
        import lowlevel_numpy, shared
        import lowlevel_numpy.train, lowlevel_numpy.gradcheck
        import mlp_tiers.cli, mlp_tiers.runner, mlp_tiers.console, shared.data, shared.checkpoint
        import shared.training, mlp_tiers.parity, mlp_tiers.bench, mlp_tiers.concepts
        import mlp_tiers.bench_worker, mlp_tiers.threads
        import peers, peers.floor, peers.sklearn_mlp, peers.torch_mlp, peers.jax_scan
        loaded = [name for name in {FRAMEWORKS!r} if name in sys.modules]
        print("loaded:", loaded)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout


@pytest.mark.slow
def test_training_runs_where_no_framework_can_be_imported(tmp_path):
    """A meta-path hook makes every framework import fail, as on a machine without them."""
    result = run_python(
        f"""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {FRAMEWORKS!r}:
                    raise ImportError(f"{{name}} is blocked in this test")
                return None

        sys.meta_path.insert(0, Block())
        from lowlevel_numpy.train import main
        code = main(["--epochs", "2", "--quiet", "--out", {str(tmp_path)!r}])
        from mlp_tiers.cli import main as cli
        code += cli(["tiers"])
        sys.exit(code)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "test" in result.stdout and "accuracy" in result.stdout


SHARED = Path(__file__).resolve().parents[1] / "shared"
FRAMEWORK_MODULES = {*FRAMEWORKS, "cupy", "jaxlib", "tf_keras"}


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports anywhere (inside functions too), by its top-level name."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value).split(".")[0])
    return names


def test_shared_imports_no_framework_anywhere_not_even_lazily():
    files = sorted(SHARED.rglob("*.py"))
    assert len(files) > 15
    offenders = {
        str(path.relative_to(SHARED)): sorted(imported_modules(path) & FRAMEWORK_MODULES)
        for path in files
        if imported_modules(path) & FRAMEWORK_MODULES
    }
    assert offenders == {}


def test_no_shared_module_is_named_after_a_framework():
    words = ("tensorflow", "keras", "jax", "torch", "cupy", "tf", "framework")
    named = [
        str(path.relative_to(SHARED))
        for path in SHARED.rglob("*.py")
        if any(word in path.stem.lower().split("_") or word in path.stem.lower() for word in words)
    ]
    assert named == []


def test_the_import_scan_sees_lazy_and_dynamic_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "import os\n"
        "def f():\n    import tensorflow as tf\n"
        "def g():\n    from keras.layers import Dense\n"
        "def h():\n    importlib.import_module('jax.numpy')\n"
    )
    assert imported_modules(source) >= {"os", "tensorflow", "keras", "jax"}


def test_no_tier_inherits_from_shared():
    """Each tier is its own code: the Tier protocol describes a tier, it is no base class."""
    from mlp_tiers.registry import available_tiers, get_tier

    for name in available_tiers():
        inherited = [cls.__module__ for cls in get_tier(name).__mro__[1:]]
        assert [module for module in inherited if module.startswith("shared")] == [], name


HEAVY = ("sklearn", "scipy", "pooch", "requests", "matplotlib", *FRAMEWORKS)


def test_importing_the_tiers_and_their_scripts_loads_nothing_heavy():
    result = run_python(
        f"""
        import sys
        import lowlevel_numpy, midlevel_tf, highlevel_keras
        from lowlevel_numpy import NumpyTier, MLP
        import lowlevel_numpy.tier, lowlevel_numpy.train, midlevel_tf.train, highlevel_keras.train
        print("loaded:", [name for name in {HEAVY!r} if name in sys.modules])
        """
    )
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout


def test_help_of_every_train_script_loads_nothing_heavy():
    for script in ("lowlevel_numpy.train", "midlevel_tf.train", "highlevel_keras.train"):
        result = run_python(
            f"""
            import sys, runpy
            sys.argv = ["train", "--help"]
            try:
                runpy.run_module({script!r}, run_name="__main__")
            except SystemExit as exit:
                assert exit.code == 0, exit.code
            print("loaded:", [name for name in {HEAVY!r} if name in sys.modules])
            """
        )
        assert result.returncode == 0, result.stderr
        assert "--epochs" in result.stdout, script
        assert "loaded: []" in result.stdout, (script, result.stdout[-300:])
