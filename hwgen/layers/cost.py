"""Resource cost models of the RTL blocks (templates/rtl/*.v.j2) as yosys `synth_xilinx -family xc7` maps them.

The layers' `resources()` call these with the widths the RTL generator derives (`layer.rtl_shape()`) and the
block's ROMs (`layer.memories()`). Each model is a sum of structural terms (what the template instantiates:
the matrix core hwgen_mvu's partial-product leaves or XNOR bits, its pipelined hwgen_add_tree per PE (adder and
register bits computed from the tree's own recursion, `_tree`), accumulators, T threshold comparators and count
trees per PE, ROMs, the input vector buffer, the 2-word output queue, counters) with LUT constants, and weights
of the register groups, fitted to yosys (iteratively reweighted non-negative least squares on relative error)
on the sweeps of benchmarks/calibrate_resources.py and benchmarks/calibrate_vvau.py (results in
benchmarks/results/). ROMs are costed by hwgen.layers.roms (the same rule the templates use).

Returned dict: luts (logic LUTs, distributed ROMs included: yosys' LUT1-6), ffs, bram18 (a RAMB36 = 2), uram,
dsps, lutram (LUTs used as RAM: the MVAU input vector buffer, RAM32M / RAM64M).
"""

from __future__ import annotations

import math

from hwgen.bits import clog2 as _clog2
from hwgen.layers.pipeline import levels_per_stage, tree_latency  # (levels_per_stage: the RTL's own LPS)
from hwgen.layers.roms import bram18_for, map_rom
from hwgen.layers.window_cost import lutram_luts, resolve_style

# yosys synth_xilinx (mul2dsp) maps a $mul to a DSP48E1 when both operands are >= 2 bits and the product is
# >= 9 bits (seen in the sweep: 4x4 signed = 8-bit products stay in LUTs, 5x4 = 9-bit ones go to DSPs, constant
# weights included); smaller ones become LUTs. (The single-cycle RTL relied on it; hwgen_mvu decides itself, below:
# a product it builds in LUTs is marked so, and this constant no longer enters the model.)
DSP_MIN_PRODUCT_BITS = 9

# The RTL's rule (templates/rtl/hwgen_mvu.v): products of operands up to LUT_MAX_OPERAND_BITS stored bits each
# (8 x 8: UINT8 / INT8 and narrower, BIPOLAR = 1 bit) are built in LUTs from partial products; wider ones go to
# DSP48s with their M and P registers. XNOR-popcount has no product.
LUT_MAX_OPERAND_BITS = 8


def products_in_dsp(ib: int, wb: int, xnor: bool = False) -> bool:
    """Whether the matrix core puts its products in DSPs (the rule above)."""
    return not xnor and max(int(ib), int(wb)) > LUT_MAX_OPERAND_BITS


def _is_dsp(sh: dict, binary: bool = False) -> bool:
    return products_in_dsp(sh["IB"], sh["WB"], binary)


def _tree(n: int, lw: int, ow: int, lps: int, root: bool = True, loff: int = 0) -> tuple[int, int]:
    """(adder bits, register bits) of templates/rtl/hwgen_add_tree.v over n leaves of lw bits (level by level:
    level l has ceil(n / 2^l) nodes of min(ow, lw + l) bits, floor(nodes(l - 1) / 2) of them adders, the rest
    passed through; a level is registered when l + loff is a multiple of lps and at the root)."""
    h = _clog2(n) if n > 1 else 0
    nodes = [-(-n // (1 << lv)) for lv in range(h + 1)]
    bits = [min(lw + lv, ow) for lv in range(h + 1)]
    adders = sum((nodes[lv - 1] // 2) * bits[lv] for lv in range(1, h + 1))
    regs = sum(nodes[lv] * bits[lv] for lv in range(1, h + 1) if (lv + loff) % lps == 0 or (lv == h and root))
    if h == 0 and root:
        regs = nodes[0] * bits[0]
    return adders, regs


def _core(sh: dict, binary: bool) -> dict:
    """Derived quantities of hwgen_mvu (templates/rtl/hwgen_mvu.v) for a spec: DSP, leaves NL per PE (sh["NL"] from
    hwgen.layers.pipeline.tree_leaves, else SIMD), leaf bits LWT, SIMD sum bits SW, pipeline stages SP, LPS."""
    dsp = _is_dsp(sh, binary)
    lps = int(sh.get("LPS") or levels_per_stage())
    acc = sh["ACC"]
    nl = int(sh.get("NL") or sh["SIMD"])
    lwt = 1 if binary else min(sh["PW"], acc)
    sw = acc - 1 if binary else acc
    loff = 0 if binary or dsp else 1  # the LUT products' AND: a level before the tree (hwgen_mvu LOFF)
    return {"DSP": dsp, "LPS": lps, "NL": nl, "LWT": lwt, "SW": sw, "LOFF": loff,
            "SP": 2 + (2 if dsp else 0) + tree_latency(nl, lps, loff)}


# fitted LUT constants (see the module docstring; refitted 2026-12-06 to the pipelined core hwgen_mvu)
MVAU_LUT = {
    "base": 0.0,           # control counters, valid / first / last, queue count (absorbed by the terms below)
    "xsel": 3.352,         # per input bit: need_in ? in_data : ibuf, the input word registers' enables
    "leaf": 0.998,         # per LUT partial-product leaf bit (PE * NL * LWT): the AND of the selector bit
    "leaf_const": 0.0,     # same, constant weights (fully unfolded: folded into the tree)
    "tree": 0.0,           # per adder bit of hwgen_add_tree (PE trees over NL leaves), LUT products (the leaf
                           # term covers them: the first adder level takes the ANDs)
    "tree_const": 0.298,   # per adder bit, constant weights (synthesis folds the constant partial products)
    "tree_bin": 0.822,     # same, XNOR-popcount
    "tree_dsp": 0.507,     # same over DSP products
    "acc": 0.594,          # per accumulator bit
    "cmp": 0.31,           # per threshold comparator bit (PE * T * TB), thresholds from block RAM
    "cmp_const": 0.0,      # same, thresholds constant (one ROM word: folded into the count)
    "cmp_rom": 0.759,      # same, thresholds from a distributed ROM, doubled above 8 words
    "count": 0.0,          # per adder bit of the count trees (PE trees over NT compare bits)
    "outq": 2.138,         # per output bit (queue mux and its registered ready)
    "rom": 0.467,          # distributed weight ROM: per live word bit * ceil(depth / 16)
}
# as in MVAU_LUT (refitted 2026-12-06 after the output queue got its registered ready)
THR_LUT = {"base": 18.332, "cmp": 0.773, "cmp_const": 0.357, "cmp_rom": 0.921, "outq": 0.0}
THR_FF = {"fixed": 1.0, "trom": 1.0, "trom_small": 0.5}
# weights of the register-bit groups of hwgen_mvu (matrix_ff_features): the share yosys keeps (constant,
# duplicate or address-side registers are removed / moved); fitted as the LUT constants
MVAU_FF = {"fixed": 0.519, "wreg": 1.256, "wrom": 1.098, "treg": 0.915, "trom": 1.251, "treg_small": 0.592,
           "trom_small": 0.0, "cmp": 1.435, "tree": 1.006, "tree_dsp": 0.0}
LS_LUT = {"base": 5.0, "cmp": 1.43, "mux": 0.73}
LS_FF = {"regs": 1.0}
# constants benchmarks/fit_resources.py leaves as they are (structural counts, exact on the sweep)
EXACT_MODELS = {"LS_FF"}


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


def _matrix_features(sh: dict, binary: bool, roms: dict, keys, vvau: bool) -> dict:
    """LUT features shared by the MVAU and the VVAU (both are hwgen_mvu)."""
    c = _core(sh, binary)
    pe, sf, nf = sh["PE"], sh["SF"], sh["NF"]
    f = {k: 0.0 for k in keys}
    f["base"] = 1.0 if sf * nf > 1 else 0.4  # mostly the sf / nf / address counters
    if not vvau:
        f["xsel"] = sh["INW"] * (nf > 1) * (1 + max(0, math.ceil(sf / 64) - 1))
    wconst = sf * nf == 1  # one weight word: constant products, synthesis folds most of the tree
    if not binary and not c["DSP"]:
        f["leaf_const" if wconst else "leaf"] = pe * c["NL"] * c["LWT"]
    tree = "tree_const" if wconst else ("tree_dsp" if c["DSP"] else ("tree_bin" if binary else "tree"))
    f[tree] = pe * _tree(c["NL"], c["LWT"], c["SW"], c["LPS"])[0]
    f["acc"] = pe * sh["ACC"]
    if sh["NT"]:
        bits = pe * sh["NT"] * sh["TB"]
        t = roms["thresholds"]
        if nf == 1:
            f["cmp_const"] = bits
        elif t["style"] == "block":
            f["cmp"] = bits
        else:
            f["cmp_rom"] = (t["live_width"] if vvau else bits) * (1 if nf <= 8 else 2)
        f["count"] = pe * _tree(sh["NT"], 1, sh["OB"], c["LPS"])[0]
    f["outq"] = sh["OUTW"]
    w = roms["weights"]
    # a distributed weight ROM: per ROM bit * ceil(depth / 16)
    f["rom"] = w["live_width"] * math.ceil(w["depth"] / 16) if w["style"] != "block" and w["depth"] > 1 else 0
    return f


def mvau_features(sh: dict, binary: bool, roms: dict) -> dict:
    return _matrix_features(sh, binary, roms, MVAU_LUT, vvau=False)


def matrix_ff_features(sh: dict, binary: bool, roms: dict, vvau: bool) -> dict:
    """Register bits of hwgen_mvu by group (its always blocks, the pipeline registers included); the FF estimate
    is their sum weighted by MVAU_FF."""
    c = _core(sh, binary)
    pe, sf, nf, acc, nt = sh["PE"], sh["SF"], sh["NF"], sh["ACC"], sh["NT"]
    w, t = roms["weights"], roms.get("thresholds")
    nfw = _clog2(nf) if nf > 1 else 1
    fixed = 4 + 2 * 2  # issue / queue handshake, queue count
    fixed += _clog2(sf) * (sf > 1) + _clog2(nf) * (nf > 1) + _clog2(sf * nf) * (sf * nf > 1)  # sf, nf, wa
    fixed += c["SP"] * (1 + 2 + nfw)  # vs, cd: valid, first, last, nf per stage
    fixed += sh["INW"] * (2 + (not vvau and nf > 1 and sf == 1))  # x1, x2 (+ the one-word input buffer)
    fixed += pe * acc + 1  # acc, va
    fixed += 2 * sh["OUTW"]  # output queue
    f = {"fixed": fixed, "wreg": 0, "wrom": 0, "treg": 0, "trom": 0, "treg_small": 0, "trom_small": 0, "cmp": 0,
         "tree": 0, "tree_dsp": 0}
    # memory words: only the live bit columns (synthesis drops constant ones)
    if sf * nf > 1:
        f["wreg"] = w["live_width"]  # w2
        f["wrom"] = w["live_width"] * (w["style"] != "block")  # w1, the distributed ROM's output register
    if nt and nf > 1:
        # ta and the distributed ROM's output register: yosys keeps them for deep ROMs; for shallow ones it
        # moves the register to the address side (a few bits), so they are costed apart
        deep = nf > 8
        f["treg" if deep else "treg_small"] = t["live_width"]
        f["trom" if deep else "trom_small"] = t["live_width"] * (t["style"] != "block")
    if nt:
        f["cmp"] = pe * nt + 3 + pe * _tree(nt, 1, sh["OB"], c["LPS"])[1]  # compares, vt, the count trees
    f["tree_dsp" if c["DSP"] else "tree"] = pe * _tree(c["NL"], c["LWT"], c["SW"], c["LPS"], loff=c["LOFF"])[1]
    return f


def _matrix_ffs(sh: dict, binary: bool, roms: dict, vvau: bool) -> float:
    coef = VVAU_FF if vvau else MVAU_FF
    return sum(coef[k] * v for k, v in matrix_ff_features(sh, binary, roms, vvau).items())


def _dsps(sh: dict, binary: bool) -> int:
    # one DSP48E1 (25 x 18 signed) per product, more for wider operands
    if not _is_dsp(sh, binary):
        return 0
    return sh["PE"] * sh["SIMD"] * math.ceil(max(sh["XS"], sh["WS"]) / 25) * math.ceil(min(sh["XS"], sh["WS"]) / 18)


def mvau_resources(sh: dict, binary: bool, mems: dict) -> dict:
    roms = _roms(mems)
    f = mvau_features(sh, binary, roms)
    luts = sum(MVAU_LUT[k] * v for k, v in f.items())
    ffs = _matrix_ffs(sh, binary, roms, vvau=False)
    lutram, ibuf_bram = _input_buffer(sh)
    return {"luts": int(round(luts)), "ffs": int(round(ffs)), "bram18": _rom_total(roms, "bram18") + ibuf_bram,
            "uram": _rom_total(roms, "uram"), "dsps": _dsps(sh, binary), "lutram": lutram}


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


def _thr_features(f: dict, sh: dict, rom: dict) -> None:
    bits = sh["PE"] * sh["NT"] * sh["TB"]
    if sh["NF"] == 1:
        f["cmp_const"] = bits
    elif rom["style"] == "block":
        f["cmp"] = bits
    else:
        f["cmp_rom"] = bits * (1 if sh["NF"] <= 8 else 2)


def thresholding_features(sh: dict, roms: dict) -> dict:
    f = {k: 0.0 for k in THR_LUT}
    f["base"] = 1.0
    _thr_features(f, sh, roms["thresholds"])
    f["outq"] = sh["OUTW"]
    return f


def thresholding_ff_features(sh: dict, roms: dict) -> dict:
    """Register bits of templates/rtl/thresholding.v.j2 by group: fixed (nf counter, input register x1, valid,
    the output queue's two words, count and ready), the threshold ROM's output register (live columns; a block
    RAM has its own; yosys keeps it for deep distributed ROMs, for shallow ones it moves part of it to the address
    side: costed apart)."""
    nf, t = sh["NF"], roms["thresholds"]
    f = {"fixed": 1 + 3 + _clog2(nf) * (nf > 1) + sh["INW"] + 2 * sh["OUTW"], "trom": 0, "trom_small": 0}
    if nf > 1 and t["style"] != "block":
        f["trom" if nf > 8 else "trom_small"] = t["live_width"]
    return f


def thresholding_resources(sh: dict, mems: dict) -> dict:
    roms = _roms(mems)
    f = thresholding_features(sh, roms)
    luts = sum(THR_LUT[k] * v for k, v in f.items())
    ffs = sum(THR_FF[k] * v for k, v in thresholding_ff_features(sh, roms).items())
    return {"luts": int(round(luts)), "ffs": int(round(ffs)), "bram18": _rom_total(roms, "bram18"),
            "uram": _rom_total(roms, "uram"), "dsps": 0, "lutram": 0}


def label_select_features(sh: dict) -> dict:
    pe, k, ib, ob = sh["PE"], sh["K"], sh["IB"], sh["OB"]
    return {"base": 1.0, "cmp": pe * k * ib, "mux": pe * k * (ib + ob + 1)}


def label_select_ff_features(sh: dict) -> dict:
    """Register bits of templates/rtl/label_select.v.j2: nf, base, the output count, the k-entry list (value,
    index, valid) and the output buffer (exact on the sweep: not fitted)."""
    k, ib, ob, nf = sh["K"], sh["IB"], sh["OB"], sh["NF"]
    return {"regs": _clog2(nf) + ob * (nf > 1) + _clog2(k + 1) + k * (ib + ob + 1) + k * ob}


def label_select_resources(sh: dict) -> dict:
    f = label_select_features(sh)
    luts = sum(LS_LUT[k] * v for k, v in f.items())
    ffs = sum(LS_FF[k] * v for k, v in label_select_ff_features(sh).items())
    return {"luts": int(round(luts)), "ffs": int(round(ffs)), "bram18": 0, "uram": 0, "dsps": 0, "lutram": 0}


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


# VVAU (templates/rtl/vvau.v.j2, the same hwgen_mvu core): the MVAU's terms without the input vector buffer,
# plus the accumulator file of the conv window order (NF partial sums per PE, LUTRAM). Constants fitted to yosys by
# benchmarks/calibrate_vvau.py (results in benchmarks/results/vvau_calibration.csv).
# (refitted 2026-12-06 to hwgen_mvu on the 11 VVAU points: LUT max 8 %, FF max 34 %: the threshold / weight
# register groups of the depthwise core are not yet separated well, see README)
VVAU_LUT = dict({k: 0.0 for k in MVAU_LUT}, base=73.997, tree=0.439, acc=3.331, cmp=0.596, cmp_const=0.182,
                cmp_rom=1.133, count=0.196)
VVAU_FF = {"fixed": 1.734, "wreg": 0.0, "wrom": 0.0, "treg": 1.008, "trom": 0.874, "treg_small": 0.433,
           "trom_small": 0.0, "cmp": 0.075, "tree": 0.0, "tree_dsp": 0.0}


def vvau_features(sh: dict, roms: dict) -> dict:
    return _matrix_features(sh, False, roms, VVAU_LUT, vvau=True)


def vvau_resources(sh: dict, mems: dict) -> dict:
    roms = _roms(mems)
    f = vvau_features(sh, roms)
    luts = sum(VVAU_LUT[k] * v for k, v in f.items())
    ffs = _matrix_ffs(sh, False, roms, vvau=True)
    return {"luts": int(round(luts)), "ffs": int(round(ffs)), "bram18": _rom_total(roms, "bram18"),
            "uram": _rom_total(roms, "uram"), "dsps": _dsps(sh, False),
            "lutram": _lutram_buffer(sh["ACCF"], sh["PE"] * sh["ACC"]) if sh["ACCF"] > 1 else 0}
