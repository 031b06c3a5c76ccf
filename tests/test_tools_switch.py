"""HWGEN_REQUIRE_TOOLS=1 (set by .ci/run) turns every 'tool missing' skip into a failure."""

import os
import subprocess
import sys

from tests.conftest import ROOT

PROBE = '''
import pytest
from tests.tools import require_module, require_path

@pytest.mark.requires_tool("hwgen-no-such-tool")
def test_marked():
    pass

def test_module():
    require_module("hwgen_no_such_module")

def test_path():
    require_path("/nonexistent/hwgen/shared")
'''


def _run(tmp_path, require: bool):
    (tmp_path / "test_probe.py").write_text(PROBE)
    (tmp_path / "conftest.py").write_text("from tests.tools import pytest_runtest_setup  # noqa: F401\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.pop("HWGEN_REQUIRE_TOOLS", None)
    if require:
        env["HWGEN_REQUIRE_TOOLS"] = "1"
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", str(tmp_path)],
                       capture_output=True, text=True, cwd=tmp_path, env=env)
    return r.stdout


def test_missing_tools_skip_by_default(tmp_path):
    out = _run(tmp_path, require=False)
    assert "3 skipped" in out and "failed" not in out, out


def test_missing_tools_fail_when_required(tmp_path):
    out = _run(tmp_path, require=True)
    assert "2 failed" in out and "1 error" in out and "passed" not in out and "skipped" not in out, out
    assert out.count("HWGEN_REQUIRE_TOOLS is set") == 3, out
