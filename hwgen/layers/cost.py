"""Resource cost models of the RTL blocks (templates/rtl/*.v.j2) as yosys `synth_xilinx -family xc7` maps them.

The layers' `resources()` call these with the widths the RTL generator derives (`layer.rtl_shape()`) and the
block's ROMs (`layer.memories()`). Each model is a sum of structural terms (what the template instantiates:
XNOR-popcount or multiplier + adder tree per PE, accumulators, T threshold comparators per PE, ROMs, the input
vector buffer, the 2-word output queue, counters) with LUT constants fitted to yosys on the sweep of
benchmarks/calibrate_resources.py (results in benchmarks/results/resources_calibration.csv). ROMs are costed by
hwgen.layers.roms (the same rule the templates use); FFs are counted from the template's registers.

Returned dict: luts (logic LUTs, distributed ROMs included: yosys' LUT1-6), ffs, bram18 (a RAMB36 = 2), uram,
dsps, lutram (LUTs used as RAM: the MVAU input vector buffer, RAM32M / RAM64M).
"""

from __future__ import annotations

import math

from hwgen.bits import clog2 as _clog2
from hwgen.layers.roms import bram18_for, map_rom
from hwgen.layers.window_cost import lutram_luts, resolve_style

# yosys synth_xilinx (mul2dsp) maps a $mul to a DSP48E1 when both operands are >= 2 bits and the product is
# >= 9 bits (seen in the sweep: 4x4 signed = 8-bit products stay in LUTs, 5x4 = 9-bit ones go to DSPs, constant
# weights included); smaller ones become LUTs.
DSP_MIN_PRODUCT_BITS = 9

# fitted LUT constants (see the module docstring)
MVAU_LUT = {
    "base": 20.0,          # control counters, valid / first / last, queue count
    "xsel": 0.68,          # per input bit: need_in ? in_data : ibuf
    "bin_pc": 2.08,        # per XNOR input bit (PE * SIMD), weights from a ROM
    "bin_pc_const": 0.57,  # per XNOR input bit, weights constant (one ROM word: fully unfolded)
    "mul": 2.7,            # per product bit (PW) of a LUT multiplier with XS + WS <= 6 (one LUT per output bit)
    "mul_big": 2.6,        # per partial-product bit (XS * WS) of a larger LUT multiplier
    "mul_const": 0.13,     # per partial-product bit, weights constant
    "tree": 0.37,          # per adder-tree bit (PE * sum over the SIMD-1 adders of min(ACC, PW + level))
    "acc": 1.0,            # per accumulator bit
    "cmp": 0.63,           # per threshold comparator bit (PE * T * TB), thresholds from block RAM
    "cmp_const": 0.65,     # same, thresholds constant (one ROM word)
    "cmp_rom": 0.73,       # same, thresholds from a distributed ROM (ROM and comparator share LUTs), per
                           # comparator bit, doubled above 8 words (the ROM no longer fits the comparator LUT)
    "outq": 0.16,          # per output bit (queue mux)
    "rom": 0.98,           # distributed weight ROM: per word bit * ceil(depth / 16)
}
THR_LUT = {"base": 10.0, "cmp": 0.8, "cmp_const": 0.65, "cmp_rom": 0.9, "outq": 0.16}  # as in MVAU_LUT
FF_ROMREG = {"weights": 0.75, "thresholds": 0.3}
LS_LUT = {"base": 5.0, "cmp": 1.43, "mux": 0.73}


def _lutram_buffer(depth: int, width: int) -> int:
    """LUTs of a depth x width register file with one write and one asynchronous read port (yosys: RAM32M =
    32 x 6 bits, RAM64M = 64 x 3 bits, 4 LUTs each; deeper: several RAM64M and a read mux)."""
    if depth <= 1:
        return 0
    if depth <= 32:
        return 4 * math.ceil(width / 6)
    return 4 * math.ceil(width / 3) * math.ceil(depth / 64)


def _roms(mems: dict) -> dict:
    return {k: map_rom(r["depth"], r["width"], r["mem_style"], r.get("live_width")) for k, r in mems.items()}


def _rom_total(roms: dict, key: str) -> int:
    return sum(r[key] for r in roms.values())


def mvau_features(sh: dict, binary: bool, roms: dict) -> dict:
    pe, simd, sf, nf, acc = sh["PE"], sh["SIMD"], sh["SF"], sh["NF"], sh["ACC"]
    wconst = sf * nf == 1
    n = pe * simd
    f = {k: 0.0 for k in MVAU_LUT}
    f["base"] = 1.0 if sf * nf > 1 else 0.4  # mostly the sf / nf / address counters
    f["xsel"] = sh["INW"] * (nf > 1) * (1 + max(0, math.ceil(sf / 64) - 1))
    if binary:
        f["bin_pc_const" if wconst else "bin_pc"] = n
    else:
        if _is_dsp(sh):
            pass
        elif wconst:
            f["mul_const"] = n * sh["XS"] * sh["WS"]
        else:
            if sh["XS"] + sh["WS"] <= 6:
                f["mul"] = n * sh["PW"]
            else:
                f["mul_big"] = n * sh["XS"] * sh["WS"]
        f["tree"] = pe * _tree_bits(simd, sh["PW"], acc)
    f["acc"] = pe * acc
    if not binary and wconst and _is_dsp(sh):
        # constant-weight products in DSPs: yosys packs the adder tree and accumulator into the DSP cascade
        f["tree"] = f["acc"] = 0
    if sh["NT"]:
        _thr_features(f, sh, roms["thresholds"])
    f["outq"] = sh["OUTW"]
    w = roms["weights"]
    # a distributed weight ROM merges with the products it feeds: per ROM bit * ceil(depth / 16)
    f["rom"] = w["live_width"] * math.ceil(w["depth"] / 16) if w["style"] != "block" and w["depth"] > 1 else 0
    return f


def _tree_bits(n: int, leaf_bits: int, acc: int) -> int:
    """Adder bits of the template's balanced tree over n leaves (yosys narrows each adder to its operands)."""
    if n <= 1:
        return 0
    lo = n // 2
    return _tree_bits(lo, leaf_bits, acc) + _tree_bits(n - lo, leaf_bits, acc) + \
        min(acc, leaf_bits + math.ceil(math.log2(n)))


def _thr_features(f: dict, sh: dict, rom: dict) -> None:
    bits = sh["PE"] * sh["NT"] * sh["TB"]
    if sh["NF"] == 1:
        f["cmp_const"] = bits
    elif rom["style"] == "block":
        f["cmp"] = bits
    else:
        f["cmp_rom"] = bits * (1 if sh["NF"] <= 8 else 2)


def _is_dsp(sh: dict) -> bool:
    # (yosys maps constant-weight products too: a fully unfolded layer still gets one DSP per product)
    return sh["XS"] >= 2 and sh["WS"] >= 2 and sh["PW"] >= DSP_MIN_PRODUCT_BITS


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
    # the read registers of distributed ROMs (w1, thr3): yosys keeps part of them (the rest becomes address
    # registers or is merged into constants); BRAM output registers are inside the BRAM
    ffs += FF_ROMREG["weights"] * sh["WW"] * (w["style"] != "block" and sf * nf > 1)
    if t is not None:
        ffs += FF_ROMREG["thresholds"] * sh["TW"] * (t["style"] != "block" and nf > 1)
    if not (not binary and sf * nf == 1 and _is_dsp(sh)):
        ffs += 2 * pe * acc  # psum2, acc (inside the DSP cascade for constant-weight DSP products)
    ffs += 2 * sh["OUTW"]  # output queue
    # one DSP48E1 (25 x 18 signed) per product, more for wider operands
    per = math.ceil(max(sh["XS"], sh["WS"]) / 25) * math.ceil(min(sh["XS"], sh["WS"]) / 18)
    dsps = pe * sh["SIMD"] * per if (not binary and _is_dsp(sh)) else 0
    lutram, ibuf_bram = _input_buffer(sh)
    return {"luts": int(round(luts)), "ffs": int(round(ffs)), "bram18": _rom_total(roms, "bram18") + ibuf_bram,
            "uram": _rom_total(roms, "uram"), "dsps": int(dsps), "lutram": lutram}


def _input_buffer(sh: dict) -> tuple[int, int]:
    """(LUTRAM LUTs, BRAM18) of the MVAU's input vector buffer (SF words of INW bits, kept while NF > 1 folds
    reuse it), placed as yosys places a RAM (hwgen.layers.window_cost.resolve_style: block RAM when cheaper by
    memory_libmap's costs; seen at conv sizes: CNV conv5 at fold_cnv_large, 72 x 32 bits -> one RAMB18,
    benchmarks/calibrate_vvau.py)."""
    sf, nf, inw = sh["SF"], sh["NF"], sh["INW"]
    if nf <= 1 or sf <= 1:
        return 0, 0
    if resolve_style(sf, inw) == "block":
        return 0, bram18_for(sf, inw)
    return lutram_luts(sf, inw), 0


def thresholding_features(sh: dict, roms: dict) -> dict:
    f = {k: 0.0 for k in THR_LUT}
    f["base"] = 1.0
    _thr_features(f, sh, roms["thresholds"])
    f["outq"] = sh["OUTW"]
    return f


def thresholding_resources(sh: dict, mems: dict) -> dict:
    roms = _roms(mems)
    f = thresholding_features(sh, roms)
    luts = sum(THR_LUT[k] * v for k, v in f.items())
    nf = sh["NF"]
    ffs = 2 + 1 + _clog2(nf) * (nf > 1) + sh["INW"] + 2 * sh["OUTW"]
    ffs += FF_ROMREG["thresholds"] * sh["TW"] * (roms["thresholds"]["style"] != "block" and nf > 1)
    return {"luts": int(round(luts)), "ffs": int(round(ffs)), "bram18": _rom_total(roms, "bram18"),
            "uram": _rom_total(roms, "uram"), "dsps": 0, "lutram": 0}


def label_select_features(sh: dict) -> dict:
    pe, k, ib, ob = sh["PE"], sh["K"], sh["IB"], sh["OB"]
    return {"base": 1.0, "cmp": pe * k * ib, "mux": pe * k * (ib + ob + 1)}


def label_select_resources(sh: dict) -> dict:
    f = label_select_features(sh)
    luts = sum(LS_LUT[k] * v for k, v in f.items())
    k, ib, ob, nf = sh["K"], sh["IB"], sh["OB"], sh["NF"]
    ffs = _clog2(nf) + ob * (nf > 1) + _clog2(k + 1) + k * (ib + ob + 1) + k * ob
    return {"luts": int(round(luts)), "ffs": int(ffs), "bram18": 0, "uram": 0, "dsps": 0, "lutram": 0}


# FIFO on a stream (templates/rtl/hwgen_fifo.v; style "auto": a register array up to SRL_MAX_DEPTH words, a RAM
# above). yosys synth_xilinx -family xc7 maps the register array to flip-flops, not SRLs (srl = 0 at every
# point), so FF = bits * depth + the clog2(depth + 1)-bit count, exact at 8 points (2x2 ... 128x64), and LUT =
# bits * depth / 2 + 2 per count bit (the read mux), within 7 %. The RAM style becomes LUTRAM (RAM64M: 3 bits x 64
# words in 4 LUTs) for small memories and block RAM (18 bits x 1024 words per BRAM18) for large ones (16x100,
# 8x300: LUTRAM exact; 40x600: 3 BRAM18); the LUTRAM / BRAM boundary is assumed, not measured.
FIFO_SRL_MAX_DEPTH = 64
FIFO_LUTRAM_MAX_BITS = 4096


def fifo_resources(bits: int, depth: int) -> dict:
    """Estimated resources of the FIFO of a `bits`-wide stream holding `depth` words (same keys as the layers')."""
    cw = _clog2(depth + 1)
    if depth <= FIFO_SRL_MAX_DEPTH:
        return {"luts": round(0.5 * bits * depth + 2 * cw), "ffs": bits * depth + cw, "bram18": 0, "uram": 0,
                "dsps": 0, "lutram": 0}
    if bits * depth <= FIFO_LUTRAM_MAX_BITS:
        return {"luts": 6 * cw, "ffs": bits + 3 * cw, "bram18": 0, "uram": 0, "dsps": 0,
                "lutram": 4 * math.ceil(depth / 64) * math.ceil(bits / 3)}
    # block RAM: the output register is the BRAM's own, only the pointers and count are flip-flops
    return {"luts": 3 * cw, "ffs": 3 * cw, "bram18": math.ceil(bits / 18) * math.ceil(depth / 1024),
            "uram": 0, "dsps": 0, "lutram": 0}


# VVAU (templates/rtl/vvau.v.j2): the MVAU's terms without the input vector buffer, plus the accumulator file
# of the conv window order (NF partial sums per PE, written and read every cycle). Constants fitted to yosys by
# benchmarks/calibrate_vvau.py (results in benchmarks/results/vvau_calibration.csv).
# (least squares on relative LUT error over the "fit" points: max 16 %; the accumulator file's read select
# came out at 0 LUTs, absorbed by the LUTRAM, and is not a term)
VVAU_LUT = dict(MVAU_LUT, cmp_rom=1.10, cmp=0.86, cmp_const=0.21)


def vvau_features(sh: dict, roms: dict) -> dict:
    pe, simd, sf, nf, acc = sh["PE"], sh["SIMD"], sh["SF"], sh["NF"], sh["ACC"]
    wconst = sf * nf == 1
    n = pe * simd
    f = {k: 0.0 for k in VVAU_LUT}
    f["base"] = 1.0 if sf * nf > 1 else 0.4
    if not _is_dsp(sh):
        if wconst:
            f["mul_const"] = n * sh["XS"] * sh["WS"]
        elif sh["XS"] + sh["WS"] <= 6:
            f["mul"] = n * sh["PW"]
        else:
            f["mul_big"] = n * sh["XS"] * sh["WS"]
    f["tree"] = pe * _tree_bits(simd, sh["PW"], acc)
    f["acc"] = pe * acc
    if sh["NT"]:
        # comparators against a threshold ROM: per live ROM bit (yosys drops constant columns), doubled above 8
        # words as in the MVAU; constant thresholds (one fold) fold into far fewer LUTs than in the MVAU sweep
        t = roms["thresholds"]
        bits = sh["PE"] * sh["NT"] * sh["TB"]
        if nf == 1:
            f["cmp_const"] = bits
        elif t["style"] == "block":
            f["cmp"] = bits
        else:
            f["cmp_rom"] = t["live_width"] * (1 if nf <= 8 else 2)
    f["outq"] = sh["OUTW"]
    w = roms["weights"]
    f["rom"] = w["live_width"] * math.ceil(w["depth"] / 16) if w["style"] != "block" and w["depth"] > 1 else 0
    return f


def vvau_resources(sh: dict, mems: dict) -> dict:
    roms = _roms(mems)
    f = vvau_features(sh, roms)
    luts = sum(VVAU_LUT[k] * v for k, v in f.items())
    pe, sf, nf, acc = sh["PE"], sh["SF"], sh["NF"], sh["ACC"]
    w, t = roms["weights"], roms.get("thresholds")
    ffs = 2 + 7 + _clog2(sf) + _clog2(nf) * 3 + _clog2(sf * nf) * (sf * nf > 1)
    ffs += sh["INW"]  # x1
    ffs += FF_ROMREG["weights"] * sh["WW"] * (w["style"] != "block" and sf * nf > 1)
    if t is not None:
        ffs += FF_ROMREG["thresholds"] * sh["TW"] * (t["style"] != "block" and nf > 1)
    # psum2 (the DSP's own output register when the products are in DSPs) and acc (accr, the accumulator of the
    # one-fold / depthwise style, is the same register: merged)
    ffs += pe * acc * (1 + (not _is_dsp(sh)))
    ffs += 2 * sh["OUTW"]
    per = math.ceil(max(sh["XS"], sh["WS"]) / 25) * math.ceil(min(sh["XS"], sh["WS"]) / 18)
    dsps = pe * sh["SIMD"] * per if _is_dsp(sh) else 0
    return {"luts": int(round(luts)), "ffs": int(round(ffs)), "bram18": _rom_total(roms, "bram18"),
            "uram": _rom_total(roms, "uram"), "dsps": int(dsps),
            "lutram": _lutram_buffer(sh["ACCF"], pe * acc) if sh["ACCF"] > 1 else 0}
