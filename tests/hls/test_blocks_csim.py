"""Thresholding, label-select and width-converter HLS templates: bit-exact with hwgen.layers.kernels in C
simulation (g++ and clang++), one shared library per sweep and compiler."""

from __future__ import annotations

import numpy as np
import pytest

from hls_testlib import compiler_params, dd, rand_values
from hwgen.dtypes import BIPOLAR, DType
from hwgen.layers import kernels

I, U = (lambda b: DType(b, True)), (lambda b: DType(b, False))


# ------------------------------------------------------------------------------------------ thresholding

def thr_case(rng, name, C, PE, nv, ind, T, outd, out_base=0, mem="block", beyond=False):
    lo, hi = (ind.min, ind.max)
    thr = np.sort(rng.integers(lo - 1, hi + 2, size=(C, T)), axis=1)
    if beyond:
        thr[0, :] = hi + 1000
        thr[-1, :] = lo - 1000
    return dict(name=name, C=C, PE=PE, num_vectors=nv, in_dtype=dd(ind), out_dtype=dd(outd), thresholds=thr,
                out_base=out_base, mem_style=mem)


def thr_cases():
    rng = np.random.default_rng(5)
    return [
        thr_case(rng, "th_u8", 6, 2, 3, U(8), 15, U(4)),
        thr_case(rng, "th_i4_pe1", 5, 1, 2, I(4), 3, I(2), out_base=-2, beyond=True),
        thr_case(rng, "th_bipout", 8, 8, 4, I(16), 1, BIPOLAR, mem="distributed"),
        thr_case(rng, "th_u2", 7, 7, 1, U(2), 2, U(2), out_base=1, mem="auto"),
        thr_case(rng, "th_i24", 4, 2, 2, I(24), 7, I(4), out_base=-3, mem="ultra"),
        thr_case(rng, "th_bipin", 3, 3, 5, BIPOLAR, 1, U(1)),
    ]


THR = thr_cases()


@pytest.mark.parametrize("compiler", compiler_params())
@pytest.mark.parametrize("idx", range(len(THR)), ids=[p["name"] for p in THR])
def test_thresholding_bit_exact(sweep_cache, compiler, idx):
    p = THR[idx]
    sw = sweep_cache("thr", lambda: {f"t_{q['name']}": [("thresholding", q)] for q in THR}, compiler)
    rng = np.random.default_rng(idx)
    n = 12
    x = rand_values(rng, DType(**p["in_dtype"]), (n, p["num_vectors"], p["C"]))
    y = sw.acc[f"t_{p['name']}"].run(x.reshape(n, -1))
    ref = kernels.apply_thresholds(x, p["thresholds"], p["out_base"], p["out_dtype"]["bipolar"])
    np.testing.assert_array_equal(y, ref.reshape(n, -1))


# ------------------------------------------------------------------------------------------ label select

def ls_case(name, C, PE, k, ind, nv=1, idx_bits=None):
    idx_bits = idx_bits or max(1, (C - 1).bit_length())
    return dict(name=name, C=C, PE=PE, k=k, in_dtype=dd(ind), out_dtype=dd(U(idx_bits)), num_vectors=nv)


LS = [
    ls_case("ls_top1", 10, 1, 1, I(8)),
    ls_case("ls_top3_ties", 10, 2, 3, U(2)),  # few values: many ties
    ls_case("ls_all", 10, 5, 10, I(3), idx_bits=8),
    ls_case("ls_pe_all", 12, 12, 4, I(16)),
    ls_case("ls_bip", 7, 7, 5, BIPOLAR, nv=2),
    ls_case("ls_one", 1, 1, 1, U(4)),
    ls_case("ls_u8", 33, 3, 2, U(8), nv=3),
]


@pytest.mark.parametrize("compiler", compiler_params())
@pytest.mark.parametrize("idx", range(len(LS)), ids=[p["name"] for p in LS])
def test_label_select_bit_exact(sweep_cache, compiler, idx):
    p = LS[idx]
    sw = sweep_cache("ls", lambda: {f"t_{q['name']}": [("label_select", q)] for q in LS}, compiler)
    rng = np.random.default_rng(idx)
    n = 30
    x = rand_values(rng, DType(**p["in_dtype"]), (n, p["num_vectors"], p["C"]))
    x[0] = x[0, :, :1]  # a frame of all-equal values
    y = sw.acc[f"t_{p['name']}"].run(x.reshape(n, -1))
    ref = kernels.label_select(x, p["k"])
    np.testing.assert_array_equal(y, ref.reshape(n, -1))


# ------------------------------------------------------------------------------------------ width converter

WC = [
    dict(name="wc_2_3", in_elems=2, out_elems=3, dtype=dd(I(4)), elems=12, num_vectors=2),
    dict(name="wc_3_2", in_elems=3, out_elems=2, dtype=dd(U(5)), elems=6, num_vectors=3),
    dict(name="wc_4_1", in_elems=4, out_elems=1, dtype=dd(I(8)), elems=8, num_vectors=1),
    dict(name="wc_1_4", in_elems=1, out_elems=4, dtype=dd(BIPOLAR), elems=4, num_vectors=5),
    dict(name="wc_16_24", in_elems=16, out_elems=24, dtype=dd(I(8)), elems=48, num_vectors=2),  # 384-bit words
    dict(name="wc_same", in_elems=3, out_elems=3, dtype=dd(U(3)), elems=9, num_vectors=1),
]


@pytest.mark.parametrize("compiler", compiler_params())
@pytest.mark.parametrize("idx", range(len(WC)), ids=[p["name"] for p in WC])
def test_width_converter_bit_exact(sweep_cache, compiler, idx):
    p = WC[idx]
    sw = sweep_cache("wc", lambda: {f"t_{q['name']}": [("width_converter", q)] for q in WC}, compiler)
    rng = np.random.default_rng(idx)
    n = 4
    x = rand_values(rng, DType(**p["dtype"]), (n, p["num_vectors"] * p["elems"]))
    y = sw.acc[f"t_{p['name']}"].run(x)
    np.testing.assert_array_equal(y, x)  # re-packing keeps the element sequence


# ------------------------------------------------------------------------------------------ random sweeps (slow)

def random_block_designs(seed=11, count=20):
    rng = np.random.default_rng(seed)
    types = [BIPOLAR, U(1), I(2), U(3), I(4), U(8), I(8), I(12)]
    out = {}
    for i in range(count):
        C = int(rng.integers(1, 25))
        PE = int(rng.choice([d for d in range(1, C + 1) if C % d == 0]))
        ind = types[rng.integers(len(types))]
        nv = int(rng.integers(1, 4))
        if rng.random() < 0.5:
            ob = int(rng.integers(1, 5))
            od = DType(ob, bool(rng.random() < 0.5))
            T = int(rng.integers(1, od.max - od.min + 1))
            p = thr_case(rng, f"rt{i}", C, PE, nv, ind, T, od, out_base=od.min, beyond=bool(rng.random() < 0.3))
            out[f"t_rt{i}"] = ("thresholding", p)
        else:
            k = int(rng.integers(1, C + 1))
            out[f"t_rl{i}"] = ("label_select", ls_case(f"rl{i}", C, PE, k, ind, nv=nv))
    return out


RANDOM_BLOCKS = random_block_designs()


@pytest.mark.slow
@pytest.mark.parametrize("compiler", compiler_params())
def test_blocks_random_sweep(sweep_cache, compiler):
    sw = sweep_cache("blocks_random", lambda: {t: [kp] for t, kp in RANDOM_BLOCKS.items()}, compiler)
    rng = np.random.default_rng(3)
    for top, (kind, p) in RANDOM_BLOCKS.items():
        n = 10
        x = rand_values(rng, DType(**p["in_dtype"]), (n, p["num_vectors"], p["C"]))
        y = sw.acc[top].run(x.reshape(n, -1))
        if kind == "thresholding":
            ref = kernels.apply_thresholds(x, p["thresholds"], p["out_base"], p["out_dtype"]["bipolar"])
        else:
            ref = kernels.label_select(x, p["k"])
        np.testing.assert_array_equal(y, ref.reshape(n, -1), err_msg=top)
