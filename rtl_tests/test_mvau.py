"""MVAU RTL vs kernels.mvau, with random valid/ready bubbles on both streams."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from hwgen.dtypes import BIPOLAR, DType
from hwgen.layers import kernels
from hwgen.packing import pack_words, unpack_words

from harness import run_stream


def _d(dt: DType) -> dict:
    return {"bits": dt.bits, "signed": dt.signed, "bipolar": dt.bipolar}


def _rand(rng, dt: DType, shape):
    return dt.random(rng, shape)


def _acc_range(idt, wdt, mw):
    ends = [a * b for a in (idt.min, idt.max) for b in (wdt.min, wdt.max)]
    return mw * min(ends), mw * max(ends)


def _signed_bits(lo, hi):
    b = 1
    while not (-(1 << (b - 1)) <= lo and hi <= (1 << (b - 1)) - 1):
        b += 1
    return b


def make_mvau(name, MW, MH, PE, SIMD, idt, wdt, odt=None, thresholds=True, n_thr=None, nv=1, seed=0):
    """Random MVAU params the way a layer would produce them, plus the input vectors."""
    rng = np.random.default_rng(seed)
    xnor = idt.bipolar and wdt.bipolar
    W = _rand(rng, wdt, (MH, MW))
    lo, hi = _acc_range(idt, wdt, MW)
    acc_bits = _signed_bits(lo, hi)
    X = _rand(rng, idt, (nv, MW))
    acc = kernels.mvau(X, W)
    thr, out_base = None, 0
    if thresholds:
        if odt is None:
            odt = DType(2, False)
        nt = 1 if odt.bipolar else (n_thr or (odt.max - odt.min))
        out_base = 0 if odt.bipolar else odt.min
        # thresholds around the actual accumulator range so outputs vary; some beyond it
        thr = np.sort(rng.integers(lo - 2, hi + 3, size=(MH, nt)), axis=1)
        if acc.size:
            mid = rng.integers(acc.min(), acc.max() + 1, size=(MH, nt))
            thr = np.sort(np.where(rng.random((MH, nt)) < 0.8, mid, thr), axis=1)
        y = kernels.mvau(X, W, thr, out_base, odt.bipolar)
    else:
        odt = odt or DType(acc_bits, True)
        y = acc
    params = dict(name=name, MW=MW, MH=MH, PE=PE, SIMD=SIMD, num_vectors=nv, binary_xnor=bool(xnor),
                  in_dtype=_d(idt), w_dtype=_d(wdt), out_dtype=_d(odt), acc_bits=acc_bits, weights=W,
                  has_thresholds=thresholds, thresholds=thr, out_base=out_base)
    return params, X, y, odt


def check_mvau(tmp_path, params, X, y, odt, p_in=0.7, p_out=0.7, seed=1):
    idt = DType(**params["in_dtype"])
    ins = pack_words(X.ravel(), idt, params["SIMD"])
    n_out = y.size // params["PE"]
    res = run_stream("mvau", params, tmp_path, ins, n_out, p_in=p_in, p_out=p_out, seed=seed)
    got = unpack_words(res["outputs"], odt, params["PE"]).reshape(y.shape)
    np.testing.assert_array_equal(got, y)
    assert res["extra_outputs"] == 0
    return res


U = lambda b: DType(b, False)  # noqa: E731
S = lambda b: DType(b, True)  # noqa: E731

CASES = [
    # id, MW, MH, PE, SIMD, in, w, out, thresholds, nv
    ("xnor_thr", 16, 8, 2, 4, BIPOLAR, BIPOLAR, BIPOLAR, True, 3),
    ("xnor_odd_noact", 7, 5, 1, 1, BIPOLAR, BIPOLAR, None, False, 2),
    ("i4w4_thr_u2", 8, 4, 2, 4, S(4), S(4), U(2), True, 3),
    ("u8s8_noact", 33, 5, 5, 3, U(8), S(8), None, False, 2),
    ("u1s2_full", 7, 5, 5, 7, U(1), S(2), S(4), True, 3),
    ("s2u4_thr_s3", 12, 6, 3, 2, S(2), U(4), S(3), True, 2),
    ("bip_in_int_w", 8, 4, 1, 2, BIPOLAR, S(3), U(1), True, 2),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_mvau(tmp_path, case):
    cid, MW, MH, PE, SIMD, idt, wdt, odt, thr, nv = case
    params, X, y, odt = make_mvau(f"mvau_{cid}", MW, MH, PE, SIMD, idt, wdt, odt, thr, nv=nv,
                                  seed=zlib.crc32(cid.encode()) % 1000)
    check_mvau(tmp_path, params, X, y, odt)


@pytest.mark.parametrize("PE,SIMD", [(1, 1), (2, 4)])
def test_mvau_cycles(tmp_path, PE, SIMD):
    """No bubbles: steady state (MW/SIMD)*(MH/PE) cycles per vector."""
    MW, MH, nv = 8, 4, 6
    params, X, y, odt = make_mvau(f"mvau_cyc_{PE}_{SIMD}", MW, MH, PE, SIMD, S(4), S(4), U(2), True, nv=nv)
    res = check_mvau(tmp_path, params, X, y, odt, p_in=1.0, p_out=1.0)
    per_vec = (MW // SIMD) * (MH // PE)
    oc = res["out_cycles"]
    nf = MH // PE
    # first output word of vector v vs of vector v+1
    starts = oc[::nf]
    deltas = np.diff(starts)
    assert all(abs(d - per_vec) <= 1 for d in deltas), (deltas, per_vec)
    total = oc[-1] - res["in_cycles"][0]
    assert abs(total - per_vec * nv) <= per_vec + 8, (total, per_vec * nv)


_SWEEP_DT = [BIPOLAR, U(1), U(2), S(2), U(4), S(4), U(8), S(8)]
SWEEP = []
for _i, _idt in enumerate(_SWEEP_DT):
    for _j, _wdt in enumerate([BIPOLAR, U(1), S(2), S(4), U(4), S(8)]):
        if (_i + _j) % 2 and not (_idt.bipolar and _wdt.bipolar):
            continue  # half of the grid, always including XNOR
        SWEEP.append((_idt, _wdt))


@pytest.mark.slow
@pytest.mark.parametrize("idt,wdt", SWEEP, ids=[f"{a.name}_{b.name}" for a, b in SWEEP])
@pytest.mark.parametrize("shape", [(33, 6, 3, 3, True, 2), (7, 5, 5, 7, False, 3), (24, 8, 4, 8, True, 2)],
                         ids=["33x6_thr", "7x5_noact", "24x8_thr"])
def test_mvau_sweep(tmp_path, idt, wdt, shape):
    MW, MH, PE, SIMD, thr, nv = shape
    odt = (BIPOLAR if (idt.bipolar and thr) else U(2)) if thr else None
    name = f"mvsw_{idt.name}_{wdt.name}_{MW}_{MH}_{PE}_{SIMD}_{int(thr)}".lower()
    params, X, y, odt = make_mvau(name, MW, MH, PE, SIMD, idt, wdt, odt, thr, nv=nv,
                                  seed=zlib.crc32(name.encode()) % 1000)
    check_mvau(tmp_path, params, X, y, odt, p_in=0.8, p_out=0.6)
