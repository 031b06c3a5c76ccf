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
from collections import defaultdict, deque
from pathlib import Path

from hwgen.sim import timing_model as tm
from hwgen.sim.timing_arcs import (BRAM_TYPES, CARRY_TYPES, CASCADE_IN, CLOCK_PINS, DSP_TYPES, FF_TYPES, MUXF_TYPES,
                                   NO_TIMING, SRL_TYPES, Arcs, cell_arcs, is_lut, is_lutram, param)

__all__ = ["KINDS", "analyze", "cell_arcs", "param"]

KINDS = ("reg2reg", "in2reg", "reg2out", "in2out")


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
                if cell["type"] not in NO_TIMING and cell.get("port_directions"):
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
                    elif p not in CLOCK_PINS:
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
        if sink_port in CASCADE_IN and dtype in DSP_TYPES:
            return v("net_dsp_cascade")
        if sink_type in CARRY_TYPES and sink_port in ("CI", "CI_TOP") and dtype in CARRY_TYPES:
            return v("net_carry_chain")
        if is_lut(dtype) or dtype in MUXF_TYPES:  # a LUT feeding its own slice's carry / wide mux / FF
            if fo <= 2 and (sink_type in CARRY_TYPES and sink_port in ("S", "DI") or sink_type in MUXF_TYPES):
                return v("net_lut_to_carry")
            if fo == 1 and sink_type in FF_TYPES and sink_port == "D":
                return v("net_packed_ff")
        if dtype in CARRY_TYPES and fo == 1 and sink_type in FF_TYPES and sink_port == "D":
            return v("net_packed_ff")  # an adder's sum bit into its own slice's FF
        return v("net_base") + v("net_per_log2_fanout") * math.log2(fo)

    def _bits(self, cell, port, idx):
        bits = cell["connections"].get(port, [])
        if idx is not None:
            bits = bits[idx:idx + 1]
        return [b for b in bits if isinstance(b, int)]

    def _add_cell(self, name, cell, arcs: Arcs):
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
            # an output may also be launched by a clock (LUTRAM / SRL read, a DSP with some registers): both count
            out_bits = [b for p, i in outs for b in self._bits(cell, p, i)]
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
    if c["type"] in FF_TYPES:  # a register: its Q name is the RTL register
        q = [b for b in c["connections"].get("Q", []) if isinstance(b, int)]
        sig = names.get(q[0], sig) if q else sig
    if sig is None:  # an unnamed net into a hard block: the cell's own name, if yosys kept one
        sig = cell if not cell.startswith("$") else "?"
    out = {"cell": cell, "type": c["type"], "signal": sig}
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
        "carry": sum(1 for t in types if t in CARRY_TYPES), "muxf": sum(1 for t in types if t in MUXF_TYPES),
        "memory": [t for t in all_types if t in BRAM_TYPES or t in SRL_TYPES or is_lutram(t) or t == "URAM288"],
        "dsp": count(lambda t: t in DSP_TYPES),
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
