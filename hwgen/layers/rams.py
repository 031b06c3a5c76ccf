"""Where a layer's writable buffers go and what they cost: the line buffer of a sliding-window generator (and any
other simple dual-port buffer: one write port, one read port) mapped to LUTRAM, block RAM or UltraRAM.

Kept next to hwgen.layers.roms (the ROM rule) because kinds use it for their resources() and templates for their
ram_style attribute; hwgen.plan.memory uses it for the build's memory plan.

Primitives (7-series / UltraScale, what yosys memory_libmap and Vivado use for 1W1R memories):
- LUTRAM: RAM32M = 32 words x 6 bits in 4 LUTs (SDP), RAM64M = 64 x 3 in 4 LUTs; deeper buffers take one
  RAM64M column per 64 words plus a read mux (about one LUT per bit per 4 columns).
- BRAM18 / RAMB36: the same tilings as a ROM (hwgen.layers.roms.bram18_for: 512 x 36 SDP ... 16K x 1).
- URAM288: 4K x 72, UltraScale+ only (boards with `uram` > 0); cascaded in depth and width.
Rule ("auto"): LUTRAM below 4 Kbit or 64 words (a BRAM would be mostly empty); UltraRAM when the board has it
and the buffer fills at least half of one; else block RAM. "distributed" / "block" / "ultra" force a style.
"""

from __future__ import annotations

import math

from hwgen.layers.roms import BRAM18_BITS, bram18_for

URAM_DEPTH, URAM_WIDTH = 4096, 72
URAM_BITS = URAM_DEPTH * URAM_WIDTH


def ram_style(depth: int, width: int, style: str = "auto", has_uram: bool = False) -> str:
    """"distributed" (LUTRAM), "block" (BRAM18/36) or "ultra" (URAM288) for a depth x width buffer."""
    if style in ("distributed", "block"):
        return style
    if style == "ultra":
        return "ultra" if has_uram else "block"
    if style not in ("auto", "logic"):
        raise ValueError(f"mem_style {style!r} (use auto, block, distributed or ultra)")
    bits = depth * width
    if style == "logic" or depth < 64 or bits < 4096:
        return "distributed"
    if has_uram and bits >= URAM_BITS // 2:
        return "ultra"
    return "block"


def lutram_luts(depth: int, width: int) -> tuple[int, int]:
    """(LUTs, allocated bits) of a depth x width SDP buffer in LUTRAM."""
    if depth <= 0 or width <= 0:
        return 0, 0
    if depth <= 32:
        cols = math.ceil(width / 6)
        return 4 * cols, 32 * 6 * cols
    n64, cols = math.ceil(depth / 64), math.ceil(width / 3)
    mux = width * math.ceil((n64 - 1) / 3) if n64 > 1 else 0
    return 4 * cols * n64 + mux, 64 * 3 * cols * n64


def uram_for(depth: int, width: int) -> int:
    return math.ceil(depth / URAM_DEPTH) * math.ceil(width / URAM_WIDTH) if depth > 0 and width > 0 else 0


def map_ram(depth: int, width: int, style: str = "auto", has_uram: bool = False) -> dict:
    """Where one buffer goes, what it costs and how full its primitives are (efficiency = bits / allocated)."""
    st = ram_style(depth, width, style, has_uram)
    bits = depth * width
    b18 = ur = luts = 0
    if st == "block":
        b18 = bram18_for(depth, width)
        alloc = b18 * BRAM18_BITS
    elif st == "ultra":
        ur = uram_for(depth, width)
        alloc = ur * URAM_BITS
    else:
        luts, alloc = lutram_luts(depth, width)
    return {"style": st, "depth": depth, "width": width, "live_width": width, "bits": bits, "bram18": b18,
            "uram": ur, "lutram_luts": luts, "allocated_bits": alloc,
            "efficiency": round(bits / alloc, 4) if alloc else None}
