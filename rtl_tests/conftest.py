"""pytest setup for the RTL testbenches: make `hwgen` (source checkout) and `harness` importable."""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
for p in (str(_HERE.parent), str(_HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from tests.tools import pytest_runtest_setup  # noqa: E402,F401 (@pytest.mark.requires_tool; HWGEN_REQUIRE_TOOLS)
