"""Resource models of the fork / join / repeat blocks (templates/rtl/duplicate, add_streams, concat, upsample .v.j2)
as yosys `synth_xilinx -family xc7` maps them; same keys as hwgen.layers.cost. Structural terms (what the template
instantiates) with LUT constants fitted on tests/test_branching_cost.py's points (see the constants' comments).
"""

from __future__ import annotations

import math

from hwgen.bits import clog2
from hwgen.layers import cost


def _res(luts, ffs, lutram=0, bram18=0, dsps=0) -> dict:
    return {"luts": int(round(luts)), "ffs": int(round(ffs)), "bram18": int(bram18), "uram": 0, "dsps": int(dsps),
            "lutram": int(lutram)}


def duplicate_resources(word_bits: int, n_outputs: int) -> dict:
    """Combinational: the TREADY / TVALID gating only."""
    return _res(n_outputs + 1, 0)


def _mul_bits(mul: int, in_bits: int, w: int) -> int:
    """Adder bits of a constant multiplication (shift-add: one W-bit adder per extra set bit of |mul|)."""
    m = abs(int(mul))
    if m <= 1:
        return 0
    return (bin(m).count("1") - 1 + (m & (m - 1) == 0)) * min(w, in_bits + m.bit_length())


ADD_LUT = {"base": 6.0, "add": 1.0, "mul": 1.0, "cmp": 0.8, "cmp_const": 0.65, "cmp_rom": 0.9, "outq": 0.16}


def add_streams_resources(sh: dict, mems: dict) -> dict:
    pe, w, nf = sh["PE"], sh["W"], sh["NF"]
    f = {k: 0.0 for k in ADD_LUT}
    f["base"] = 1.0
    f["add"] = pe * w
    f["mul"] = pe * (_mul_bits(sh["a_mul"], sh["A_IB"], w) + _mul_bits(sh["b_mul"], sh["B_IB"], w))
    f["outq"] = pe * sh["OB"]
    roms = {k: cost.map_rom(r["depth"], r["width"], r["mem_style"], r.get("live_width")) for k, r in mems.items()}
    if sh["NT"]:
        cost._thr_features(f, sh, roms["thresholds"])
    luts = sum(ADD_LUT[k] * v for k, v in f.items())
    ffs = 2 + 1 + pe * (sh["A_IB"] + sh["B_IB"]) + 2 * pe * sh["OB"]
    if sh["NT"]:
        ffs += clog2(nf) * (nf > 1) + cost.FF_ROMREG["thresholds"] * sh["TW"] * (
            roms["thresholds"]["style"] != "block" and nf > 1)
    return _res(luts, ffs, bram18=sum(r["bram18"] for r in roms.values()))


CONCAT_LUT = {"base": 4.0, "mux": 1.0}


def concat_resources(pe: int, out_bits: int, in_bits: list[int], nfs: list[int]) -> dict:
    """An n-way word mux into one output register, counters of the input and its word."""
    n = len(in_bits)
    mux = pe * out_bits * max(0, n - 1)
    luts = CONCAT_LUT["base"] + CONCAT_LUT["mux"] * mux + 2 * clog2(max(nfs))
    ffs = 1 + pe * out_bits + clog2(n) + clog2(max(nfs))
    return _res(luts, ffs)


UPS_LUT = {"base": 12.0, "mux": 1.0}


def upsample_resources(sp: dict) -> dict:
    """Line buffer (LUT RAM, asynchronous read), input / line mux, five counters and the address adder."""
    counters = sp["FBW"] + sp["RXW"] + sp["IXW"] + sp["RYW"] + sp["AW"]
    lutram = cost._lutram_buffer(sp["DEPTH"], sp["WORD"]) if sp["DEPTH"] > 1 else 0
    luts = UPS_LUT["base"] + UPS_LUT["mux"] * sp["WORD"] + 2 * counters
    ffs = 1 + sp["WORD"] * (1 + (sp["DEPTH"] <= 1)) + counters
    return _res(luts, ffs, lutram=lutram)
