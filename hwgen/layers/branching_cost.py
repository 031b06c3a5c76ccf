"""Resource models of the fork / join / repeat blocks (templates/rtl/duplicate, add_streams, concat, upsample .v.j2)
as yosys `synth_xilinx -family xc7` maps them; same keys as hwgen.layers.cost. Structural terms (what the template
instantiates) with LUT constants fitted on the points of benchmarks/calibrate_branching.py (its table gives the
error of every point: LUTs within ~15 % on most, FFs within ~10 %).
"""

from __future__ import annotations

import math

from hwgen.bits import clog2
from hwgen.layers import cost
from hwgen.layers.matrix_tree import tree_bits
from hwgen.layers.roms import bram18_for


def _res(luts, ffs, lutram=0, bram18=0, dsps=0) -> dict:
    return {"luts": int(round(luts)), "ffs": int(round(ffs)), "bram18": int(bram18), "uram": 0, "dsps": int(dsps),
            "lutram": int(lutram)}


def duplicate_resources(word_bits: int, n_outputs: int) -> dict:
    """Combinational: the TREADY / TVALID gating only (exact on the calibration points)."""
    return _res(n_outputs + 1, 0)


def _operand_bits(ib: int, signed: bool, neg: bool) -> int:
    """Live bits of an element in add_streams.v.j2's stage-1 register: IB + 1 (signed, negated), an unsigned
    element's constant 0 extension bit dropped unless it is negated."""
    return ib + 1 if (signed or neg) else ib


def mul_shifts(mul: int, w: int) -> list[int]:
    """The bits set in |mul| below 2^w: add_streams.v.j2's shift-and-add terms of a constant product."""
    return [k for k in range(w) if (abs(int(mul)) >> k) & 1]


def add_streams_shape(sh: dict) -> dict:
    """Derived quantities of templates/rtl/add_streams.v.j2: the shift-and-add terms NL, the tree latency TL and
    the threshold latency THL at the design's LPS (hwgen.layers.pipeline)."""
    from hwgen.layers.pipeline import levels_per_stage, threshold_latency, tree_latency

    w, lps = sh["W"], int(sh.get("LPS") or levels_per_stage())
    nl = max(1, len(mul_shifts(sh["a_mul"], w)) + len(mul_shifts(sh["b_mul"], w)))
    tl = tree_latency(nl, lps)
    thl = threshold_latency(sh["NT"], lps) if sh["NT"] else 0
    return {"LPS": lps, "NL": nl, "TL": tl, "THL": thl, "LATENCY": 1 + tl + thl}


# LUTs per bit: the terms' adder tree, a negated operand, the output queue, the comparators (constant thresholds,
# a distributed ROM's of NF words: LUTs grow with log2 NF as the ROM and comparator share LUTs, a block RAM's),
# the count trees' adder bits. Fitted (non-negative least squares on the relative error) on the 11 fit points of
# benchmarks/calibrate_branching.py, 2026-12-07, after the pipelined template: yosys folds most of the narrow
# adders into the queue's and comparators' LUTs ("add" near 0), so these are weights, not per-bit counts.
ADD_LUT = {"base": 10.22, "add": 0.049, "neg": 2.54, "outq": 1.74, "cmp_const": 0.0, "cmp_block": 0.0, "cnt": 0.878}
ADD_CMP_ROM = (-1.03, 0.715, 0.45)  # per comparator bit: max(floor, a + b * log2(NF)), times ADD_LUT_CMP_ROM
ADD_LUT_CMP_ROM = 0.646
# FFs: the register groups counted bit for bit (fixed), the tree's registers (its shifted terms' constant low
# bits and sign copies are not all kept), the threshold ROM's registers (REG_OUT 2: address and word)
ADD_FF = {"fixed": 1.0, "tree": 0.78, "trom": 0.989, "trom_small": 0.153}


def add_streams_features(sh: dict, roms: dict) -> tuple[dict, dict]:
    """(LUT features, FF features) of add_streams.v.j2 (see ADD_LUT, ADD_FF)."""
    pe, w, nf, nt = sh["PE"], sh["W"], sh["NF"], sh["NT"]
    d = add_streams_shape(sh)
    adders, tree_regs = tree_bits(d["NL"], w, w, d["LPS"])
    f = {k: 0.0 for k in ADD_LUT}
    f["cmp_rom"] = 0.0
    f["base"] = 1.0
    f["add"] = pe * adders
    f["neg"] = pe * ((sh["A_IB"] + 1) * (sh["a_mul"] < 0) + (sh["B_IB"] + 1) * (sh["b_mul"] < 0))
    f["outq"] = pe * sh["OB"]
    a_bits = _operand_bits(sh["A_IB"], sh.get("a_signed", True), sh["a_mul"] < 0)
    b_bits = _operand_bits(sh["B_IB"], sh.get("b_signed", True), sh["b_mul"] < 0)
    fixed = d["LATENCY"] + 3 + 2 * pe * sh["OB"] + pe * (a_bits + b_bits)
    g = {"fixed": 0.0, "tree": pe * tree_regs, "trom": 0.0, "trom_small": 0.0}
    if nt:
        bits = pe * nt * sh["TB"]
        if nf == 1:
            f["cmp_const"] = bits
        elif roms["thresholds"]["style"] == "block":
            f["cmp_block"] = bits
        else:
            a, b, floor = ADD_CMP_ROM
            f["cmp_rom"] = bits * max(floor, a + b * math.log2(nf))
        cnt_adders, cnt_regs = tree_bits(nt, 1, sh["OB"], d["LPS"])
        f["cnt"] = pe * cnt_adders
        fixed += pe * (nt + cnt_regs)
        if nf > 1:
            nfw = clog2(nf)
            fixed += nfw * d["TL"]  # the word counter and its delay line
            if roms["thresholds"]["style"] != "block":
                # yosys keeps a deep ROM's registers, moves a shallow one's partly to the address side
                g["trom" if nf > 8 else "trom_small"] = nfw + roms["thresholds"]["live_width"]
    g["fixed"] = fixed
    return f, g


def add_streams_resources(sh: dict, mems: dict) -> dict:
    roms = {k: cost.map_rom(r["depth"], r["width"], r["mem_style"], r.get("live_width")) for k, r in mems.items()}
    f, g = add_streams_features(sh, roms)
    luts = sum(ADD_LUT.get(k, ADD_LUT_CMP_ROM) * v for k, v in f.items())
    ffs = sum(ADD_FF[k] * v for k, v in g.items())
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
