"""Resource cost models of the RTL blocks (templates/rtl/*.v.j2) as yosys `synth_xilinx -family xc7` maps them.

The layers' `resources()` call these with the widths the RTL generator derives (`layer.rtl_shape()`) and the
block's ROMs (`layer.memories()`). Each model is a sum of structural terms (what the template instantiates:
the matrix core hwgen_mvu's partial-product leaves or XNOR bits, its pipelined hwgen_add_tree per PE (adder and
register bits level by level as the tree builds them, `_tree_levels`, at the width of each sum's value range,
`_leaf_ranges`), accumulators, T threshold comparators and count trees per PE, ROMs, the input vector buffer, the
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
from hwgen.layers.pipeline import levels_per_stage, tree_latency  # (levels_per_stage: the RTL's own LPS)
from hwgen.layers import roms as _roms_mod
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


def selector_bits(idt, wdt) -> dict:
    """hwgen_mvu's XBITS / WBITS of the operand types (BIPOLAR: 2), which the LUT products' shape depends on."""
    return {"XBITS": 2 if idt.bipolar else idt.bits, "WBITS": 2 if wdt.bipolar else wdt.bits}


def _is_dsp(sh: dict, binary: bool = False) -> bool:
    return products_in_dsp(sh["IB"], sh["WB"], binary)


def _tree_levels(n: int, lw: int, ow: int, lps: int, root: bool = True, loff: int = 0) -> list[tuple]:
    """(level, nodes, bits, registered) of levels 1 .. clog2(n) of templates/rtl/hwgen_add_tree.v over n leaves of
    lw bits: level l has ceil(n / 2^l) nodes of min(ow, lw + l) bits, floor(nodes(l - 1) / 2) of them adders,
    the rest passed through; it is registered when l + loff is a multiple of lps, and at the root."""
    h = _clog2(n) if n > 1 else 0
    return [(lv, -(-n // (1 << lv)), min(lw + lv, ow), (lv + loff) % lps == 0 or (lv == h and root))
            for lv in range(1, h + 1)]


def _tree(n: int, lw: int, ow: int, lps: int, root: bool = True, loff: int = 0) -> tuple[int, int]:
    """(adder bits, register bits) of hwgen_add_tree (see _tree_levels; one leaf: its register only)."""
    lv = _tree_levels(n, lw, ow, lps, root, loff)
    if not lv:
        return 0, (n * min(lw, ow) if root else 0)
    nodes = [n] + [x[1] for x in lv]
    adders = sum((nodes[i] // 2) * x[2] for i, x in enumerate(lv))
    return adders, sum(x[1] * x[2] for x in lv if x[3])


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
    """Block RAMs stacked in depth for a depth x width ROM (the configuration hwgen.layers.roms.bram18_for picks,
    as yosys does): their outputs are multiplexed in LUTs."""
    best = None
    for cfgs, cost, _ in ((_roms_mod.RAMB18_CFG, _roms_mod.COST18, 1), (_roms_mod.RAMB36_CFG, _roms_mod.COST36, 2)):
        for d, w in cfgs:
            key = (math.ceil(depth / d) * math.ceil(width / w) * cost, math.ceil(depth / d))
            if best is None or key < best:
                best = key
    return best[1] if best else 1


def _operand_range(bits: int, sbits: int) -> tuple[int, int]:
    """Value range of an operand of `bits` stored bits and `sbits` signed bits (sbits == bits + 1: unsigned;
    a BIPOLAR one, 1 stored bit, is taken as 0 / 1: one live bit either way)."""
    if sbits > bits or bits == 1:
        return 0, (1 << bits) - 1
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def _live_bits(lo: int, hi: int, tz: int) -> int:
    """Non-constant bits of a register holding values in [lo, hi] whose low tz bits are constant (yosys drops the
    constant ones and merges the copies of a sign)."""
    if lo >= 0:
        return max(0, hi.bit_length() - tz)
    return max(0, max(hi.bit_length(), (-lo - 1).bit_length()) + 1 - tz)


def _leaf_ranges(sh: dict, c: dict, binary: bool) -> list[tuple[int, int, int]]:
    """(low, high, constant low bits) of the tree leaves of one product: XNOR 0 / 1; a DSP product its range;
    LUT products NPP partial products (selector bit gb: 0 or the wider operand << gb; a signed selector's top one
    complemented, its +1 in the accumulator's start value)."""
    if binary:
        return [(0, 1, 0)]
    xlo, xhi = _operand_range(sh["IB"], sh["XS"])
    wlo, whi = _operand_range(sh["WB"], sh["WS"])
    if c["DSP"]:
        corners = [a * b for a in (xlo, xhi) for b in (wlo, whi)]
        return [(min(corners), max(corners), 0)]
    npp = max(1, c["NL"] // max(1, sh["SIMD"]))
    xbits, wbits = sh.get("XBITS", sh["IB"]), sh.get("WBITS", sh["WB"])  # BIPOLAR: 2 (hwgen_mvu XBITS / WBITS)
    if xbits < wbits:  # hwgen_mvu SWAP: the input selects, the weight is shifted
        (alo, ahi), sbits, ssig = (wlo, whi), xbits, sh["XS"]
    else:
        (alo, ahi), sbits, ssig = (xlo, xhi), wbits, sh["WS"]
    neg = ssig <= sbits  # a signed (or BIPOLAR: 2 bits, 2 signed bits) selector: its top bit is negative
    out = []
    for gb in range(npp):
        lo, hi = min(0, alo << gb), max(0, ahi << gb)
        if neg and gb == npp - 1:
            lo, hi = -hi - 1, -lo - 1
        out.append((lo, hi, gb))
    return out


def _level_live_bits(leaves: list, n: int, level: int, width: int) -> tuple[int, int, int]:
    """(nodes, live bits summed over the nodes, live bits of the last node) of a tree level over n leaves (leaf i
    is leaves[i % len(leaves)]); a node's live bits: _live_bits of its value range, at most `width`. The leaves
    repeat with period p, so the full nodes take p / gcd(span, p) distinct values: computed once each."""
    p, span = len(leaves), 1 << level
    lo_sum, hi_sum, tz_min = sum(x[0] for x in leaves), sum(x[1] for x in leaves), min(x[2] for x in leaves)

    def node(start: int, length: int) -> int:
        full, rem = divmod(length, p)
        lo, hi, tz = full * lo_sum, full * hi_sum, (tz_min if full else 64)
        for i in range(start, start + rem):
            llo, lhi, t = leaves[i % p]
            lo, hi, tz = lo + llo, hi + lhi, min(tz, t)
        return min(width, _live_bits(lo, hi, tz))

    nfull, rest = divmod(n, span)
    period = p // math.gcd(span, p)
    total = 0
    for k in range(min(nfull, period)):
        total += node(k * span % p, span) * (nfull // period + (k < nfull % period))
    last = node(nfull * span % p, rest) if rest else (node((nfull - 1) * span % p, span) if nfull else 0)
    if rest:
        total += last
    return nfull + (rest > 0), total, last


def _and_bits(sh: dict, c: dict) -> int:
    """AND gates of one LUT product: (selector bits that are not constant: a BIPOLAR selector's low bit is
    always 1) x (the live bits of the shifted operand)."""
    xbits, wbits = sh.get("XBITS", sh["IB"]), sh.get("WBITS", sh["WB"])
    npp = max(1, c["NL"] // max(1, sh["SIMD"]))
    if xbits < wbits:
        sel_bipolar, abits = sh["IB"] == 1 and xbits == 2, sh["WB"]
    else:
        sel_bipolar, abits = sh["WB"] == 1 and wbits == 2, sh["IB"]
    return (npp - sel_bipolar) * abits


def _lut_first_stage_regs(sh: dict, c: dict) -> tuple[int, int]:
    """(level, live register bits per PE) of the first registered level of a LUT-product tree: its nodes sum
    partial products, so their low bits are constant and their value range is narrower than the node's width
    (yosys keeps the live bits only; at later levels it keeps every bit)."""
    h = _clog2(c["NL"]) if c["NL"] > 1 else 0
    r1 = next((lv for lv in range(1, h + 1) if (lv + c["LOFF"]) % c["LPS"] == 0), h)
    return r1, _level_live_bits(_leaf_ranges(sh, c, False), c["NL"], r1, min(c["LWT"] + r1, c["SW"]))[1]


def _live_adder_bits(sh: dict, c: dict, binary: bool, first: bool | None = None) -> int:
    """Adder bits per PE of the SIMD tree counted at the live width of each sum (its value range), not the
    node's declared width: the LUTs yosys builds (the declared width is the leaf's PW bits + 1 per level, more
    than narrow or BIPOLAR operands' products need; constant and sign-copy bits cost nothing)."""
    leaves, n = _leaf_ranges(sh, c, binary), c["NL"]
    h = _clog2(n) if n > 1 else 0
    total, nodes = 0, n
    for lv in range(1, h + 1):
        count, bits, last = _level_live_bits(leaves, n, lv, min(c["LWT"] + lv, c["SW"]))
        if first is None or first == (lv == 1):  # (first: level 1 only; False: the levels above it)
            total += bits - (last if nodes % 2 else 0)  # adders: the nodes with a partner (not an odd last one)
        nodes = count
    return total




# fitted LUT constants (benchmarks/fit_resources.py; refitted 2026-12-07 to hwgen_mvu with the flat hwgen_add_tree)
MVAU_LUT = {
    "base": 0.0,           # control counters, valid / first / last, queue count
    "xsel": 1.218,         # per input bit (MVU, NF > 1): need_in ? in_data : ibuf, the input registers' enables
    "leaf": 0.0,           # per AND of the LUT products (PE * SIMD * _and_bits: live selector x operand bits)
    "leaf_const": 0.0,     # same, constant weights (fully unfolded: folded into the tree)
    "tree": 2.859,         # per live adder bit of the first level of hwgen_add_tree (PE trees over NL leaves),
                           # LUT products (the partial products' ANDs merge into it)
    "tree_up": 0.499,      # same, the levels above it
    "tree_const": 0.398,   # same, constant weights (synthesis folds the constant partial products)
    "tree_bip": 2.214,      # same, LUT products with a BIPOLAR operand (no AND for its always-1 low bit, the top
                           # partial product a conditional complement)
    "tree_bin": 0.701,     # same, XNOR-popcount
    "tree_dsp": 1.164,     # same over DSP products
    "acc": 0.452,          # per accumulator bit
    "accf": 0.0,           # per accumulator bit of the VVU's accumulator file (its write and read path)
    "cmp": 1.048,          # per threshold comparator bit (PE * T * TB), thresholds from a memory
    "cmp_const": 0.203,    # same, thresholds constant (one ROM word: folded into the count)
    "trom": 0.347,         # distributed threshold ROM: per distinct column * ceil(depth / 16)
    "count": 0.094,        # per adder bit of the count trees (PE trees over NT compare bits)
    "outq": 1.335,         # per output bit (queue mux)
    "rom": 0.442,          # distributed weight ROM: per distinct column * ceil(depth / 16)
    "bram_mux": 0.287,     # block RAM weight ROM stacked in depth: per bit * (banks - 1)
}
# as in MVAU_LUT (refitted 2026-12-07); THR_FF: register groups of thresholding.v.j2, fixed and trom bit for bit
THR_LUT = {"base": 12.018, "cmp": 0.794, "cmp_const": 0.369, "cmp_rom": 0.9, "outq": 0.0}
THR_FF = {"fixed": 1.0, "trom": 1.0, "trom_small": 0.495}
# weights of the register-bit groups of hwgen_mvu (matrix_ff_features): 1 for the groups counted bit for bit
# (FIT_HELD), fitted for the tree's first registered level, constant-weight nodes, DSP trees and the delay line
MVAU_FF = {"fixed": 1.0, "ctl": 0.292, "wreg": 1.0, "wrom": 1.0, "treg": 1.0, "trom": 1.0, "cmp": 1.0, "tree": 1.0,
           "tree_first": 1.232, "tree_const": 0.53, "tree_dsp": 0.914}
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
    c = _core(sh, binary)
    pe, sf, nf = sh["PE"], sh["SF"], sh["NF"]
    f = {k: 0.0 for k in keys}
    f["base"] = 1.0 if sf * nf > 1 else 0.4  # mostly the sf / nf / address counters
    if not vvau:
        f["xsel"] = sh["INW"] * (nf > 1) * (1 + max(0, math.ceil(sf / 64) - 1))
    wconst = sf * nf == 1  # one weight word: constant products, synthesis folds most of the tree
    if not binary and not c["DSP"]:
        f["leaf_const" if wconst else "leaf"] = pe * sh["SIMD"] * _and_bits(sh, c)
    bip = (sh["IB"] == 1 and sh.get("XBITS") == 2) or (sh["WB"] == 1 and sh.get("WBITS") == 2)
    tree = "tree_const" if wconst else ("tree_dsp" if c["DSP"] else ("tree_bin" if binary else
                                                                      ("tree_bip" if bip else "tree")))
    if tree in ("tree", "tree_bip"):  # LUT products: the first level takes the ANDs, costed apart
        f[tree] = pe * _live_adder_bits(sh, c, binary, first=True)
        f["tree_up"] = pe * _live_adder_bits(sh, c, binary, first=False)
    else:
        f[tree] = pe * _live_adder_bits(sh, c, binary)
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
            if t["style"] != "block":  # the distributed threshold ROM: per distinct column * ceil(depth / 16)
                f["trom"] = _distinct_columns(t["live_width"], nf) * math.ceil(nf / 16)
        f["count"] = pe * _tree(sh["NT"], 1, sh["OB"], c["LPS"])[0]
    f["outq"] = sh["OUTW"]
    w = roms["weights"]
    if w["style"] == "block":  # block RAMs stacked in depth: a read mux per bit
        f["bram_mux"] = w["live_width"] * (_bram_depth_banks(w["depth"], w["live_width"]) - 1)
    # a distributed weight ROM: per distinct column * ceil(depth / 16)
    elif w["depth"] > 1:
        f["rom"] = _distinct_columns(w["live_width"], w["depth"]) * math.ceil(w["depth"] / 16)
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
    tlat = _tree_levels(nt, 1, sh["OB"], c["LPS"]) if nt else []
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
    # sign-copy bits yosys drops (_lut_first_stage_regs); the later ones, XNOR and DSP trees: every bit. Constant
    # weights (one word): a first-level node is a fixed function of its inputs, the same in every PE whose
    # weights there are the same, and yosys merges those registers (expected distinct nodes per position of PE
    # random ones: _distinct_columns over the node's weight patterns)
    levels = _tree_levels(c["NL"], c["LWT"], c["SW"], c["LPS"], loff=c["LOFF"])
    wconst = sf * nf == 1
    if not levels:
        r1, first = 0, c["NL"] * min(c["LWT"], c["SW"])  # one leaf: its register
    elif c["LOFF"]:
        r1, first = _lut_first_stage_regs(sh, c)
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
    the output queue's two words, count and ready, hwgen_thresholds' compares and count tree), the threshold ROM's output register (live columns; a block
    RAM has its own; yosys keeps it for deep distributed ROMs, for shallow ones it moves part of it to the address
    side: costed apart)."""
    nf, t, lps = sh["NF"], roms["thresholds"], levels_per_stage()
    # (+ hwgen_thresholds: the registered compares, the count tree's registers, the valid bits alongside)
    thl = 1 + tree_latency(sh["NT"], lps)
    cmp = sh["PE"] * (sh["NT"] + _tree(sh["NT"], 1, sh["OB"], lps)[1]) + thl - 1
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
