"""Which packages are installed (found without importing them), and the versions recorded."""

import platform
import sys

import numpy as np

import shared
from shared.packages import installed, versions


def test_installed_finds_a_package_without_importing_it():
    sys.modules.pop("json.tool", None)
    assert installed("numpy") and installed("json.tool")
    assert "json.tool" not in sys.modules
    assert not installed("no_such_package_here")
    assert not installed("no_such_package_here.sub")  # a missing parent is a no, not an error


def test_versions_name_the_project_numpy_and_python():
    found = versions()
    assert found["mlp-tiers"] == shared.__version__
    assert found["numpy"] == np.__version__
    assert found["python"] == platform.python_version()
