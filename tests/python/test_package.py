"""The installed package: its names, version, stub, command-line tool, and a cheap import."""

import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

import eplb


def test_version_matches_the_distribution():
    assert eplb.__version__ == importlib.metadata.version("eplb")
    assert eplb.__version__.count(".") == 2


def test_all_names_exist():
    for name in eplb.__all__:
        assert hasattr(eplb, name), name


def test_stub_and_marker_are_installed():
    package = Path(eplb.__file__).parent
    stub = (package / "_eplb.pyi").read_text(encoding="utf-8")
    assert "def rebalance_experts(" in stub
    assert "class InvalidArgument(Error, ValueError):" in stub
    assert (package / "py.typed").exists()


def test_import_does_no_work():
    # Importing eplb binds names only: it imports neither torch nor threading helpers and starts
    # nothing. (An editable install with editable.rebuild=true rebuilds on import, by design.)
    code = ("import sys, eplb; assert 'torch' not in sys.modules; "
            "assert 'concurrent.futures' not in sys.modules; print(len(eplb.__all__))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip().splitlines()[-1] == str(len(eplb.__all__))


def test_command_line_tool_is_installed_when_built():
    tool = shutil.which("eplb")
    if tool is None:
        return  # a wheel built with EPLB_BUILD_CLI=OFF has no script
    result = subprocess.run([tool, "--version"], capture_output=True, text=True, check=True)
    assert eplb.__version__ in result.stdout
