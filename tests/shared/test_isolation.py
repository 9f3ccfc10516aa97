"""The NumPy tier and shared/ import no deep-learning framework, and run where none is installed."""

import subprocess
import sys
import textwrap

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
        import shared.cli, shared.runner, shared.console, shared.data, shared.checkpoint
        import shared.training, shared.parity, shared.bench, shared.concepts
        loaded = [name for name in {FRAMEWORKS!r} if name in sys.modules]
        print("loaded:", loaded)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout


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
        from shared.cli import main as cli
        code += cli(["tiers"])
        sys.exit(code)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "test" in result.stdout and "accuracy" in result.stdout
