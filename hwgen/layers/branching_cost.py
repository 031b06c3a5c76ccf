"""Resource models of the fork / join / repeat blocks (templates/rtl/duplicate, add_streams, concat, upsample .v.j2)
as yosys `synth_xilinx -family xc7` maps them; same keys as hwgen.layers.cost. Structural terms (what the template
instantiates) with LUT constants fitted on the points of benchmarks/calibrate_branching.py (its table gives the
error of every point: LUTs within ~15 % on most, FFs within ~10 %).
"""

from __future__ import annotations

import math

from hwgen.bits import clog2
from hwgen.layers import cost
from hwgen.layers.roms import bram18_for


def _res(luts, ffs, lutram=0, bram18=0, dsps=0) -> dict:
    return {"luts": int(round(luts)), "ffs": int(round(ffs)), "bram18": int(bram18), "uram": 0, "dsps": int(dsps),
            "lutram": int(lutram)}


def duplicate_resources(word_bits: int, n_outputs: int) -> dict:
    """Combinational: the TREADY / TVALID gating only (exact on the calibration points)."""
    return _res(n_outputs + 1, 0)


def _mul_bits(mul: int, in_bits: int, w: int) -> int:
    """Adder bits of a constant multiplication: shift-add, one adder per extra set bit of |mul| (a power of two
    is a free shift), plus a W-bit negation when mul < 0."""
    m = abs(int(mul))
    adds = (bin(m).count("1") - 1) * min(w, in_bits + m.bit_length()) if m > 1 else 0
    return adds + (w if mul < 0 else 0)


# per PE*W adder bit; per PE*OB queue bit; per multiplier adder bit; comparators: per PE*NT*TB bit from a
# distributed ROM of NF words (LUTs grow with log2 NF: ROM and comparator share LUTs); constant thresholds on a
# sum of <= 6 bits collapse to one small function per output bit ("cmp_small", per PE*OB)
ADD_LUT = {"base": 9.0, "add": 1.0, "outq": 0.8, "mul": 0.79, "cmp_small": 1.75, "cmp_const": 0.65,
           "cmp_block": 0.63, "small_sum": 1.5}
# inputs of <= 6 bits together: the whole multiply-add is a function of <= 6 bits, one LUT-ish per sum bit
SMALL_SUM_BITS = 6
ADD_CMP_ROM = (-1.03, 0.715, 0.45)  # per comparator bit: max(floor, a + b * log2(NF))


def add_streams_features(sh: dict, roms: dict) -> dict:
    pe, w, nf, nt = sh["PE"], sh["W"], sh["NF"], sh["NT"]
    f = {k: 0.0 for k in ADD_LUT}
    f["base"] = 1.0
    if sh["A_IB"] + sh["B_IB"] <= SMALL_SUM_BITS:
        f["small_sum"] = pe * w
    else:
        f["add"] = pe * w
        f["mul"] = pe * (_mul_bits(sh["a_mul"], sh["A_IB"], w) + _mul_bits(sh["b_mul"], sh["B_IB"], w))
    f["outq"] = pe * sh["OB"]
    f["cmp_rom"] = 0.0
    if nt:
        bits = pe * nt * sh["TB"]
        if nf == 1:
            f["cmp_small" if sh["TB"] <= 6 else "cmp_const"] = pe * sh["OB"] if sh["TB"] <= 6 else bits
        elif roms["thresholds"]["style"] == "block":
            f["cmp_block"] = bits
        else:
            a, b, floor = ADD_CMP_ROM
            f["cmp_rom"] = bits * max(floor, a + b * math.log2(nf))
    return f


def add_streams_resources(sh: dict, mems: dict) -> dict:
    roms = {k: cost.map_rom(r["depth"], r["width"], r["mem_style"], r.get("live_width")) for k, r in mems.items()}
    f = add_streams_features(sh, roms)
    luts = sum(ADD_LUT.get(k, 1.0) * v for k, v in f.items())
    pe, nf = sh["PE"], sh["NF"]
    ffs = 2 + 1 + pe * (sh["A_IB"] + sh["B_IB"]) + 2 * pe * sh["OB"]
    if sh["NT"]:
        ffs += clog2(nf) * (nf > 1)
        if nf > 1 and roms["thresholds"]["style"] != "block":
            # the ROM read register: yosys keeps it for deep ROMs, part of it at 4 words, none at 2 (it registers
            # the address instead)
            ffs += sh["TW"] * (1.0 if nf > 8 else 0.18 if nf > 2 else 0.0)
    return _res(luts, ffs, bram18=sum(r["bram18"] for r in roms.values()))


CONCAT_LUT = {"mux": 0.91, "counter": 1.34}  # per output bit and LUT6 of the mux (4:1 per LUT6); per counter bit


def concat_resources(pe: int, out_bits: int, in_bits: list[int], nfs: list[int]) -> dict:
    """An n-way word mux into one output register, the input and word counters."""
    n = len(in_bits)
    counters = clog2(n) + clog2(max(nfs))
    luts = CONCAT_LUT["mux"] * pe * out_bits * math.ceil((n - 1) / 3) + CONCAT_LUT["counter"] * counters
    ffs = 1 + pe * out_bits + counters
    return _res(luts, ffs)


UPS_LUT = {"base": 8.7, "mux": 2.07, "mux_block": 1.07, "counter": 1.0}  # per word bit: input / line mux + queue
UPS_BLOCK_MIN_DEPTH = 1024  # a line of 512 words was LUT RAM, one of 2048 block RAM (the boundary is assumed)


def upsample_line(depth: int, width: int) -> dict:
    """Where the line buffer goes: {"style", "lutram", "bram18"}. The block reads and writes one address (a
    single-port RAM, registered read): up to 32 words yosys packs 8 bits in 4 LUTs (RAM32M), deeper ones one LUT
    per bit per 64 words (RAM64X1S ... RAM512X1S), from UPS_BLOCK_MIN_DEPTH on block RAM."""
    if depth <= 1:
        return {"style": "register", "lutram": 0, "bram18": 0}
    if depth >= UPS_BLOCK_MIN_DEPTH:
        return {"style": "block", "lutram": 0, "bram18": bram18_for(depth, width)}
    luts = 4 * math.ceil(width / 8) if depth <= 32 else width * math.ceil(depth / 64)
    return {"style": "distributed", "lutram": luts, "bram18": 0}


def upsample_resources(sp: dict) -> dict:
    """Line buffer, input / line mux, 2-word output queue, five counters and the address adder."""
    counters = sp["FBW"] + sp["RXW"] + sp["IXW"] + sp["RYW"] + sp["AW"]
    line = upsample_line(sp["DEPTH"], sp["WORD"])
    block = line["style"] == "block"
    luts = UPS_LUT["base"] + UPS_LUT["mux_block" if block else "mux"] * sp["WORD"] + UPS_LUT["counter"] * counters
    # input and line-read registers (the read register is the block RAM's own), the queue, valid / select / count
    ffs = 5 + sp["WORD"] * (2 if block else 4) + counters
    return _res(luts, ffs, lutram=line["lutram"], bram18=line["bram18"])
