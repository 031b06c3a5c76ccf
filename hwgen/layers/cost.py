"""Resource cost models of the RTL blocks (templates/rtl/*.v.j2) as yosys `synth_xilinx -family xc7` maps them.

The layers' `resources()` call these with the widths the RTL generator derives (`layer.rtl_shape()`) and the
block's ROMs (`layer.memories()`). Each model is a sum of structural terms (what the template instantiates:
XNOR-popcount or multiplier + adder tree per PE, accumulators, T threshold comparators per PE, ROMs, the input
vector buffer, the 2-word output queue, counters) with LUT constants fitted to yosys on the sweep of
benchmarks/calibrate_resources.py (results in benchmarks/results/resources_calibration.csv). ROMs are costed by
hwgen.plan.memory (the same rule the templates use); FFs are counted from the template's registers.

Returned dict: luts (logic LUTs, distributed ROMs included: yosys' LUT1-6), ffs, bram18 (a RAMB36 = 2), uram,
dsps, lutram (LUTs used as RAM: the MVAU input vector buffer, RAM32M / RAM64M).
"""

from __future__ import annotations

import math

# yosys synth_xilinx maps a $mul to a DSP48E1 when both operands are >= 2 bits and the product is >= 9 bits
# (DSP_A_MINWIDTH=2, DSP_B_MINWIDTH=2, DSP_Y_MINWIDTH=9 in synth_xilinx); smaller ones become LUTs.
DSP_MIN_PRODUCT_BITS = 9

# fitted LUT constants (see the module docstring)
MVAU_LUT = {
    "base": 20.0,          # control counters, valid / first / last, queue count
    "xsel": 1.0,           # per input bit: need_in ? in_data : ibuf
    "bin_pc": 2.6,         # per XNOR input bit (PE * SIMD), weights from a ROM
    "bin_pc_const": 0.9,   # per XNOR input bit, weights constant (one ROM word: fully unfolded)
    "mul": 1.0,            # per LUT multiplier partial-product bit (XS * WS)
    "mul_const": 0.5,      # same, weights constant
    "tree": 1.0,           # per adder-tree bit (PE * (SIMD - 1) * ACC)
    "acc": 1.0,            # per accumulator bit
    "cmp": 1.0,            # per threshold comparator bit (PE * T * TB), thresholds from a ROM
    "cmp_const": 0.3,      # same, thresholds constant
    "cnt": 1.0,            # per threshold (count of the comparators that fire)
    "outq": 1.0,           # per output bit (queue mux)
    "rom": 1.0,            # per LUT of a distributed ROM (hwgen.plan.memory.rom_luts)
}
THR_LUT = {"base": 8.0, "cmp": 1.0, "cmp_const": 0.3, "cnt": 1.0, "outq": 1.0, "rom": 1.0}
LS_LUT = {"base": 10.0, "cmp": 1.0, "mux": 1.0, "obuf": 1.0}


def _clog2(n: int) -> int:
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1


def _lutram_buffer(depth: int, width: int) -> int:
    """LUTs of a depth x width register file with one write and one asynchronous read port (yosys: RAM32M =
    32 x 6 bits, RAM64M = 64 x 3 bits, 4 LUTs each; deeper: several RAM64M and a read mux)."""
    if depth <= 1:
        return 0
    if depth <= 32:
        return 4 * math.ceil(width / 6)
    return 4 * math.ceil(width / 3) * math.ceil(depth / 64)


def _roms(mems: dict) -> dict:
    from hwgen.plan.memory import map_rom

    return {k: map_rom(d, w, s) for k, (d, w, s) in mems.items()}


def _rom_total(roms: dict, key: str) -> int:
    return sum(r[key] for r in roms.values())


def mvau_features(sh: dict, binary: bool, roms: dict) -> dict:
    pe, simd, sf, nf, acc = sh["PE"], sh["SIMD"], sh["SF"], sh["NF"], sh["ACC"]
    wconst = sf * nf == 1
    n = pe * simd
    f = {k: 0.0 for k in MVAU_LUT}
    f["base"] = 1.0
    f["xsel"] = sh["INW"] * (nf > 1) * (1 + max(0, math.ceil(sf / 64) - 1))
    if binary:
        f["bin_pc_const" if wconst else "bin_pc"] = n
    else:
        pp = sh["XS"] * sh["WS"]
        if not _is_dsp(sh):
            f["mul_const" if wconst else "mul"] = n * pp
        f["tree"] = pe * (simd - 1) * acc
    f["acc"] = pe * acc
    if sh["NT"]:
        f["cmp_const" if nf == 1 else "cmp"] = pe * sh["NT"] * sh["TB"]
        f["cnt"] = pe * sh["NT"]
    f["outq"] = sh["OUTW"]
    f["rom"] = _rom_total(roms, "lutram_luts")
    return f


def _is_dsp(sh: dict) -> bool:
    return sh["SF"] * sh["NF"] > 1 and sh["XS"] >= 2 and sh["WS"] >= 2 and sh["PW"] >= DSP_MIN_PRODUCT_BITS


def mvau_resources(sh: dict, binary: bool, mems: dict) -> dict:
    roms = _roms(mems)
    f = mvau_features(sh, binary, roms)
    luts = sum(MVAU_LUT[k] * v for k, v in f.items())
    pe, sf, nf, acc = sh["PE"], sh["SF"], sh["NF"], sh["ACC"]
    w, t = roms["weights"], roms.get("thresholds")
    ffs = 2 + 7  # qcnt, valid / first / last
    ffs += _clog2(sf) * (sf > 1) + _clog2(nf) * (nf > 1) + _clog2(sf * nf) * (sf * nf > 1)
    ffs += 2 * _clog2(nf) * (nf > 1 and t is not None)  # nf1, nf2
    ffs += sh["INW"] * (1 + (nf > 1 and sf == 1))  # x1 (+ the one-word input buffer)
    # a registered distributed ROM keeps its address register (yosys moves the read register to the address)
    ffs += _clog2(sf * nf) * (w["style"] != "block" and sf * nf > 1)
    ffs += 2 * pe * acc  # psum2, acc
    ffs += 2 * sh["OUTW"]  # output queue
    dsps = pe * sh["SIMD"] if (not binary and _is_dsp(sh)) else 0
    return {"luts": int(round(luts)), "ffs": int(ffs), "bram18": _rom_total(roms, "bram18"),
            "uram": _rom_total(roms, "uram"), "dsps": int(dsps),
            "lutram": _lutram_buffer(sf, sh["INW"]) if nf > 1 and sf > 1 else 0}


def thresholding_features(sh: dict, roms: dict) -> dict:
    f = {k: 0.0 for k in THR_LUT}
    f["base"] = 1.0
    f["cmp_const" if sh["NF"] == 1 else "cmp"] = sh["PE"] * sh["NT"] * sh["TB"]
    f["cnt"] = sh["PE"] * sh["NT"]
    f["outq"] = sh["OUTW"]
    f["rom"] = _rom_total(roms, "lutram_luts")
    return f


def thresholding_resources(sh: dict, mems: dict) -> dict:
    roms = _roms(mems)
    f = thresholding_features(sh, roms)
    luts = sum(THR_LUT[k] * v for k, v in f.items())
    nf = sh["NF"]
    ffs = 2 + 1 + _clog2(nf) * (nf > 1) + sh["INW"] + 2 * sh["OUTW"]
    ffs += _clog2(nf) * (roms["thresholds"]["style"] != "block" and nf > 1)
    return {"luts": int(round(luts)), "ffs": int(ffs), "bram18": _rom_total(roms, "bram18"),
            "uram": _rom_total(roms, "uram"), "dsps": 0, "lutram": 0}


def label_select_features(sh: dict) -> dict:
    pe, k, ib, ob = sh["PE"], sh["K"], sh["IB"], sh["OB"]
    return {"base": 1.0, "cmp": pe * k * ib, "mux": pe * k * (ib + ob + 1), "obuf": k * ob}


def label_select_resources(sh: dict) -> dict:
    f = label_select_features(sh)
    luts = sum(LS_LUT[k] * v for k, v in f.items())
    k, ib, ob, nf = sh["K"], sh["IB"], sh["OB"], sh["NF"]
    ffs = _clog2(nf) + ob * (nf > 1) + _clog2(k + 1) + k * (ib + ob + 1) + k * ob
    return {"luts": int(round(luts)), "ffs": int(ffs), "bram18": 0, "uram": 0, "dsps": 0, "lutram": 0}
