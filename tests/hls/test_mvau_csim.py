"""MVAU HLS template: bit-exact with hwgen.layers.kernels.mvau in C simulation (g++ and clang++).

All cases of a sweep are compiled into one shared library per compiler (hls_testlib.Sweep).
"""

from __future__ import annotations

import numpy as np
import pytest

from hls_testlib import compiler_params, dd, rand_values
from hwgen.dtypes import BIPOLAR, DType, smallest_for_range
from hwgen.layers import kernels

I, U = (lambda b: DType(b, True)), (lambda b: DType(b, False))


def dot_range(w: np.ndarray, ind: DType) -> tuple[np.ndarray, np.ndarray]:
    """Per-row min and max of x . w[r] over all inputs of type ind."""
    a, b = w * ind.min, w * ind.max
    return np.minimum(a, b).sum(axis=1), np.maximum(a, b).sum(axis=1)


def acc_bits_for(w: np.ndarray, ind: DType) -> int:
    lo, hi = dot_range(w, ind)
    return smallest_for_range(min(int(lo.min()), -1), int(hi.max())).bits


def make_case(rng, name, MW, MH, PE, SIMD, nv, ind, wd, T=0, outd=None, out_base=0, xnor=False, mem="block",
              huge_thr=False, extra_out_bits=0):
    w = rand_values(rng, wd, (MH, MW))
    acc_bits = acc_bits_for(w, ind)
    thr = None
    if T:
        lo, hi = dot_range(w, ind)
        thr = np.stack([np.sort(rng.integers(lo[r] - 2, hi[r] + 3, size=T)) for r in range(MH)])
        if T > 2:  # duplicated thresholds are legal
            thr[0, 1] = thr[0, 0]
        if huge_thr:  # thresholds no accumulator value reaches (wider than acc_bits)
            thr[-1, :] = 10**6
            thr[0, :] = -(10**6)
    if outd is None:
        outd = I(acc_bits + extra_out_bits)
    p = dict(name=name, MW=MW, MH=MH, PE=PE, SIMD=SIMD, num_vectors=nv, binary_xnor=xnor, in_dtype=dd(ind),
             w_dtype=dd(wd), out_dtype=dd(outd), acc_bits=acc_bits, weights=w, has_thresholds=bool(T),
             thresholds=thr, out_base=out_base, mem_style=mem)
    return p


def cases():
    rng = np.random.default_rng(1234)
    B = BIPOLAR
    c = [
        make_case(rng, "xnor_thr", 33, 5, 5, 11, 1, B, B, T=1, outd=B, xnor=True),
        make_case(rng, "xnor_acc", 7, 5, 1, 1, 2, B, B, xnor=True),
        make_case(rng, "xnor_multi", 32, 8, 2, 8, 1, B, B, T=3, outd=I(2), out_base=-2, xnor=True),
        make_case(rng, "bin_x_bip", 7, 5, 5, 7, 1, U(1), B, T=1, outd=B),
        make_case(rng, "int2", 7, 5, 1, 7, 3, I(2), I(2), T=3, outd=I(2), out_base=-2),
        make_case(rng, "uint2_bipw", 33, 5, 5, 3, 1, U(2), B, T=3, outd=U(2)),
        make_case(rng, "int4_acc", 33, 5, 1, 11, 1, I(4), I(4)),
        make_case(rng, "uint4", 12, 6, 3, 4, 2, U(4), U(4), T=15, outd=U(4)),
        make_case(rng, "int8_wide", 16, 8, 4, 16, 3, I(8), I(8), extra_out_bits=6),
        make_case(rng, "uint8_t255", 20, 6, 2, 5, 1, U(8), I(8), T=255, outd=U(8), mem="distributed"),
        make_case(rng, "int8_bipout", 9, 4, 4, 1, 4, I(8), I(3), T=1, outd=B, mem="auto", huge_thr=True),
        make_case(rng, "int1_bin", 5, 3, 1, 1, 2, I(1), U(1), mem="ultra"),
        make_case(rng, "bip_x_int4", 8, 4, 2, 4, 2, B, I(4), T=7, outd=I(3), out_base=-4, huge_thr=True),
        make_case(rng, "int3_x_int5", 21, 10, 5, 7, 2, I(3), I(5), T=4, outd=U(3), out_base=2),
    ]
    return c


CASES = cases()
CASE_IDS = [p["name"] for p in CASES]


def designs():
    return {f"t_{p['name']}": [("mvau", p)] for p in CASES}


def reference(p, x):
    outd = p["out_dtype"]
    return kernels.mvau(x, p["weights"], p["thresholds"], p["out_base"], out_bipolar=outd["bipolar"])


@pytest.mark.parametrize("compiler", compiler_params())
@pytest.mark.parametrize("idx", range(len(CASES)), ids=CASE_IDS)
def test_mvau_bit_exact(sweep_cache, compiler, idx):
    p = CASES[idx]
    sw = sweep_cache("mvau", designs, compiler)
    rng = np.random.default_rng(idx)
    n = 16
    ind = DType(**p["in_dtype"])
    x = rand_values(rng, ind, (n, p["num_vectors"], p["MW"]))
    y = sw.acc[f"t_{p['name']}"].run(x.reshape(n, -1))
    ref = reference(p, x).reshape(n, -1)
    np.testing.assert_array_equal(y, ref)


def random_cases(seed: int, count: int):
    rng = np.random.default_rng(seed)
    out = []
    types = [BIPOLAR, U(1), I(2), U(2), I(3), I(4), U(4), I(6), I(8), U(8)]
    for i in range(count):
        MW, MH = int(rng.integers(1, 40)), int(rng.integers(1, 17))
        SIMD = int(rng.choice([d for d in range(1, MW + 1) if MW % d == 0]))
        PE = int(rng.choice([d for d in range(1, MH + 1) if MH % d == 0]))
        xnor = bool(rng.random() < 0.25)
        ind, wd = (BIPOLAR, BIPOLAR) if xnor else (types[rng.integers(len(types))], types[rng.integers(len(types))])
        mode = int(rng.integers(3))  # 0: acc out, 1: multi-threshold, 2: bipolar out
        kw = {}
        if mode == 1:
            ob = int(rng.integers(1, 5))
            signed = bool(rng.random() < 0.5)
            od = DType(ob, signed)
            kw = dict(T=od.max - od.min, outd=od, out_base=od.min)
        elif mode == 2:
            kw = dict(T=1, outd=BIPOLAR)
        out.append(make_case(rng, f"r{i}", MW, MH, PE, SIMD, int(rng.integers(1, 4)), ind, wd, xnor=xnor,
                             mem=str(rng.choice(["auto", "block", "distributed", "ultra"])), **kw))
    return out


RANDOM = random_cases(99, 40)


@pytest.mark.slow
@pytest.mark.parametrize("compiler", compiler_params())
def test_mvau_random_sweep(sweep_cache, compiler):
    sw = sweep_cache("mvau_random", lambda: {f"t_{p['name']}": [("mvau", p)] for p in RANDOM}, compiler)
    rng = np.random.default_rng(7)
    for p in RANDOM:
        n = 8
        x = rand_values(rng, DType(**p["in_dtype"]), (n, p["num_vectors"], p["MW"]))
        y = sw.acc[f"t_{p['name']}"].run(x.reshape(n, -1))
        np.testing.assert_array_equal(y, reference(p, x).reshape(n, -1), err_msg=p["name"])
