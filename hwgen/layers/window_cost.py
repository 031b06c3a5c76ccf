"""Cost of the sliding-window, padding and pool blocks (templates/rtl/swg.v.j2, pad.v.j2, pool.v.j2) as yosys
`synth_xilinx -family xc7` maps them, and where the sliding-window line buffer goes.

The line buffer is a RAM (one write port fed by the input stream, one registered read port), not a ROM:
- "distributed": LUT-RAM, RAM32M = 32 words x 6 bits or RAM64M = 64 x 3 in 4 LUTs (the cheaper tiling), plus a
  read mux of logic LUTs per bit over the tiles in depth (the yosys mapping);
- "block": block RAM in simple-dual-port mode, the cheapest RAMB18 / RAMB36 tiling (hwgen.layers.roms.bram18_for);
- "ultra": UltraRAM (URAM288: 4096 x 72), UltraScale+ only (the RTL carries ram_style "ultra" for Vivado; yosys
  xc7 has none);
- "auto": what yosys chooses (`resolve_style`: the cheaper by its memory_libmap costs).
The HLS template binds the buffer with the same choice (BIND_STORAGE impl=lutram / bram / uram).

LUT models: linear in structural terms of each template (the small position counters, the frame-wide counters and
the buffer address adders, the read mux of a LUT-RAM buffer; per-lane comparators, adders and clips), constants
fitted by least squares on relative error over the sweep of benchmarks/calibrate_window.py (results in
benchmarks/results/window_calibration.csv, fit error in the README); a fit over a narrow range, not a physical
decomposition (SWG's constants are not each meaningful). FFs are counted from the templates' registers; LUT-RAM
and block RAM from the tiling rules above (exact on the sweep).
"""

from __future__ import annotations

import math

import numpy as np

from hwgen.errors import HwgenError
from hwgen.layers.roms import BRAM18_BITS, COST18, COST36, RAMB18_CFG, RAMB36_CFG, bram18_for


MEM_STYLES = ("auto", "block", "distributed", "ultra")
LUTRAM_PRIM_COST = 8  # yosys' cost of a LUT-RAM primitive (COST18 / COST36 per block RAM)
URAM_BITS = 4096 * 72
HLS_IMPL = {"block": "bram", "distributed": "lutram", "ultra": "uram"}

# fitted LUT constants (benchmarks/calibrate_window.py --fit)
SWG_LUT = {"base": 30.012, "ctr": 3.005, "wide": 6.523, "addr": -2.954, "mux": 0.744, "word": -0.461, "out": 0.644,
           "wreg": 1.258}
PAD_LUT = {"base": -4.644, "ctr": 2.245}  # (refitted 2026-12-07: the next position and its inside flags)
POOL_LUT = {"base": 17.667, "max_lane": -3.341, "max": 2.624, "max_reg": 0.564, "sum": 0.582, "clip": 4.072}


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
    (words per cycle); after the previous frame the FIFO is full (the generator was throttled); from its last read
    of that frame it still takes the input rows no window needs and restarts (`tail` cycles), then reads the next
    frame's k-th word at t_r[k] + 1 (its source never stalls: its own input FIFO holds the producer's backlog).
    The FIFO must hold max_k (rho * (tail + t_r[k] + 1) - k) words (0 when the consumer is not slower: a FIFO
    cannot speed it up)."""
    cyc = consumer.cycles()
    if cyc <= spec.frame_period():
        return 0
    rho = spec.out_words / cyc
    t_r = spec.read_times()
    # silent from the frame's last read: the writes of input rows no window uses (stride), the restart cycle, then
    # the refill up to each read of the next frame
    tail = spec.frame_period() - 1 - int(t_r[-1])
    deficit = float((rho * (t_r + 1 + tail) - np.arange(len(t_r))).max())
    if deficit <= 0:
        return 0
    return math.ceil(deficit) + 2


def _lutram_tiling(depth: int, width: int) -> tuple[int, int]:
    """(primitives, words per primitive) of the cheaper yosys LUT-RAM tiling of a simple-dual-port RAM: RAM32M
    (32 words x 6 bits) or RAM64M (64 x 3), 4 LUTs each."""
    n32 = math.ceil(width / 6) * math.ceil(depth / 32)
    n64 = math.ceil(width / 3) * math.ceil(depth / 64)
    return (n32, 32) if n32 <= n64 else (n64, 64)


def lutram_luts(depth: int, width: int) -> int:
    """LUTs of a depth x width RAM with one write and one read port in LUT-RAM."""
    return 4 * _lutram_tiling(depth, width)[0]


def _bram_cost(depth: int, width: int) -> int:
    """yosys memory_libmap's cost of the cheapest block RAM tiling."""
    return min(math.ceil(depth / d) * math.ceil(width / w) * cost
               for cfgs, cost in ((RAMB18_CFG, COST18), (RAMB36_CFG, COST36)) for d, w in cfgs)


def resolve_style(depth: int, width: int, mem_style: str = "auto") -> str:
    """auto: yosys' choice, the cheaper by its costs (LUT-RAM primitive 8, RAMB18 129, RAMB36 257): block RAM from
    17 LUT-RAM primitives on (e.g. 72 x 32 bits)."""
    if mem_style != "auto":
        return mem_style
    lut_cost = LUTRAM_PRIM_COST * _lutram_tiling(depth, width)[0]
    return "block" if _bram_cost(depth, width) < lut_cost else "distributed"


def map_line_buffer(depth: int, width: int, mem_style: str = "auto") -> dict:
    """Where the line buffer goes and what it costs: {"depth", "width", "live_width", "mem_style", "ram": True,
    "style", "hls_impl", "bits", "bram18", "uram", "lutram_luts", "read_tiles", "allocated_bits",
    "efficiency"}."""
    style = resolve_style(depth, width, mem_style)
    bits = depth * width
    b18 = uram = lut = 0
    tiles = 1
    if style == "block":
        b18 = bram18_for(depth, width)
        alloc = b18 * BRAM18_BITS
    elif style == "ultra":
        uram = math.ceil(depth / 4096) * math.ceil(width / 72)
        alloc = uram * URAM_BITS
    else:
        prims, words = _lutram_tiling(depth, width)
        lut, tiles = 4 * prims, math.ceil(depth / words)
        alloc = lut * 64  # a LUT holds 64 bits
    return {"depth": depth, "width": width, "live_width": width, "mem_style": mem_style, "ram": True,
            "style": style, "hls_impl": HLS_IMPL[style], "bits": bits, "bram18": b18, "uram": uram,
            "lutram_luts": lut, "read_tiles": tiles, "allocated_bits": alloc,
            "efficiency": round(bits / alloc, 4) if alloc else None}


def swg_write_reg(lb: dict) -> bool:
    """Whether swg.v.j2 writes its buffer from registers a cycle late (WRITE_REG): a buffer deeper than 128 words
    that may land in LUT-RAM (mem_style auto or distributed), where the write enable is a decode of the address
    over the tiles. By depth, not by `resolve_style`'s guess: yosys puts narrow deep buffers (CNV's 1536 x 1) in
    LUT-RAM where the guess says block RAM; a block RAM pays the registers for nothing."""
    return lb["depth"] > 128 and lb["mem_style"] in ("auto", "distributed")


def swg_features(ctx: dict, lb: dict) -> dict:
    """LUT terms of swg.v.j2 from its template context and its line buffer's mapping (`map_line_buffer`)."""
    ctr = ctx["CFB"] + ctx["KXB"] + ctx["KYB"] + ctx["OXB"] + ctx["OYB"]
    dist = lb["style"] == "distributed"
    return {"base": 1.0, "ctr": ctr, "wide": ctx["WB"], "addr": ctx["AW"],
            "mux": ctx["WORD"] * (lb["read_tiles"] - 1), "word": ctx["WORD"] * dist, "out": ctx["WORD"],
            "wreg": ctx["WORD"] * ctx["WRITE_REG"]}


def swg_resources(spec, lb: dict) -> dict:
    ctx = spec.template_context(lb["mem_style"])
    f = swg_features(ctx, lb)
    luts = max(sum(SWG_LUT[k] * v for k, v in f.items()), 10.0)
    ctr = ctx["CFB"] + ctx["KXB"] + ctx["KYB"] + ctx["OXB"] + ctx["OYB"]
    # wr_cnt, lim_m1, gap (WB + 2); wr_addr, rd_addr; the position counters; 19 flags (the levels' last flags,
    # lvl, win_end, wr_last / wr_full / cw, cr / rd_en / rd_done, the read valid, the output queue's count and
    # ready); per word bit the queue's two words and the read register (inside a block RAM); with WRITE_REG the
    # write address, data and valid, the bypass flag and word
    wreg = ctx["WRITE_REG"]
    ffs = (3 * ctx["WB"] + 2 + 2 * ctx["AW"] + ctr + 19 + wreg * (ctx["AW"] + 2)
           + ctx["WORD"] * (2 + 2 * wreg + (lb["style"] == "distributed")))
    return {"luts": int(round(luts)), "ffs": int(ffs), "bram18": lb["bram18"], "uram": lb["uram"], "dsps": 0,
            "lutram": lb["lutram_luts"]}


def pad_features(ctx: dict) -> dict:
    return {"base": 1.0, "ctr": ctx["CFB"] + ctx["OXB"] + ctx["OYB"]}


def pad_resources(spec) -> dict:
    ctx = spec.template_context()
    f = pad_features(ctx)
    luts = sum(PAD_LUT[k] * v for k, v in f.items())
    return {"luts": int(round(luts)), "ffs": f["ctr"] + ctx["WORD"] + 3, "bram18": 0, "uram": 0, "dsps": 0,
            "lutram": 0}


def pool_features(ctx: dict) -> dict:
    """LUT terms of pool.v.j2: per lane and per lane bit of a max (its partial results in registers when there is
    one channel fold, else LUT-RAM), per lane bit of a sum, per output bit of the Trunc rounding and clip."""
    lanes = ctx["SIMD"] * ctx["AB"]
    trunc = ctx["MODE"] != "max"
    m = not trunc
    return {"base": 1.0, "max_lane": m * ctx["SIMD"], "max": m * lanes, "max_reg": m * lanes * (ctx["CF"] == 1),
            "sum": lanes * trunc, "clip": ctx["WORD_OUT"] * trunc}


def pool_resources(spec) -> dict:
    ctx = spec.template_context()
    f = pool_features(ctx)
    luts = sum(POOL_LUT[k] * v for k, v in f.items())
    lanes = ctx["SIMD"] * ctx["AB"]
    lutram = lutram_luts(ctx["CF"], lanes) if ctx["CF"] > 1 else 0  # the partial results, one word per fold
    # counters; stage 1 (word, fold, flags, valid); the partial result register (stage 2) and for an average the
    # rounded quotients (stage 3), their bits that reach the output; the 2-word queue; the one-fold partial result
    # (a quotient's top SHIFT bits are its sign's copies; FLOOR leaves the sum's low SHIFT bits unused)
    trunc = ctx["MODE"] != "max"
    quot = ctx["SIMD"] * (ctx["AB"] - ctx["SHIFT"])
    r2 = ctx["SIMD"] * ctx["OB"] if not trunc else quot if ctx["ROUNDING"] == "FLOOR" else lanes
    ffs = (ctx["CFB"] + ctx["KB"] + ctx["WORD_IN"] + ctx["CFB"] * (ctx["CF"] > 1) + 3 + 1 + trunc
           + r2 + quot * trunc + 2 * ctx["WORD_OUT"] + 3 + (lanes if ctx["CF"] == 1 else 0))
    return {"luts": int(round(luts)), "ffs": int(ffs), "bram18": 0, "uram": 0, "dsps": 0, "lutram": lutram}
