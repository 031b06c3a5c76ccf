"""Resource cost models of the RTL blocks (templates/rtl/*.v.j2) as yosys `synth_xilinx -family xc7` maps them.

The layers' `resources()` call these with the widths the RTL generator derives (`layer.rtl_shape()`) and the
block's ROMs (`layer.memories()`). Each model is a sum of structural terms (what the template instantiates:
the matrix core hwgen_mvu's partial-product leaves or XNOR bits, its pipelined hwgen_add_tree per PE (adder and
register bits level by level as the tree builds them, counted by hwgen.layers.matrix_tree: LUT products' first
level on its operands' live bits, the levels above at their declared width, other trees at the width of each sum's
value range), accumulators, T threshold comparators and count trees per PE, ROMs, the input vector buffer, the
2-word output queue, counters) with LUT constants; FFs are the register groups yosys keeps, counted bit for bit
(constant bits, identical columns of shallow memories, DSP-packed registers left out) with a few fitted weights.
benchmarks/fit_resources.py fits the constants to yosys (non-negative least squares on the relative error, from
the cached runs of benchmarks/calibrate_resources.py and benchmarks/calibrate_vvau.py; `--write` puts them here;
results in benchmarks/results/). ROMs are costed by hwgen.layers.roms (the same rule the templates use).

Returned dict: luts (logic LUTs, distributed ROMs included: yosys' LUT1-6), ffs, bram18 (a RAMB36 = 2), uram,
dsps, lutram (LUTs used as RAM: the MVAU input vector buffer, RAM32M / RAM64M).
"""

from __future__ import annotations

import math

from hwgen.bits import clog2 as _clog2
from hwgen.layers.matrix_tree import (LUT_MAX_OPERAND_BITS, and_bits, core, first_level_operand_bits,  # noqa: F401
                                      is_dsp, lut_first_stage_regs, live_adder_bits, products_in_dsp,
                                      selector_bits, tree_bits, tree_levels, upper_declared_bits)
from hwgen.layers.pipeline import levels_per_stage, threshold_latency
from hwgen.layers.roms import bram18_for, map_rom, rom_bram_tiling, rom_luts
from hwgen.layers.window_cost import lutram_luts, resolve_style

# yosys synth_xilinx (mul2dsp) maps a $mul to a DSP48E1 when both operands are >= 2 bits and the product is
# >= 9 bits (seen in the sweep: 4x4 signed = 8-bit products stay in LUTs, 5x4 = 9-bit ones go to DSPs, constant
# weights included); smaller ones become LUTs. (The single-cycle RTL relied on it; hwgen_mvu decides itself, below:
# a product it builds in LUTs is marked so, and this constant no longer enters the model.)
DSP_MIN_PRODUCT_BITS = 9

def _distinct_columns(live: int, depth: int) -> float:
    """Expected distinct bit columns among `live` non-constant columns of a depth-word memory (random contents):
    yosys merges the registers (and the LUTs) of identical columns, which is frequent when the memory is shallow
    (at most 2^depth - 2 distinct non-constant columns)."""
    if depth <= 1 or live <= 0:
        return 0.0
    if depth > 20:
        return float(live)
    m = (1 << depth) - 2
    return m * (1.0 - (1.0 - 1.0 / m) ** live)


def _bram_depth_banks(depth: int, width: int) -> int:
    """Block RAM banks (of the configuration's depth) of a depth x width ROM, as hwgen.layers.roms.rom_bram_tiling
    tiles it (as yosys does): the output bit of each is multiplexed in LUTs."""
    return max(1, rom_bram_tiling(depth, width)[1])


# fitted LUT constants (benchmarks/fit_resources.py; refitted 2026-12-07: first tree level on its operand bits, the
# levels above at their declared width, ROM columns by depth)
MVAU_LUT = {
    "base": 32.54,           # control counters, valid / first / last, queue count
    "xsel": 0.331,         # per input bit (MVU, NF > 1): need_in ? in_data : ibuf, the input registers' enables
    "leaf": 0.557,           # per AND of the LUT products (PE * SIMD * and_bits: live selector x operand bits; the
                           # carry chain takes one operand's AND bits on its own LUTs)
    "leaf_const": 0.0,     # same, constant weights (fully unfolded: folded into the tree)
    "tree": 0.518,         # per operand bit of the first level of hwgen_add_tree (PE trees over NL leaves), LUT
                           # products (matrix_tree.first_level_operand_bits: the ANDs merge into its LUTs)
    "tree_up": 1.073,      # per adder bit of the levels above it, at their declared width (upper_declared_bits)
    "tree_const": 0.383,   # per live adder bit (matrix_tree.live_adder_bits), constant weights (synthesis folds the constant partial products)
    "tree_bip": 1.059,      # same, LUT products with a BIPOLAR operand (no AND for its always-1 low bit, the top
                           # partial product a conditional complement)
    "tree_bin": 0.641,     # same, XNOR-popcount
    "tree_dsp": 1.336,     # same over DSP products
    "acc": 0.385,          # per accumulator bit
    "accf": 0.151,           # per accumulator bit of the VVU's accumulator file (its write and read path)
    "cmp": 0.975,          # per threshold comparator bit (PE * T * TB), thresholds from a memory
    "cmp_const": 0.323,    # same, thresholds constant (one ROM word: folded into the count)
    "trom": 0.915,         # distributed threshold ROM: per distinct column * LUTs of a column (roms.rom_luts)
    "count": 0.142,        # per adder bit of the count trees (PE trees over NT compare bits)
    "outq": 0.87,         # per output bit (queue mux)
    "rom": 1.417,          # distributed weight ROM: the same
    "bram_mux": 0.451,     # block RAM weight ROM stacked in depth: per bit * (banks - 1)
}
# as in MVAU_LUT (refitted 2026-12-07); THR_FF: register groups of thresholding.v.j2, fixed and trom bit for bit
THR_LUT = {"base": 12.018, "cmp": 0.794, "cmp_const": 0.369, "cmp_rom": 0.9, "outq": 0.0}
THR_FF = {"fixed": 1.0, "trom": 1.0, "trom_small": 0.495}
# weights of the register-bit groups of hwgen_mvu (matrix_ff_features): 1 for the groups counted bit for bit
# (FIT_HELD), fitted for the tree's first registered level, constant-weight nodes, DSP trees and the delay line
MVAU_FF = {"fixed": 1.0, "ctl": 0.272, "wreg": 1.0, "wrom": 1.0, "treg": 1.0, "trom": 1.0, "cmp": 1.0, "tree": 1.0,
           "tree_first": 1.234, "tree_const": 0.531, "tree_dsp": 0.92}
LS_LUT = {"base": 2.471, "cmp": 1.511, "mux": 0.734}
LS_FF = {"regs": 1.0}
# constants benchmarks/fit_resources.py leaves as they are: whole models (structural counts, exact on the sweep),
# and register groups that yosys keeps bit for bit (weight 1: a fit would only trade them against each other)
EXACT_MODELS = {"LS_FF"}
FIT_HELD = {"MVAU_FF": {"fixed", "wreg", "wrom", "treg", "trom", "cmp", "tree"}, "THR_FF": {"fixed", "trom"}}


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
    c = core(sh, binary)
    pe, sf, nf = sh["PE"], sh["SF"], sh["NF"]
    f = {k: 0.0 for k in keys}
    f["base"] = 1.0 if sf * nf > 1 else 0.4  # mostly the sf / nf / address counters
    if not vvau:
        f["xsel"] = sh["INW"] * (nf > 1) * (1 + max(0, math.ceil(sf / 64) - 1))
    wconst = sf * nf == 1  # one weight word: constant products, synthesis folds most of the tree
    if not binary and not c["DSP"]:
        f["leaf_const" if wconst else "leaf"] = pe * sh["SIMD"] * and_bits(sh, c)
    bip = (sh["IB"] == 1 and sh.get("XBITS") == 2) or (sh["WB"] == 1 and sh.get("WBITS") == 2)
    tree = "tree_const" if wconst else ("tree_dsp" if c["DSP"] else ("tree_bin" if binary else
                                                                      ("tree_bip" if bip else "tree")))
    if tree in ("tree", "tree_bip"):  # LUT products: the first level takes the ANDs, costed apart
        f[tree] = pe * first_level_operand_bits(sh, c)
        f["tree_up"] = pe * upper_declared_bits(c)
    else:
        f[tree] = pe * live_adder_bits(sh, c, binary)
    f["acc"] = pe * sh["ACC"]
    if vvau and sh.get("ACCF", 0) > 1:
        f["accf"] = pe * sh["ACC"]  # the accumulator file's write enables and read path
    if sh["NT"]:
        bits = pe * sh["NT"] * sh["TB"]
        t = roms["thresholds"]
        if nf == 1:
            f["cmp_const"] = bits
        else:
            f["cmp"] = t["live_width"]  # (a threshold bit constant over the folds: a cheaper compare bit)
            if t["style"] != "block":  # the distributed threshold ROM: LUTs per distinct column (roms.rom_luts)
                f["trom"] = _distinct_columns(t["live_width"], nf) * rom_luts(nf, 1)
        f["count"] = pe * tree_bits(sh["NT"], 1, sh["OB"], c["LPS"])[0]
    f["outq"] = sh["OUTW"]
    w = roms["weights"]
    if w["style"] == "block":  # block RAMs stacked in depth: a read mux per bit
        f["bram_mux"] = w["live_width"] * (_bram_depth_banks(w["depth"], w["live_width"]) - 1)
    # a distributed weight ROM: LUTs per distinct column (a LUT6 per 64 words and the muxes above: roms.rom_luts)
    elif w["depth"] > 1:
        f["rom"] = _distinct_columns(w["live_width"], w["depth"]) * rom_luts(w["depth"], 1)
    return f


def mvau_features(sh: dict, binary: bool, roms: dict) -> dict:
    return _matrix_features(sh, binary, roms, MVAU_LUT, vvau=False)


def matrix_ff_features(sh: dict, binary: bool, roms: dict, vvau: bool) -> dict:
    """Register bits of hwgen_mvu by group (its always blocks, the pipeline registers included); the FF estimate
    is their sum weighted by MVAU_FF."""
    c = core(sh, binary)
    pe, sf, nf, acc, nt = sh["PE"], sh["SF"], sh["NF"], sh["ACC"], sh["NT"]
    w, t = roms["weights"], roms.get("thresholds")
    nfw = _clog2(nf) if nf > 1 else 1
    tlat = tree_levels(nt, 1, sh["OB"], c["LPS"]) if nt else []
    fixed = 1 + 2 + 1  # the queue's ready and count, va
    fixed += 2 * (not vvau and nf > 1)  # tready, nf_zero (else equal to the queue's ready / constant: merged)
    fixed += _clog2(sf) * (sf > 1) + _clog2(nf) * (nf > 1) + _clog2(sf * nf) * (sf * nf > 1)  # sf, nf, wa
    fixed += c["SP"] + (1 + sum(x[3] for x in tlat) if nt else 0)  # the valid bits vs, vt
    # x1, x2 (+ the one-word input buffer); DSP products: yosys packs x1 / x2 into every DSP48's A1 / A2 and
    # w1 / w2 into B1 / B2 (their flip-flops disappear)
    fixed += sh["INW"] * ((0 if c["DSP"] else 2) + (not vvau and nf > 1 and sf == 1))
    fixed += pe * acc  # acc
    fixed += 2 * sh["OUTW"]  # the output queue's words
    f = {k: 0 for k in MVAU_FF}
    f["fixed"] = fixed
    f["ctl"] = c["SP"] * (2 + nfw)  # cd: first, last, nf per stage (yosys makes shift registers of most of it)
    # memory words: only the live bit columns (synthesis drops constant ones)
    # (identical columns of a shallow memory give identical registers, which yosys merges: _distinct_columns)
    if sf * nf > 1 and not c["DSP"]:
        wcols = _distinct_columns(w["live_width"], sf * nf)
        f["wreg"] = wcols  # w2 (a block RAM's output register, or a logic ROM's word register)
        f["wrom"] = _clog2(sf * nf) * (w["style"] != "block")  # a logic ROM's address register (hwgen_rom REG_OUT 2)
    if nt and nf > 1:
        tcols = _distinct_columns(t["live_width"], nf)
        f["treg"] = tcols  # ta (as w2)
        f["trom"] = _clog2(nf) * (t["style"] != "block")  # a logic ROM's address register
    if nt:
        f["cmp"] = pe * nt + pe * sum(x[1] * x[2] for x in tlat if x[3])  # compares, the count trees
    # the SIMD trees: the first registered level of LUT products holds partial-product sums whose constant and
    # sign-copy bits yosys drops (lut_first_stage_regs); the later ones, XNOR and DSP trees: every bit. Constant
    # weights (one word): a first-level node is a fixed function of its inputs, the same in every PE whose
    # weights there are the same, and yosys merges those registers (expected distinct nodes per position of PE
    # random ones: _distinct_columns over the node's weight patterns)
    levels = tree_levels(c["NL"], c["LWT"], c["SW"], c["LPS"], loff=c["LOFF"])
    wconst = sf * nf == 1
    if not levels:
        r1, first = 0, c["NL"] * min(c["LWT"], c["SW"])  # one leaf: its register
    elif c["LOFF"]:
        r1, first = lut_first_stage_regs(sh, c)
    else:
        r1 = next(x[0] for x in levels if x[3])
        first = next(x[1] * x[2] for x in levels if x[3])
    later = sum(x[1] * x[2] for x in levels if x[3] and x[0] != r1)
    if c["DSP"]:
        f["tree_dsp"] = pe * (first + later)
    elif wconst:
        npp = max(1, c["NL"] // max(1, sh["SIMD"]))
        wpat = (1 if binary else sh["WB"]) * max(1, (1 << r1) // (1 if binary else npp))  # weight bits per node
        m = 1 << min(wpat, 30)  # weight patterns of a node
        f["tree_const"] = first * m * (1.0 - (1.0 - 1.0 / m) ** pe)
        f["tree"] = pe * later
    else:
        f["tree_first" if c["LOFF"] else "tree"] += pe * first
        f["tree"] += pe * later
    return f


def _matrix_ffs(sh: dict, binary: bool, roms: dict, vvau: bool) -> float:
    coef = VVAU_FF if vvau else MVAU_FF
    return sum(coef[k] * v for k, v in matrix_ff_features(sh, binary, roms, vvau).items())


def _dsps(sh: dict, binary: bool) -> int:
    # one DSP48E1 (25 x 18 signed) per product, more for wider operands
    if not is_dsp(sh, binary):
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
    the output queue's two words, count and ready, hwgen_thresholds' compares and count tree), the threshold ROM's output register (live columns; a block
    RAM has its own; yosys keeps it for deep distributed ROMs, for shallow ones it moves part of it to the address
    side: costed apart)."""
    nf, t = sh["NF"], roms["thresholds"]
    lps = levels_per_stage()
    # (+ hwgen_thresholds: the registered compares, the count tree's registers, the valid bits alongside)
    thl = threshold_latency(sh["NT"], lps)
    cmp = sh["PE"] * (sh["NT"] + tree_bits(sh["NT"], 1, sh["OB"], lps)[1]) + thl - 1
    f = {"fixed": 1 + 3 + _clog2(nf) * (nf > 1) + sh["INW"] + 2 * sh["OUTW"] + cmp, "trom": 0, "trom_small": 0}
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


# VVAU (templates/rtl/vvau.v.j2, the same hwgen_mvu core): the MVAU's terms without the input vector buffer,
# plus the accumulator file of the conv window order (NF partial sums per PE, LUTRAM). One set of constants with the
# MVAU, fitted on both kinds' points (benchmarks/fit_resources.py; VVAU points: benchmarks/calibrate_vvau.py).
VVAU_LUT = MVAU_LUT  # the same core (hwgen_mvu), fitted together
VVAU_FF = MVAU_FF


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
