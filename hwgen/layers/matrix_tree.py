"""The structure of hwgen_mvu's matrix core (templates/rtl/hwgen_mvu.v) and its SIMD adder trees
(templates/rtl/hwgen_add_tree.v) as the resource model counts it: which products go to DSPs, the derived
parameters of a spec (`core`), the tree's levels, the value range of each leaf and node (the bits yosys keeps live),
and the adder and register bits by level. hwgen.layers.cost turns these counts into LUT and FF estimates."""

from __future__ import annotations

import functools
import math

from hwgen.bits import clog2 as _clog2
from hwgen.layers.pipeline import levels_per_stage, tree_latency

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


def is_dsp(sh: dict, binary: bool = False) -> bool:
    return products_in_dsp(sh["IB"], sh["WB"], binary)


def tree_levels(n: int, lw: int, ow: int, lps: int, root: bool = True, loff: int = 0) -> list[tuple]:
    """(level, nodes, bits, registered) of levels 1 .. clog2(n) of templates/rtl/hwgen_add_tree.v over n leaves of
    lw bits: level l has ceil(n / 2^l) nodes of min(ow, lw + l) bits, floor(nodes(l - 1) / 2) of them adders,
    the rest passed through; it is registered when l + loff is a multiple of lps, and at the root."""
    h = _clog2(n) if n > 1 else 0
    return [(lv, -(-n // (1 << lv)), min(lw + lv, ow), (lv + loff) % lps == 0 or (lv == h and root))
            for lv in range(1, h + 1)]


def tree_bits(n: int, lw: int, ow: int, lps: int, root: bool = True, loff: int = 0) -> tuple[int, int]:
    """(adder bits, register bits) of hwgen_add_tree (see _tree_levels; one leaf: its register only)."""
    lv = tree_levels(n, lw, ow, lps, root, loff)
    if not lv:
        return 0, (n * min(lw, ow) if root else 0)
    nodes = [n] + [x[1] for x in lv]
    adders = sum((nodes[i] // 2) * x[2] for i, x in enumerate(lv))
    return adders, sum(x[1] * x[2] for x in lv if x[3])


def core(sh: dict, binary: bool) -> dict:
    """Derived quantities of hwgen_mvu (templates/rtl/hwgen_mvu.v) for a spec: DSP, leaves NL per PE (sh["NL"] from
    hwgen.layers.pipeline.tree_leaves, else SIMD), leaf bits LWT, SIMD sum bits SW, pipeline stages SP, LPS."""
    dsp = is_dsp(sh, binary)
    lps = int(sh.get("LPS") or levels_per_stage())
    acc = sh["ACC"]
    nl = int(sh.get("NL") or sh["SIMD"])
    lwt = 1 if binary else min(sh["PW"], acc)
    sw = acc - 1 if binary else acc
    loff = 0 if binary or dsp else 1  # the LUT products' AND: a level before the tree (hwgen_mvu LOFF)
    return {"DSP": dsp, "LPS": lps, "NL": nl, "LWT": lwt, "SW": sw, "LOFF": loff,
            "SP": 2 + (2 if dsp else 0) + tree_latency(nl, lps, loff)}


def operand_range(bits: int, sbits: int) -> tuple[int, int]:
    """Value range of an operand of `bits` stored bits and `sbits` signed bits (sbits == bits + 1: unsigned;
    a BIPOLAR one, 1 stored bit, is taken as 0 / 1: one live bit either way)."""
    if sbits > bits or bits == 1:
        return 0, (1 << bits) - 1
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def live_bits(lo: int, hi: int, tz: int) -> int:
    """Non-constant bits of a register holding values in [lo, hi] whose low tz bits are constant (yosys drops the
    constant ones and merges the copies of a sign)."""
    if lo >= 0:
        return max(0, hi.bit_length() - tz)
    return max(0, max(hi.bit_length(), (-lo - 1).bit_length()) + 1 - tz)


def leaf_ranges(sh: dict, c: dict, binary: bool) -> list[tuple[int, int, int]]:
    """(low, high, constant low bits) of the tree leaves of one product: XNOR 0 / 1; a DSP product its range;
    LUT products NPP partial products (selector bit gb: 0 or the wider operand << gb; a signed selector's top one
    complemented, its +1 in the accumulator's start value)."""
    if binary:
        return [(0, 1, 0)]
    xlo, xhi = operand_range(sh["IB"], sh["XS"])
    wlo, whi = operand_range(sh["WB"], sh["WS"])
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


def level_live_bits(leaves: list, n: int, level: int, width: int) -> tuple[int, int, int]:
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
        return min(width, live_bits(lo, hi, tz))

    nfull, rest = divmod(n, span)
    period = p // math.gcd(span, p)
    total = 0
    for k in range(min(nfull, period)):
        total += node(k * span % p, span) * (nfull // period + (k < nfull % period))
    last = node(nfull * span % p, rest) if rest else (node((nfull - 1) * span % p, span) if nfull else 0)
    if rest:
        total += last
    return nfull + (rest > 0), total, last


def and_bits(sh: dict, c: dict) -> int:
    """AND gates of one LUT product: (selector bits that are not constant: a BIPOLAR selector's low bit is
    always 1) x (the live bits of the shifted operand)."""
    xbits, wbits = sh.get("XBITS", sh["IB"]), sh.get("WBITS", sh["WB"])
    npp = max(1, c["NL"] // max(1, sh["SIMD"]))
    if xbits < wbits:
        sel_bipolar, abits = sh["IB"] == 1 and xbits == 2, sh["WB"]
    else:
        sel_bipolar, abits = sh["WB"] == 1 and wbits == 2, sh["IB"]
    return (npp - sel_bipolar) * abits


def lut_first_stage_regs(sh: dict, c: dict) -> tuple[int, int]:
    """(level, live register bits per PE) of the first registered level of a LUT-product tree: its nodes sum
    partial products, so their low bits are constant and their value range is narrower than the node's width
    (yosys keeps the live bits only; at later levels it keeps every bit)."""
    h = _clog2(c["NL"]) if c["NL"] > 1 else 0
    r1 = next((lv for lv in range(1, h + 1) if (lv + c["LOFF"]) % c["LPS"] == 0), h)
    return r1, level_live_bits(leaf_ranges(sh, c, False), c["NL"], r1, min(c["LWT"] + r1, c["SW"]))[1]


def live_adder_bits(sh: dict, c: dict, binary: bool) -> int:
    """Adder bits per PE of the SIMD tree counted at the live width of each sum (its value range), not the
    node's declared width (XNOR, DSP and constant-weight trees: yosys folds the constant and sign-copy bits)."""
    leaves, n = leaf_ranges(sh, c, binary), c["NL"]
    h = _clog2(n) if n > 1 else 0
    total, nodes = 0, n
    for lv in range(1, h + 1):
        count, bits, last = level_live_bits(leaves, n, lv, min(c["LWT"] + lv, c["SW"]))
        total += bits - (last if nodes % 2 else 0)  # adders: the nodes with a partner (not an odd last one)
        nodes = count
    return total


def _leaf_positions(lo: int, hi: int, tz: int, lw: int, wo: int) -> range:
    """Bit positions (below wo) where a leaf of value range [lo, hi] with tz constant low bits is not constant, as
    the RTL wires it: a one-signed value's bits above its magnitude are constant (0, or 1 when it is always
    negative); a mixed-sign one's sign copies are live up to the node's width (the tree sign-extends its leaves)."""
    if lo >= 0:
        end = max(tz, hi.bit_length())
    elif hi < 0:
        end = max(tz, (-lo - 1).bit_length())
    else:
        end = wo
    return range(tz, wo if end >= lw else min(end, wo))


@functools.lru_cache(maxsize=4096)
def _first_level_bits(leaves: tuple, nl: int, lw: int, wo: int, plain0: bool) -> int:
    npp, npairs = len(leaves), nl // 2
    period = npp // math.gcd(2, npp)
    total = 0
    for j in range(min(npairs, period)):
        ga, gb = (2 * j) % npp, (2 * j + 1) % npp
        a, b = set(_leaf_positions(*leaves[ga], lw, wo)), set(_leaf_positions(*leaves[gb], lw, wo))
        pa, pb = plain0 and ga == 0, plain0 and gb == 0
        # a position where one operand is a plain net and the other a constant: a wire or an inverter, no LUT
        bits = sum(1 for q in a | b if not ((q in a) != (q in b) and ((q in a and pa) or (q in b and pb))))
        total += bits * (npairs // period + (j < npairs % period))
    return total


def first_level_operand_bits(sh: dict, c: dict) -> int:
    """Bit positions per PE of the first adder level of a LUT-product tree where an operand (a partial product)
    is not constant: each is a LUT (the carry chain's propagate input, the partial products' ANDs merged into it;
    yosys reduces the sum to them, the bits above come out of the carry). Counted on the operands, not the sum's
    value range: a BIPOLAR selector's partial products (plain operand bits against a complemented one) need far
    fewer LUTs than their sum's range suggests (the plain operand's bit against a constant is a wire)."""
    if c["NL"] < 2:
        return 0
    xbits, wbits = sh.get("XBITS", sh["IB"]), sh.get("WBITS", sh["WB"])
    sel_bipolar = (sh["IB"] == 1 and xbits == 2) if xbits < wbits else (sh["WB"] == 1 and wbits == 2)
    leaves = tuple(leaf_ranges(sh, c, False))
    return _first_level_bits(leaves, c["NL"], c["LWT"], min(c["LWT"] + 1, c["SW"]), sel_bipolar)


def upper_declared_bits(c: dict) -> int:
    """Adder bits per PE of the SIMD tree's levels above the first at the RTL's declared width (min(LW + l, SW)):
    a combinational pair of levels becomes one multi-operand sum (yosys alumacc / maccmap) whose compressor is
    as wide as the declared nodes, so the live range does not bound it."""
    lv = tree_levels(c["NL"], c["LWT"], c["SW"], c["LPS"], loff=c["LOFF"])
    nodes = [c["NL"]] + [x[1] for x in lv]
    return sum((nodes[i] // 2) * x[2] for i, x in enumerate(lv) if x[0] > 1)
