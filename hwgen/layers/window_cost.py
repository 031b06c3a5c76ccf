"""Cost of the sliding-window, padding and pool blocks (templates/rtl/swg.v.j2, pad.v.j2, pool.v.j2) as yosys
`synth_xilinx -family xc7` maps them, and where the sliding-window line buffer goes.

The line buffer is a RAM (one write port fed by the input stream, one registered read port), not a ROM:
- "distributed": LUT-RAM, RAM64M = 64 words x 3 bits in 4 LUTs (RAM32M = 32 x 6 when <= 32 words deep), plus a
  read mux of LUTs per bit above 64 words (the yosys mapping of a deep distributed RAM);
- "block": block RAM in simple-dual-port mode, the cheapest RAMB18 / RAMB36 tiling (hwgen.layers.roms.bram18_for);
- "ultra": UltraRAM (URAM288: 4096 x 72), UltraScale+ only (the RTL carries ram_style "ultra" for Vivado; yosys
  xc7 has none);
- "auto": what yosys chooses (benchmarks/calibrate_window.py): LUT-RAM up to AUTO_LUTRAM_MAX_BITS bits or below 64
  words deep, block RAM above.
The HLS template binds the buffer with the same choice (BIND_STORAGE impl=lutram / bram / uram).

LUT and FF models: structural terms (counters, the buffer address adders, per-lane comparators / adders, output
registers) with constants fitted on the sweep of benchmarks/calibrate_window.py (results in
benchmarks/results/window_calibration.csv; fit error printed there and in the README).
"""

from __future__ import annotations

import math

import numpy as np

from hwgen.bits import clog2
from hwgen.errors import HwgenError
from hwgen.layers.roms import BRAM18_BITS, bram18_for

MEM_STYLES = ("auto", "block", "distributed", "ultra")
AUTO_LUTRAM_MAX_BITS = 4096
URAM_BITS = 4096 * 72
HLS_IMPL = {"block": "bram", "distributed": "lutram", "ultra": "uram"}

# fitted LUT constants (benchmarks/calibrate_window.py)
SWG_LUT = {"base": 20.0, "ctr": 1.0, "addr": 2.0, "word": 0.0}
PAD_LUT = {"base": 4.0, "ctr": 1.5, "word": 1.0}
POOL_LUT = {"base": 6.0, "lane": 1.0, "cf": 0.5}


def check_mem_style(name: str, mem_style: str) -> str:
    if mem_style not in MEM_STYLES:
        raise HwgenError(f"layer {name}: mem_style {mem_style!r}; use one of {', '.join(MEM_STYLES)}")
    return mem_style


def fifo_rule(waiting_words: int) -> int:
    """Input FIFO depth from the most words a rate-matched producer has waiting: those plus 2 (the default)."""
    return max(2, int(waiting_words) + 2)


def burst_fifo_words(spec, consumer, consumer_port: int = 0) -> int:
    """Words of the FIFO right after a sliding-window generator (SwgSpec `spec`) feeding a consumer slower than
    it, so that the consumer never starves: the consumer takes the generator's words at its own steady rate rho
    (words per cycle); after the previous frame the FIFO is full (the generator was throttled) and at the restart
    the generator reads its k-th word at t_r[k] + 1 (its source never stalls: its own input FIFO holds the
    producer's backlog). The FIFO must hold max_k (rho * (t_r[k] + 2) - k) words then (0 when the consumer is not
    slower: a FIFO cannot speed it up)."""
    cyc = consumer.cycles()
    if cyc <= spec.frame_period():
        return 0
    rho = spec.out_words / cyc
    t_r, _ = spec.solve()
    deficit = float((rho * (t_r + 2) - np.arange(len(t_r))).max())
    if deficit <= 0:
        return 0
    return math.ceil(deficit) + 2


def lutram_luts(depth: int, width: int) -> int:
    """LUTs of a depth x width RAM with one write and one read port in LUT-RAM (see the module docstring)."""
    if depth <= 32:
        return 4 * math.ceil(width / 6)
    return 4 * math.ceil(width / 3) * math.ceil(depth / 64)


def resolve_style(depth: int, width: int, mem_style: str = "auto") -> str:
    if mem_style != "auto":
        return mem_style
    return "block" if depth >= 64 and depth * width > AUTO_LUTRAM_MAX_BITS else "distributed"


def map_line_buffer(depth: int, width: int, mem_style: str = "auto") -> dict:
    """Where the line buffer goes and what it costs: {"depth", "width", "live_width", "mem_style", "ram": True,
    "style", "hls_impl", "bits", "bram18", "uram", "lutram_luts", "allocated_bits", "efficiency"}."""
    style = resolve_style(depth, width, mem_style)
    bits = depth * width
    b18 = uram = lut = 0
    if style == "block":
        b18 = bram18_for(depth, width)
        alloc = b18 * BRAM18_BITS
    elif style == "ultra":
        uram = math.ceil(depth / 4096) * math.ceil(width / 72)
        alloc = uram * URAM_BITS
    else:
        lut = lutram_luts(depth, width)
        alloc = lut * 64  # a LUT holds 64 bits
    return {"depth": depth, "width": width, "live_width": width, "mem_style": mem_style, "ram": True,
            "style": style, "hls_impl": HLS_IMPL[style], "bits": bits, "bram18": b18, "uram": uram,
            "lutram_luts": lut, "allocated_bits": alloc, "efficiency": round(bits / alloc, 4) if alloc else None}


def swg_features(ctx: dict) -> dict:
    """Structural terms of swg.v.j2 from its template context."""
    ctr = ctx["CFB"] + ctx["KXB"] + ctx["KYB"] + ctx["OXB"] + ctx["OYB"] + 3 * ctx["WB"] + ctx["AW"]
    return {"base": 1.0, "ctr": ctr, "addr": 4 * (ctx["AW"] + 1), "word": ctx["WORD"]}


def swg_resources(spec, lb: dict) -> dict:
    ctx = spec.template_context()
    f = swg_features(ctx)
    luts = sum(SWG_LUT[k] * v for k, v in f.items())
    luts += lb["lutram_luts"] and 0  # the RAM's own LUTs are counted as lutram
    ffs = ctx["WB"] * 3 + 2 * ctx["AW"] + ctx["CFB"] + ctx["KXB"] + ctx["KYB"] + ctx["OXB"] + ctx["OYB"] + 2
    ffs += ctx["WORD"]  # the output register
    return {"luts": int(round(luts)), "ffs": int(ffs), "bram18": lb["bram18"], "uram": lb["uram"], "dsps": 0,
            "lutram": lb["lutram_luts"]}


def pad_resources(spec) -> dict:
    ctx = spec.template_context()
    ctr = ctx["CFB"] + ctx["OXB"] + ctx["OYB"]
    luts = PAD_LUT["base"] + PAD_LUT["ctr"] * ctr + PAD_LUT["word"] * ctx["WORD"]
    return {"luts": int(round(luts)), "ffs": ctr + ctx["WORD"] + 1, "bram18": 0, "uram": 0, "dsps": 0,
            "lutram": 0}


def pool_resources(spec) -> dict:
    ctx = spec.template_context()
    lanes = ctx["SIMD"] * ctx["AB"]
    luts = POOL_LUT["base"] + POOL_LUT["lane"] * lanes * 2 + POOL_LUT["cf"] * ctx["CFB"]
    acc_bits = lanes * ctx["CF"]
    lutram = lutram_luts(ctx["CF"], lanes) if ctx["CF"] > 1 else 0
    ffs = ctx["CFB"] + ctx["KB"] + ctx["WORD_OUT"] + 1 + (acc_bits if ctx["CF"] == 1 else 0)
    return {"luts": int(round(luts)), "ffs": int(ffs), "bram18": 0, "uram": 0, "dsps": 0, "lutram": lutram}


def clog(n: int) -> int:
    return clog2(n)
