"""Timing arcs of the Xilinx primitives that yosys `synth_xilinx` maps to (hwgen.sim.timing builds its graph
from them): which input pins reach which outputs and with what delay (combinational arcs), which outputs a
clock launches (clock-to-out) and which inputs a clock captures (setup). Delays from hwgen.sim.timing_model.
"""

from __future__ import annotations

import re

from hwgen.sim import timing_model as tm

FF_TYPES = {"FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1", "FDPE_1", "FDRSE", "FDCPE", "LDCE", "LDPE"}
BRAM_TYPES = {"RAMB18E1", "RAMB36E1", "RAMB18E2", "RAMB36E2"}
SRL_TYPES = {"SRL16E", "SRLC16E", "SRLC32E", "SRL16", "SRLC16"}
DSP_TYPES = {"DSP48E1", "DSP48E2"}
CARRY_TYPES = {"CARRY4", "CARRY8"}
MUXF_TYPES = {"MUXF7", "MUXF8", "MUXF9"}
NO_TIMING = {"BUFG", "BUFGCTRL", "BUFGCE", "BUFH", "BUFHCE", "VCC", "GND", "$scopeinfo"}
CLOCK_PINS = {"C", "G", "CLK", "WCLK", "CLKARDCLK", "CLKBWRCLK", "CLKA", "CLKB", "CLK_A", "CLK_B"}
CASCADE_IN = {"PCIN", "ACIN", "BCIN", "CARRYCASCIN", "MULTSIGNIN"}


def is_lut(t: str) -> bool:
    return bool(re.fullmatch(r"LUT[1-6]", t)) or t == "INV"


def is_lutram(t: str) -> bool:
    return t.startswith("RAM") and not t.startswith("RAMB")


def param(cell: dict, name: str, default=None):
    """A cell parameter: yosys writes integers as binary strings and appends a space to strings that look
    binary."""
    v = cell.get("parameters", {}).get(name)
    if v is None:
        return default
    if re.fullmatch(r"[01xz]+", v):
        return int(v.replace("x", "0").replace("z", "0"), 2)
    return v.rstrip(" ")


# ----------------------------------------------------------------------------------------------- cell arcs

class Arcs:
    """What a cell does in time: comb groups [(inputs [(port, idx|None, delay)], outputs [(port, idx|None)])],
    launch {out_port: clock-to-out}, capture {in_port: setup}."""

    def __init__(self):
        self.comb, self.launch, self.capture = [], {}, {}
        self.internal: list[tuple[str, float]] = []  # register -> register inside a hard block (DSP)


def _lut_arcs(cell, v):
    a = Arcs()
    ins = [(p, None, v("lut")) for p, d in cell["port_directions"].items() if d == "input"]
    a.comb.append((ins, [(p, None) for p, d in cell["port_directions"].items() if d == "output"]))
    return a


def _ff_arcs(cell, v):
    a = Arcs()
    a.launch["Q"] = v("ff_clk_q")
    a.capture.update({"D": v("ff_setup_d"), "CE": v("ff_setup_ce")})
    for p in ("R", "S", "CLR", "PRE"):
        a.capture[p] = v("ff_setup_sr")
    return a


def _carry4_arcs(cell, v):
    a = Arcs()
    t = tm.CARRY4
    for out in ("CO", "O"):
        for j in range(4):
            ins = [("CI", None, t[out]["CI"][j]), ("CYINIT", None, t[out]["CYINIT"][j])]
            for src in ("S", "DI"):
                ins += [(src, i, t[out][src][i][j]) for i in range(j + 1) if t[out][src][i][j] is not None]
            a.comb.append((ins, [(out, j)]))
    return a


def _carry8_arcs(cell, v, bits: int = 8):
    """CARRY8; also a CARRY4 in an UltraScale+ netlist (yosys `-family xcup` maps adders to CARRY4, which
    Vivado retargets to CARRY8 there), with the first 4 bits of the CARRY8 figures."""
    a = Arcs()
    t = tm.CARRY8
    for j in range(bits):
        ci_o = t["CI_O0"] + (t["CI_O7"] - t["CI_O0"]) * j / 7
        ins_o = [(p, None, ci_o) for p in ("CI", "CI_TOP", "CYINIT")]  # CYINIT: a CARRY4's
        ins_co = [(p, None, t["CI_CO"]) for p in ("CI", "CI_TOP", "CYINIT")]
        for i in range(j + 1):
            ins_o += [("S", i, t["S_O"]), ("DI", i, t["S_O"])]
            ins_co += [("S", i, t["S_CO"]), ("DI", i, t["DI_CO"])]
        a.comb += [(ins_o, [("O", j)]), (ins_co, [("CO", j)])]
    return a


def _muxf_arcs(cell, v):
    a = Arcs()
    d = v(cell["type"].lower()) if cell["type"] != "MUXF9" else v("muxf8")
    a.comb.append(([("I0", None, d), ("I1", None, d), ("S", None, d)], [("O", None)]))
    return a


def _bram_arcs(cell, v):
    a = Arcs()
    for p, d in cell["port_directions"].items():
        if d == "output":
            if "CAS" in p:
                continue
            port_b = p.startswith(("DOB", "DOPB", "DOUTB", "DOUTPB"))
            reg = param(cell, "DOB_REG" if port_b else "DOA_REG", 0)
            a.launch[p] = v("bram_clk_do_reg") if reg else v("bram_clk_do")
        elif p not in CLOCK_PINS and "CAS" not in p:
            key = ("bram_setup_addr" if p.startswith("ADDR") else "bram_setup_we" if p.startswith("WE") else
                   "bram_setup_di" if p.startswith("DI") else "bram_setup_regce" if p.startswith("REGCE") else
                   "bram_setup_rst" if p.startswith("RST") else "bram_setup_en")
            a.capture[p] = v(key)
    return a


def _lutram_arcs(cell, v):
    """Distributed RAM: asynchronous read (read address -> output, a LUT), synchronous write."""
    a = Arcs()
    outs = [(p, None) for p, d in cell["port_directions"].items() if d == "output"]
    deep = 1 if cell["type"] in ("RAM128X1D", "RAM128X1S") else 2 if cell["type"] in ("RAM256X1D", "RAM256X1S",
                                                                                          "RAM512X1S") else 0
    read = v("lut") + deep * v("muxf7")
    addr = []
    for p, d in cell["port_directions"].items():
        if d != "input" or p in CLOCK_PINS:
            continue
        if p.startswith(("A", "DPRA")):  # A, A0..A5, ADDRA..ADDRH, DPRA*
            addr.append((p, None, read))
            a.capture[p] = v("lutram_setup_a")
        elif p.startswith("WE"):
            a.capture[p] = v("lutram_setup_we")
        else:  # D, DI*, DIA..DIH
            a.capture[p] = v("lutram_setup_d")
    a.comb.append((addr, outs))
    for p, _ in outs:
        a.launch[p] = v("lutram_clk_o")
    return a


def _srl_arcs(cell, v):
    a = Arcs()
    a.comb.append(([(p, None, v("lut")) for p in ("A", "A0", "A1", "A2", "A3")], [("Q", None)]))
    a.launch.update({"Q": v("srl_clk_q"), "Q31": v("srl_clk_q31"), "Q15": v("srl_clk_q31")})
    a.capture.update({"D": v("srl_setup_d"), "CE": v("ff_setup_ce")})
    return a


def _uram_arcs(cell, v):
    a = Arcs()
    for p, d in cell["port_directions"].items():
        if d == "output" and p.startswith("DOUT_"):
            reg = str(param(cell, "OREG_" + p[-1], "TRUE")).upper() in ("TRUE", "1")
            a.launch[p] = v("uram_clk_do_reg") if reg else v("uram_clk_do")
        elif d == "input" and p not in CLOCK_PINS and not p.startswith("CAS"):
            a.capture[p] = v("uram_setup")
    return a


def _dsp_arcs(cell, v):
    """DSP48E1 / DSP48E2 from the yosys model of DSP48E1 (prjxray), scaled for DSP48E2 (timing_model.DSP)."""
    a = Arcs()
    s, t = v("dsp_scale"), tm.DSP
    mult = str(param(cell, "USE_MULT", "MULTIPLY")) != "NONE"
    pre = (param(cell, "USE_DPORT", "FALSE") == "TRUE"
           or "AD" in (str(param(cell, "AMULTSEL", "A")), str(param(cell, "BMULTSEL", "B"))))
    use = "nomult" if not mult else "preadd" if pre else "mult"
    reg = {r: bool(param(cell, r, 0 if r == "ADREG" else 1)) for r in ("AREG", "BREG", "CREG", "DREG", "MREG",
                                                                         "PREG", "ADREG")}
    p_outs = [(p, None) for p, d in cell["port_directions"].items()
              if d == "output" and p not in ("ACOUT", "BCOUT")]
    for src, ports in (("A", ("A", "ACIN")), ("B", ("B", "BCIN")), ("C", ("C",)), ("D", ("D",)),
                       ("PCIN", ("PCIN",))):
        stages = t["setup"][src].get(use)
        if stages is None:
            continue  # D without the pre-adder: unused
        first = next((r for r in stages if reg[r]), None)
        if first is not None:
            for p in ports:
                a.capture[p] = s * stages[first]
        elif src in t["comb"][use]:
            a.comb.append(([(p, None, s * t["comb"][use][src]) for p in ports], p_outs))
    for p, d in cell["port_directions"].items():
        if d == "input" and p not in CLOCK_PINS and p not in ("A", "B", "C", "D", "ACIN", "BCIN", "PCIN"):
            a.capture[p] = v("dsp_setup_ctrl")  # OPMODE, ALUMODE, INMODE, CARRYIN*, CE*, RST*
    last = next((ns for r, ns in t["clk_out"][use] if reg[r]), None)
    if last is not None:
        for p, _ in p_outs:
            a.launch[p] = s * (last + (t["PCOUT_extra"] if p == "PCOUT" else 0.0))
    a.launch["ACOUT"] = a.launch["BCOUT"] = s * t["cascade_clk_out"]
    chains = {"A": ["AREG", "ADREG", "MREG", "PREG"], "B": ["BREG", "MREG", "PREG"], "C": ["CREG", "PREG"],
              "D": ["DREG", "ADREG", "MREG", "PREG"]}
    for (r0, r1), ns in t["internal"][use].items():
        chain = chains[r0[0]] if r0[0] in chains else chains["A"]
        between = chain[chain.index(r0) + 1:chain.index(r1)] if r0 in chain and r1 in chain else []
        if reg[r0] and reg[r1] and not any(reg[r] for r in between):
            a.internal.append((f"{r0} -> {r1}", max(s * ns, v("dsp_min_period"))))
    return a


def cell_arcs(cell: dict, family: str) -> Arcs | None:
    """The timing arcs of a primitive; None for cells without timing (clock buffers, constants)."""
    typ = cell["type"]
    v = (lambda key: tm.value(family, key))
    if typ in NO_TIMING or not cell.get("port_directions"):
        return None
    if is_lut(typ):
        return _lut_arcs(cell, v)
    for group, fn in ((FF_TYPES, _ff_arcs), (BRAM_TYPES, _bram_arcs), (SRL_TYPES, _srl_arcs), (DSP_TYPES, _dsp_arcs),
                      (MUXF_TYPES, _muxf_arcs)):
        if typ in group:
            return fn(cell, v)
    if typ == "CARRY4":
        return _carry4_arcs(cell, v) if family == "xc7" else _carry8_arcs(cell, v, bits=4)
    if typ == "CARRY8":
        return _carry8_arcs(cell, v)
    if typ == "URAM288":
        return _uram_arcs(cell, v)
    if is_lutram(typ):
        return _lutram_arcs(cell, v)
    if typ in ("IBUF", "OBUF", "IBUFG"):
        return _lut_arcs(cell, lambda key: 0.0)
    return None  # unknown: reported in "unknown_cells"
