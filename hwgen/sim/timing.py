"""Open static timing estimate of a yosys-mapped netlist (`synth_xilinx` + `write_json`).

    analyze(netlist, family="xc7") -> {"fmax_mhz", "delay_ns", "worst": path, "paths": {kind: path}, ...}

The netlist (one flattened module of Xilinx primitives) becomes a timing graph: a node per net bit (and one per
multi-bit cell arc group, so a DSP's 30 x 48 input-to-output arcs cost 78 edges), an edge per cell arc with the
cell's delay plus the delay of the net into that pin. Registers (FD*, block RAM, DSP registers, LUTRAM / SRL
write clocks) launch with their clock-to-out and capture with their setup time; the longest path to every
capture pin is found in one topological pass (the graph between registers is acyclic). Delays come from
hwgen.sim.timing_model (datasheet and published Vivado figures, each with its source); a net's delay is a
fanout-dependent estimate (net_base + net_per_log2_fanout * log2(fanout), fitted to routed Vivado reports), zero
or small on dedicated connections (carry chains, LUT -> CARRY / MUXF / FF in the same slice, DSP cascades).

Paths are reported by kind: reg2reg, in2reg, reg2out, in2out. The block is analysed out of context: its inputs
are taken as driven by a register of the neighbouring block (clock-to-out) and its outputs as captured by one
(setup), which is what the RTL's blocks and FIFOs do. Each path gives its delay (with setup and the clock
uncertainty), Fmax = 1 / delay, LUT levels, carry cells, wide muxes, memory and DSP stages on it, and its start
and end cells with the RTL signal names yosys kept (and the `src` line).

Not modelled (README "Open timing estimate"): placement (a path's cells may land far apart), routing
congestion, clock skew, fanout replication and retiming by Vivado, hold time, multi-cycle paths.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections import defaultdict, deque
from pathlib import Path

from hwgen.sim import timing_model as tm

_FF = {"FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1", "FDPE_1", "FDRSE", "FDCPE", "LDCE", "LDPE"}
_BRAM = {"RAMB18E1", "RAMB36E1", "RAMB18E2", "RAMB36E2"}
_SRL = {"SRL16E", "SRLC16E", "SRLC32E", "SRL16", "SRLC16"}
_DSP = {"DSP48E1", "DSP48E2"}
_CARRY = {"CARRY4", "CARRY8"}
_MUXF = {"MUXF7", "MUXF8", "MUXF9"}
_NO_TIMING = {"BUFG", "BUFGCTRL", "BUFGCE", "BUFH", "BUFHCE", "VCC", "GND", "$scopeinfo"}
_CLOCK_PINS = {"C", "G", "CLK", "WCLK", "CLKARDCLK", "CLKBWRCLK", "CLKA", "CLKB", "CLK_A", "CLK_B"}
_CASCADE_IN = {"PCIN", "ACIN", "BCIN", "CARRYCASCIN", "MULTSIGNIN"}
KINDS = ("reg2reg", "in2reg", "reg2out", "in2out")


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

class _Arcs:
    """What a cell does in time: comb groups [(inputs [(port, idx|None, delay)], outputs [(port, idx|None)])],
    launch {out_port: clock-to-out}, capture {in_port: setup}."""

    def __init__(self):
        self.comb, self.launch, self.capture = [], {}, {}
        self.internal: list[tuple[str, float]] = []  # register -> register inside a hard block (DSP)


def _lut_arcs(cell, v):
    a = _Arcs()
    ins = [(p, None, v("lut")) for p, d in cell["port_directions"].items() if d == "input"]
    a.comb.append((ins, [(p, None) for p, d in cell["port_directions"].items() if d == "output"]))
    return a


def _ff_arcs(cell, v):
    a = _Arcs()
    a.launch["Q"] = v("ff_clk_q")
    a.capture.update({"D": v("ff_setup_d"), "CE": v("ff_setup_ce")})
    for p in ("R", "S", "CLR", "PRE"):
        a.capture[p] = v("ff_setup_sr")
    return a


def _carry4_arcs(cell, v):
    a = _Arcs()
    t = tm.CARRY4
    for out in ("CO", "O"):
        for j in range(4):
            ins = [("CI", None, t[out]["CI"][j]), ("CYINIT", None, t[out]["CYINIT"][j])]
            for src in ("S", "DI"):
                ins += [(src, i, t[out][src][i][j]) for i in range(j + 1) if t[out][src][i][j] is not None]
            a.comb.append((ins, [(out, j)]))
    return a


def _carry8_arcs(cell, v):
    a = _Arcs()
    t = tm.CARRY8
    for j in range(8):
        ci_o = t["CI_O0"] + (t["CI_O7"] - t["CI_O0"]) * j / 7
        ins_o = [("CI", None, ci_o), ("CI_TOP", None, ci_o)]
        ins_co = [("CI", None, t["CI_CO"]), ("CI_TOP", None, t["CI_CO"])]
        for i in range(j + 1):
            ins_o += [("S", i, t["S_O"]), ("DI", i, t["S_O"])]
            ins_co += [("S", i, t["S_CO"]), ("DI", i, t["DI_CO"])]
        a.comb += [(ins_o, [("O", j)]), (ins_co, [("CO", j)])]
    return a


def _muxf_arcs(cell, v):
    a = _Arcs()
    d = v(cell["type"].lower()) if cell["type"] != "MUXF9" else v("muxf8")
    a.comb.append(([("I0", None, d), ("I1", None, d), ("S", None, d)], [("O", None)]))
    return a


def _bram_arcs(cell, v):
    a = _Arcs()
    for p, d in cell["port_directions"].items():
        if d == "output":
            if "CAS" in p:
                continue
            port_b = p.startswith(("DOB", "DOPB", "DOUTB", "DOUTPB"))
            reg = param(cell, "DOB_REG" if port_b else "DOA_REG", 0)
            a.launch[p] = v("bram_clk_do_reg") if reg else v("bram_clk_do")
        elif p not in _CLOCK_PINS and "CAS" not in p:
            key = ("bram_setup_addr" if p.startswith("ADDR") else "bram_setup_we" if p.startswith("WE") else
                   "bram_setup_di" if p.startswith("DI") else "bram_setup_regce" if p.startswith("REGCE") else
                   "bram_setup_rst" if p.startswith("RST") else "bram_setup_en")
            a.capture[p] = v(key)
    return a


def _lutram_arcs(cell, v):
    """Distributed RAM: asynchronous read (read address -> output, a LUT), synchronous write."""
    a = _Arcs()
    outs = [(p, None) for p, d in cell["port_directions"].items() if d == "output"]
    deep = 1 if cell["type"] in ("RAM128X1D", "RAM128X1S") else 2 if cell["type"] in ("RAM256X1D", "RAM256X1S",
                                                                                          "RAM512X1S") else 0
    read = v("lut") + deep * v("muxf7")
    addr = []
    for p, d in cell["port_directions"].items():
        if d != "input" or p in _CLOCK_PINS:
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
    a = _Arcs()
    a.comb.append(([(p, None, v("lut")) for p in ("A", "A0", "A1", "A2", "A3")], [("Q", None)]))
    a.launch.update({"Q": v("srl_clk_q"), "Q31": v("srl_clk_q31"), "Q15": v("srl_clk_q31")})
    a.capture.update({"D": v("srl_setup_d"), "CE": v("ff_setup_ce")})
    return a


def _uram_arcs(cell, v):
    a = _Arcs()
    for p, d in cell["port_directions"].items():
        if d == "output" and p.startswith("DOUT_"):
            reg = str(param(cell, "OREG_" + p[-1], "TRUE")).upper() in ("TRUE", "1")
            a.launch[p] = v("uram_clk_do_reg") if reg else v("uram_clk_do")
        elif d == "input" and p not in _CLOCK_PINS and not p.startswith("CAS"):
            a.capture[p] = v("uram_setup")
    return a


def _dsp_arcs(cell, v):
    """DSP48E1 / DSP48E2 from the yosys model of DSP48E1 (prjxray), scaled for DSP48E2 (timing_model.DSP)."""
    a = _Arcs()
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
        if d == "input" and p not in _CLOCK_PINS and p not in ("A", "B", "C", "D", "ACIN", "BCIN", "PCIN"):
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


def cell_arcs(cell: dict, family: str) -> _Arcs | None:
    """The timing arcs of a primitive; None for cells without timing (clock buffers, constants)."""
    typ = cell["type"]
    v = (lambda key: tm.value(family, key))
    if typ in _NO_TIMING or not cell.get("port_directions"):
        return None
    if is_lut(typ):
        return _lut_arcs(cell, v)
    for group, fn in ((_FF, _ff_arcs), (_BRAM, _bram_arcs), (_SRL, _srl_arcs), (_DSP, _dsp_arcs),
                      (_MUXF, _muxf_arcs)):
        if typ in group:
            return fn(cell, v)
    if typ == "CARRY4":
        return _carry4_arcs(cell, v)
    if typ == "CARRY8":
        return _carry8_arcs(cell, v)
    if typ == "URAM288":
        return _uram_arcs(cell, v)
    if is_lutram(typ):
        return _lutram_arcs(cell, v)
    if typ in ("IBUF", "OBUF", "IBUFG"):
        return _lut_arcs(cell, lambda key: 0.0)
    return None  # unknown: reported in "unknown_cells"


# ------------------------------------------------------------------------------------------- timing graph

class _Graph:
    """Nodes: net bits (yosys ints) and one negative id per multi-pin arc group; edges carry cell + net delay."""

    def __init__(self, mod: dict, family: str):
        self.family, self.mod = family, mod
        self.v = (lambda key: tm.value(family, key))
        self.cells = mod.get("cells", {})
        self.driver: dict[int, tuple[str, str]] = {}  # bit -> (cell name | "<in>", port)
        self.fanout: dict[int, int] = defaultdict(int)
        self.succ: dict[int, list] = defaultdict(list)  # node -> [(dst, delay, cell)]
        self.launch: dict[int, tuple[float, str]] = {}  # bit -> (clock-to-out, cell)
        self.capture: list[tuple[int, float, str, str]] = []  # (bit, net + setup, cell, port)
        self.unknown: dict[str, int] = defaultdict(int)
        self.internal: list[tuple[float, str, str]] = []  # (delay, cell, "AREG -> MREG")
        self.arcs = {}
        self._next_virtual = -1
        for pname, port in mod.get("ports", {}).items():
            for b in port["bits"]:
                if isinstance(b, int) and port["direction"] == "input":
                    self.driver[b] = ("<in>", pname)
        for name, cell in self.cells.items():
            arcs = cell_arcs(cell, family)
            if arcs is None:
                if cell["type"] not in _NO_TIMING and cell.get("port_directions"):
                    self.unknown[cell["type"]] += 1
                continue
            self.arcs[name] = arcs
            for p, bits in cell["connections"].items():
                d = cell["port_directions"].get(p)
                for b in bits:
                    if not isinstance(b, int):
                        continue
                    if d == "output":
                        self.driver[b] = (name, p)
                    elif p not in _CLOCK_PINS:
                        self.fanout[b] += 1
        for pname, port in mod.get("ports", {}).items():
            if port["direction"] == "output":
                for b in port["bits"]:
                    if isinstance(b, int):
                        self.fanout[b] += 1
        for name, arcs in self.arcs.items():
            self._add_cell(name, self.cells[name], arcs)
        for pname, port in mod.get("ports", {}).items():
            if port["direction"] == "output":
                for b in port["bits"]:
                    if isinstance(b, int) and b in self.driver:
                        self.capture.append((b, self.net(b, "<out>", pname) + self.v("ff_setup_d"), "<out>", pname))

    def net(self, bit: int, sink_type: str, sink_port: str) -> float:
        """Delay of the net `bit` into one sink pin: dedicated connections, or the fanout estimate."""
        drv = self.driver.get(bit)
        if drv is None:
            return 0.0
        dtype = self.cells[drv[0]]["type"] if drv[0] != "<in>" else "<in>"
        fo = max(1, self.fanout.get(bit, 1))
        v = self.v
        if sink_port in _CASCADE_IN and dtype in _DSP:
            return v("net_dsp_cascade")
        if sink_type in _CARRY and sink_port in ("CI", "CI_TOP") and dtype in _CARRY:
            return v("net_carry_chain")
        if is_lut(dtype) or dtype in _MUXF:  # a LUT feeding its own slice's carry / wide mux / FF
            if fo <= 2 and (sink_type in _CARRY and sink_port in ("S", "DI") or sink_type in _MUXF):
                return v("net_lut_to_carry")
            if fo == 1 and sink_type in _FF and sink_port == "D":
                return v("net_packed_ff")
        if dtype in _CARRY and fo == 1 and sink_type in _FF and sink_port == "D":
            return v("net_packed_ff")  # an adder's sum bit into its own slice's FF
        return v("net_base") + v("net_per_log2_fanout") * math.log2(fo)

    def _bits(self, cell, port, idx):
        bits = cell["connections"].get(port, [])
        if idx is not None:
            bits = bits[idx:idx + 1]
        return [b for b in bits if isinstance(b, int)]

    def _add_cell(self, name, cell, arcs: _Arcs):
        typ = cell["type"]
        for label, ns in arcs.internal:
            self.internal.append((ns, name, label))
        for port, clk_q in arcs.launch.items():
            for b in self._bits(cell, port, None):
                self.launch[b] = (clk_q, name)
        for port, setup in arcs.capture.items():
            for b in self._bits(cell, port, None):
                if b in self.driver:
                    self.capture.append((b, self.net(b, typ, port) + setup, name, port))
        for ins, outs in arcs.comb:
            out_bits = [b for p, i in outs for b in self._bits(cell, p, i) if b not in self.launch]
            in_pins = [(b, d + self.net(b, typ, p)) for p, i, d in ins for b in self._bits(cell, p, i)
                       if b in self.driver]
            if not out_bits or not in_pins:
                continue
            if len(out_bits) == 1:
                dst = out_bits[0]
            else:  # one virtual node instead of len(ins) x len(outs) edges
                dst, self._next_virtual = self._next_virtual, self._next_virtual - 1
                for ob in out_bits:
                    self.succ[dst].append((ob, 0.0, name))
            for b, d in in_pins:
                self.succ[b].append((dst, d, name))

    def order(self) -> tuple[list[int], int]:
        """Topological order of the nodes (Kahn); the second value counts nodes left on combinational loops."""
        indeg: dict[int, int] = defaultdict(int)
        nodes = set(self.succ)
        for src, edges in self.succ.items():
            for dst, _, _ in edges:
                indeg[dst] += 1
                nodes.add(dst)
        queue = deque(n for n in nodes if indeg[n] == 0)
        out = []
        while queue:
            n = queue.popleft()
            out.append(n)
            for dst, _, _ in self.succ.get(n, ()):
                indeg[dst] -= 1
                if indeg[dst] == 0:
                    queue.append(dst)
        return out, len(nodes) - len(out)

    def propagate(self, order, starts: dict[int, float]):
        """Longest arrival at every node from `starts`; pred[node] = (previous node, cell)."""
        arr = dict(starts)
        pred: dict[int, tuple[int, str]] = {}
        for n in order:
            a = arr.get(n)
            if a is None:
                continue
            for dst, d, cell in self.succ.get(n, ()):
                if dst in self.launch:
                    continue
                if a + d > arr.get(dst, -1.0):
                    arr[dst] = a + d
                    pred[dst] = (n, cell)
        return arr, pred


# ------------------------------------------------------------------------------------------ path reports

def _names(mod: dict) -> dict[int, str]:
    """bit -> RTL signal name (yosys keeps the names of registers and named wires; hidden names are skipped)."""
    out: dict[int, str] = {}
    for name, net in sorted(mod.get("netnames", {}).items(), key=lambda kv: (kv[1].get("hide_name", 0),
                                                                                 len(kv[0]))):
        if net.get("hide_name"):
            continue
        bits = net["bits"]
        for i, b in enumerate(bits):
            if isinstance(b, int) and b not in out:
                out[b] = name if len(bits) == 1 else f"{name}[{i}]"
    return out


def _where(g: _Graph, cell: str, bit: int | None, names) -> dict:
    if cell in ("<in>", "<out>"):
        return {"cell": cell, "type": "port", "signal": names.get(bit, "?")}
    c = g.cells[cell]
    sig = names.get(bit)
    if c["type"] in _FF:  # a register: its Q name is the RTL register
        q = [b for b in c["connections"].get("Q", []) if isinstance(b, int)]
        sig = names.get(q[0], sig) if q else sig
    out = {"cell": cell, "type": c["type"], "signal": sig or "?"}
    src = c.get("attributes", {}).get("src")
    if src and "/share/" not in src:
        out["src"] = src.split("|")[0]
    return out


def _route(types: list[str]) -> str:
    parts = []
    for t in types:
        if parts and parts[-1][0] == t:
            parts[-1][1] += 1
        else:
            parts.append([t, 1])
    return " > ".join(t if n == 1 else f"{t} x{n}" for t, n in parts)


def _path(g: _Graph, kind, end, arrival, pred, names) -> dict:
    bit, extra, cell, port = end
    cells, node = [], bit
    while node in pred:
        node, c = pred[node]
        if not cells or cells[-1] != c:
            cells.append(c)
    cells.reverse()
    start_cell = g.launch[node][1] if node in g.launch else "<in>"
    start_bit = node
    types = [g.cells[c]["type"] for c in cells]
    ends = [start_cell] + ([cell] if cell != "<out>" else [])
    end_types = [g.cells[c]["type"] for c in ends if c != "<in>"]
    delay = arrival + extra + g.v("clock_uncertainty")
    all_types = types + end_types

    def count(pred_fn):
        return sum(1 for t in all_types if pred_fn(t))
    return {
        "kind": kind, "delay_ns": round(delay, 3), "fmax_mhz": round(1000.0 / delay, 1),
        "logic_levels": len(types), "lut_levels": sum(1 for t in types if is_lut(t)),
        "carry": sum(1 for t in types if t in _CARRY), "muxf": sum(1 for t in types if t in _MUXF),
        "memory": [t for t in all_types if t in _BRAM or t in _SRL or is_lutram(t) or t == "URAM288"],
        "dsp": count(lambda t: t in _DSP),
        "start": _where(g, start_cell, start_bit, names), "end": _where(g, cell, bit, names) | (
            {"pin": port} if cell not in ("<out>",) else {}),
        "route": _route(([g.cells[start_cell]["type"]] if start_cell != "<in>" else ["in"]) + types
                        + ([g.cells[cell]["type"]] if cell != "<out>" else ["out"])),
    }


def analyze(netlist, family: str = "xc7", top: str | None = None) -> dict:
    """The longest paths of a mapped netlist (yosys write_json output: a dict, or a .json / .json.gz path).

    Returns {"family", "model", "fmax_mhz", "delay_ns", "worst": path, "paths": {kind: path or None},
    "cells", "unknown_cells", "loops"}; a path: {"kind", "delay_ns", "fmax_mhz", "logic_levels", "lut_levels",
    "carry", "muxf", "memory", "dsp", "start", "end", "route"} (see the module doc)."""
    if family not in tm.FAMILIES:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(tm.FAMILIES)}")
    if not isinstance(netlist, dict):
        p = Path(netlist)
        opener = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rt") as f:
            netlist = json.load(f)
    mods = netlist["modules"]
    name = top if top in mods else next((k for k, m in mods.items()
                                         if str(m.get("attributes", {}).get("top", "0")).strip("0")), None)
    mod = mods[name or next(iter(mods))]
    g = _Graph(mod, family)
    order, loops = g.order()
    launch = {b: d for b, (d, _) in g.launch.items()}
    inputs = {b: g.v("ff_clk_q") for b, (c, _) in g.driver.items() if c == "<in>"}
    names = _names(mod)
    paths = {}
    for origin, starts in (("reg", launch), ("in", inputs)):
        arr, pred = g.propagate(order, starts)
        for to in ("reg", "out"):
            ends = [e for e in g.capture if (e[2] == "<out>") == (to == "out") and e[0] in arr]
            if not ends:
                paths[f"{origin}2{to}"] = None
                continue
            worst = max(ends, key=lambda e: arr[e[0]] + e[1])
            paths[f"{origin}2{to}"] = _path(g, f"{origin}2{to}", worst, arr[worst[0]], pred, names)
    if g.internal:  # a hard block's own register-to-register stage may be the slowest reg2reg path
        ns, cell, label = max(g.internal)
        delay = ns + g.v("clock_uncertainty")
        if not paths["reg2reg"] or delay > paths["reg2reg"]["delay_ns"]:
            where = _where(g, cell, None, names)
            paths["reg2reg"] = {"kind": "reg2reg", "delay_ns": round(delay, 3), "fmax_mhz": round(1000.0 / delay, 1),
                                "logic_levels": 0, "lut_levels": 0, "carry": 0, "muxf": 0, "memory": [], "dsp": 1,
                                "start": where, "end": where, "route": f"{where['type']} ({label}, inside)"}
    found = [p for p in paths.values() if p]
    worst = max(found, key=lambda p: p["delay_ns"]) if found else None
    return {"family": family, "model": tm.FAMILIES[family]["name"], "worst": worst,
            "fmax_mhz": worst["fmax_mhz"] if worst else None, "delay_ns": worst["delay_ns"] if worst else None,
            "paths": paths, "cells": len(g.cells), "unknown_cells": dict(g.unknown), "loops": loops}
