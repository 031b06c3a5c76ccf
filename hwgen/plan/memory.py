"""On-chip memory planning: weight and threshold ROMs -> BRAM18 / LUTs (distributed ROM) / URAM, line buffers
(writable: a sliding-window generator's, placed by its kind: hwgen.layers.window_cost.map_line_buffer, the rule
its RTL ram_style and HLS BIND_STORAGE follow) -> LUTRAM / BRAM18 / URAM, the efficiency of each memory and of
all of them, and what packing small ROMs into shared BRAMs would save.

One rule decides where a ROM goes: `hwgen.layers.roms.rom_style(depth, width, mem_style)`, the function the RTL
templates take their `rom_style` attribute from (this module calls it; it does not re-derive it). The ROM shapes
come from the layers (`layer.memories(pe, simd, mem_style)`, the same depth x width the RTL writes: weights
SF*NF words of PE*SIMD*w_bits; thresholds NF words of PE*T*TB; plus `live_width`, the bit columns that are not
constant over the words: yosys (opt_mem) and Vivado drop constant columns, e.g. the sign bits of the lowest /
highest thresholds, so the block RAM count uses the live width while the rom_style rule uses the nominal one).

Block RAM count of a ROM (`rom_bram_tiling`): what yosys `memory_libmap` makes of a read-only memory with one
synchronous read port on xc7: for a configuration of RAMB18 (18 Kbit: 16K x 1, 8K x 2, 4K x 4, 2K x 9, 1K x 18,
512 x 36 SDP) or RAMB36 (36 Kbit: 32K x 1 ... 1K x 36, 512 x 72 SDP), the ceil(depth / D) banks of D words are
read at once with their bits side by side, ceil(banks * width / W) blocks (a LUT mux per bit picks the bank), the
cheapest by yosys' cost, 129 per RAMB18 and 257 per RAMB36 (brams_xc4v.txt); a RAMB36 counts as two BRAM18.
(CNV conv4 / conv5 weights, 2304 x 128 and 18432 x 32: 18 and 32 BRAM18, not 20 and 36 as a tiling of whole
bank rows; benchmarks/calibrate_resources.py --roms checks it against yosys. RAMs (written a word at a time:
FIFOs, buffers) keep the whole-row tiling, `bram18_for`, which this check does not cover.)
Distributed ROMs ("distributed", "logic" or auto below the BRAM threshold) become LUTs: yosys cannot map ROMs
to LUTRAM primitives (`prune_rom`), Vivado uses ROM64X1 = one LUT6 per 64 x 1 bits; both cost about
width * ceil(depth / 64) LUTs (`rom_luts`), and a single-word ROM is a constant (0 LUTs).
UltraRAM: initialised ROMs cannot live in URAM (rom_style maps "ultra" to block RAM, as the HLS flow does), so
the planner never allocates URAM; it is kept in the result for the board budget.

plan_memories(layers, has_uram) -> {
    "layers": {name: {"weights": {...}, "thresholds": {...}, "line_buffer": {...}}}  (the memories a layer has)
        each: {"style": "block" | "distributed" | "ultra", "kind": "rom" | "ram", "depth", "width", "live_width",
               "bits" (depth * live_width), "bram18", "uram", "lutram_luts", "allocated_bits", "efficiency"}
    "totals": {"bram18", "uram", "lutram_luts", "bits_in_bram", "efficiency" (useful bits in BRAM /
               (bram18 * 18432), None without BRAM), "bits", "allocated_bits", "efficiency_all" (every memory:
               used bits / allocated bits), "by_style": {style: {"memories", "bits", "allocated_bits",
               "efficiency"}}}
    "packing": {"bram18_packed", "saving", "groups": [[(layer, memory), ...], ...], "note"}}
"""

from __future__ import annotations

import math

from hwgen.layers.window_cost import map_line_buffer
from hwgen.layers.roms import (  # noqa: F401  (re-exported: the memory plan's vocabulary)
    BRAM18_BITS, COST18, COST36, RAMB18_CFG, RAMB36_CFG, bram18_for, live_width, map_rom, resolved_rom_style,
    rom_bram_tiling,
    rom_luts)

rom_style = resolved_rom_style  # this module's name for it: "block" or "distributed" (the templates' rule, resolved)

# one port of a true-dual-port RAMB18 sees the whole 18 Kbit; half of it (9 Kbit) per ROM when two ROMs share it
HALF18_CFG = [(8192, 1), (4096, 2), (2048, 4), (1024, 9), (512, 18)]


def _half_slices(depth: int, width: int) -> int | None:
    """Halves of a RAMB18 (one TDP port each) a ROM needs when packed with others; None if it does not fit a
    half's depth."""
    opts = [math.ceil(width / w) for d, w in HALF18_CFG if depth <= d]
    return min(opts) if opts else None


def plan_packing(mems: list[tuple[str, str, dict]]) -> dict:
    """Possible saving from sharing BRAM18s between ROMs: each RAMB18 has two independent ports, so two ROMs that
    each fit half of it (9 Kbit, port width <= 18) can share one. Candidates: block ROMs whose own mapping leaves
    at least half a BRAM18 unused. Greedy: pair half-slices across ROMs."""
    cand = []
    for lname, mname, m in mems:
        if m["style"] != "block" or m.get("kind") == "ram":
            continue  # line buffers are written while read: no sharing of their ports
        s = _half_slices(m["depth"], m["live_width"])
        if s is not None and s < 2 * m["bram18"]:
            cand.append((lname, mname, m, s))
    if len(cand) < 2:
        return {"bram18_packed": sum(m["bram18"] for _, _, m in mems), "saving": 0, "groups": [],
                "note": "no two block ROMs with half a BRAM18 to spare"}
    # keep each ROM's full BRAMs to itself; pool only the odd halves
    odd = [(ln, mn) for ln, mn, m, s in cand if s % 2 == 1]
    groups = [[odd[i], odd[i + 1]] for i in range(0, len(odd) - 1, 2)]
    saving = len(groups)
    total = sum(m["bram18"] for _, _, m in mems)
    own = sum(m["bram18"] - math.ceil(s / 2) for _, _, m, s in cand)
    saving += own
    return {"bram18_packed": total - saving, "saving": saving, "groups": groups,
            "note": ("possible saving only: the RTL templates give every layer its own ROM (no shared-BRAM "
                     "ports yet)") if saving else "nothing to gain"}


def layer_buffers(layer) -> dict:
    """Writable buffers of a layer as its kind lists them in memories() ("ram": True): {name: {...}}."""
    mems = layer.memories() if hasattr(layer, "memories") else {}
    return {k: v for k, v in mems.items() if v.get("ram")}


def map_buffers(layer, has_uram: bool = False) -> dict:
    """The layer's buffers where its kind placed them (or, when a kind gives only the shape, by the line-buffer
    rule); URAM only where the board has it (else block RAM)."""
    out = {}
    for k, b in layer_buffers(layer).items():
        m = b if "allocated_bits" in b else map_line_buffer(b["depth"], b["width"], b.get("mem_style", "auto"))
        if m["style"] == "ultra" and not has_uram:
            m = map_line_buffer(b["depth"], b["width"], "block")
        keep = ("style", "depth", "width", "live_width", "bits", "bram18", "uram", "lutram_luts", "allocated_bits",
                "efficiency")
        out[k] = dict({f: m[f] for f in keep}, kind="ram")
    return out


def plan_memories(layers, family: str = "xc7", has_uram: bool = False) -> dict:
    """Map every layer's weight and threshold ROMs and its line buffers (current folding and mem_style of each
    layer)."""
    out_layers: dict[str, dict] = {}
    flat = []
    for lay in layers:
        mems = lay.memories() if hasattr(lay, "memories") else {}
        entry = {}
        for mname, r in mems.items():
            if r.get("ram"):
                continue  # mapped with the buffers below
            m = dict(map_rom(r["depth"], r["width"], r["mem_style"], r.get("live_width")), kind="rom")
            entry[mname] = m
            flat.append((lay.name, mname, m))
        for mname, m in map_buffers(lay, has_uram).items():
            entry[mname] = m
            flat.append((lay.name, mname, m))
        out_layers[lay.name] = entry
    b18 = sum(m["bram18"] for _, _, m in flat)
    bits_b = sum(m["bits"] for _, _, m in flat if m["style"] == "block")
    bits = sum(m["bits"] for _, _, m in flat)
    alloc = sum(m["allocated_bits"] for _, _, m in flat)
    by_style = {}
    for _, _, m in flat:
        d = by_style.setdefault(m["style"], {"memories": 0, "bits": 0, "allocated_bits": 0})
        d["memories"] += 1
        d["bits"] += m["bits"]
        d["allocated_bits"] += m["allocated_bits"]
    for d in by_style.values():
        d["efficiency"] = round(d["bits"] / d["allocated_bits"], 4) if d["allocated_bits"] else None
    totals = {"bram18": b18, "uram": sum(m["uram"] for _, _, m in flat),
              "lutram_luts": sum(m["lutram_luts"] for _, _, m in flat),
              "bits_in_bram": bits_b, "efficiency": round(bits_b / (b18 * BRAM18_BITS), 4) if b18 else None,
              "bits": bits, "allocated_bits": alloc, "efficiency_all": round(bits / alloc, 4) if alloc else None,
              "by_style": by_style}
    return {"layers": out_layers, "totals": totals, "packing": plan_packing(flat)}
