"""Where a layer's constant memories (weight / threshold ROMs) go and what they cost: the rule the RTL templates
take their rom_style attribute from (`rom_style`), block RAM tilings as yosys maps them (`rom_bram_tiling`; a RAM's:
`bram18_for`), LUTs of a
distributed ROM (`rom_luts`), the bit columns synthesis keeps (`live_width`). Used by the layer kinds (cost,
memory shapes), hwgen.plan.memory (the build's memory plan) and hwgen.codegen.rtl (the templates' attribute);
see hwgen.plan.memory for the rationale of the numbers."""

from __future__ import annotations

import math

import numpy as np

BRAM18_BITS = 18 * 1024
# (depth, width) per primitive; SDP widths 36 (RAMB18) and 72 (RAMB36) included: a ROM has one read port
RAMB18_CFG = [(16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)]
RAMB36_CFG = [(32768, 1), (16384, 2), (8192, 4), (4096, 9), (2048, 18), (1024, 36), (512, 72)]
COST18, COST36 = 129, 257


def bram18_for(depth: int, width: int) -> int:
    """BRAM18 (a RAMB36 counts two) of a depth x width RAM (a FIFO, a buffer: written one word at a time) mapped to
    block RAM: the cheapest tiling of one primitive configuration, ceil(depth / D) x ceil(width / W) blocks. (A
    ROM packs tighter: rom_bram_tiling.)"""
    if depth <= 0 or width <= 0:
        return 0
    best = None
    for cfgs, cost, n18 in ((RAMB18_CFG, COST18, 1), (RAMB36_CFG, COST36, 2)):
        for d, w in cfgs:
            n = math.ceil(depth / d) * math.ceil(width / w)
            key = (n * cost, n * n18)
            if best is None or key < best:
                best = key
    return best[1]


def rom_bram_tiling(depth: int, width: int) -> tuple[int, int]:
    """(BRAM18, depth banks) of a depth x width ROM in block RAM as yosys memory_libmap tiles it on xc7: for a
    configuration D x W it reads the ceil(depth / D) banks of D words at once, their bits side by side (one row of
    banks * width bits, packed into ceil(banks * width / W) blocks, parity bits used), and a LUT mux per output bit
    picks the bank; the cheapest configuration by yosys' cost (COST18 / COST36 per block), fewer banks on a tie.
    Seen with yosys on hwgen_rom (REG_OUT 2, "block"): 2304 x 128 -> 9 RAMB36 512x72 (not 10), 18432 x 32 -> 16
    RAMB36 2048x18 (9 banks of 32 bits = 288 bits = 16 x 18; not 18); rom_style "block" below one block's depth
    is the plain tiling."""
    if depth <= 0 or width <= 0:
        return 0, 0
    best = None
    for cfgs, cost, n18 in ((RAMB18_CFG, COST18, 1), (RAMB36_CFG, COST36, 2)):
        for d, w in cfgs:
            banks = math.ceil(depth / d)
            n = math.ceil(banks * width / w)
            key = (n * cost, n * n18, banks)
            if best is None or key < best:
                best = key
    return best[1], best[2]


def rom_luts(depth: int, width: int) -> int:
    """LUTs of a ROM in distributed logic (random contents): one LUT6 per 64 words per bit, MUXF7/F8 free up
    to 256 words, a LUT per extra 4:1 mux level above that; a single word is a constant."""
    if depth <= 1 or width <= 0:
        return 0
    n64 = math.ceil(depth / 64)
    extra = math.ceil((n64 - 4) / 3) if n64 > 4 else 0
    return width * (n64 + extra)


def resolved_rom_style(depth: int, width: int, mem_style: str = "auto") -> str:
    """The templates' rule (rom_style), resolved: "block" or "distributed" (logic / LUTs)."""
    return "block" if rom_style(depth, width, mem_style) == "block" else "distributed"


def live_width(values, word_axes, elem_bits: int) -> int:
    """Bit columns of a ROM that are not constant over its words. values: integer array of the ROM's elements
    (two's complement in elem_bits bits), word_axes: the axes that enumerate the words (the others enumerate the
    elements of a word). yosys (opt_mem) and Vivado drop constant columns before mapping to block RAM."""
    v = np.asarray(values, dtype=np.int64) & ((1 << elem_bits) - 1)
    if v.size == 0:
        return 0
    live = 0
    for b in range(elem_bits):
        col = (v >> b) & 1
        live += int(np.count_nonzero(col.min(axis=word_axes) != col.max(axis=word_axes)))
    return live


def map_rom(depth: int, width: int, mem_style: str = "auto", live: int | None = None) -> dict:
    """Where one ROM goes and what it costs. The style follows the template's rule on the nominal depth x width;
    the block RAM count uses the `live` (non-constant) columns when given."""
    style = resolved_rom_style(depth, width, mem_style)
    lw = width if live is None else int(live)
    bits = depth * lw
    if style == "block":
        b = rom_bram_tiling(depth, lw)[0]
        luts, alloc = 0, b * BRAM18_BITS
    else:
        b = 0
        luts = rom_luts(depth, lw)
        alloc = luts * 64
    return {"style": style, "depth": depth, "width": width, "live_width": lw, "bits": bits, "bram18": b, "uram": 0,
            "lutram_luts": luts, "allocated_bits": alloc,
            "efficiency": round(bits / alloc, 4) if alloc else None}

def rom_style(depth: int, width: int, style: str = "auto") -> str:
    """Synthesis attribute (rom_style) of a ROM: "block" (BRAM), "distributed" (LUT RAM), "" (none: the tool
    decides). auto: block when the ROM is deep enough to use a block RAM reasonably (depth >= 64 and >= 4 kbit),
    else none; without it yosys turns even large ROMs into logic. Vivado honours the same attribute. (yosys
    cannot map some shallow ROMs as "distributed"; prefer auto.)"""
    if style == "ultra":
        return "block"  # initialised ROMs cannot live in UltraRAM (as in the HLS flow): block RAM
    if style != "auto":
        if style not in ("block", "distributed", "logic"):
            raise ValueError(f"mem_style {style!r} (use auto, block, distributed, ultra or logic)")
        return style
    return "block" if depth >= 64 and depth * width >= 4096 else ""
