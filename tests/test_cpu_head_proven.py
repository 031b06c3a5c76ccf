"""The interpolated head's proven fast pass (sw_fallback.head_kernels: estimate_margin, head_levels_proven) gives
exactly an input quantizer's levels (float32 x / scale, round half to even, clamp) for every float: random values, every
threshold and the keys around it, the exact ties (k + 1/2) * scale and their neighbours, +-0, values far out of
range and the largest floats; NaN / inf counted as non-finite. Per-tensor and per-channel rows, with and without
the head's layout moves."""

import numpy as np

from sw_fallback import head_kernels as HK


def _keys(x):
    b = np.ascontiguousarray(x, dtype=np.float32).view(np.int32).astype(np.int64)
    return b ^ ((b >> 31) & 0x7FFFFFFF)


def _floats(k):
    k = np.asarray(k, dtype=np.int64)
    return (k ^ ((k >> 31) & 0x7FFFFFFF)).astype(np.int32).view(np.float32)


def _quant(x, scale, lo, hi):
    with np.errstate(all="ignore"):
        return np.clip(np.round(np.float32(x) / np.float32(scale)), lo, hi).astype(np.int64)


def _thresholds(scale, lo, hi):
    """Smallest float key of each level boundary lo+1..hi (bisection on the key order)."""
    fmax = int(_keys(np.float32([3.4028235e38]))[0])
    k = np.arange(lo + 1, hi + 1)
    a, b = np.full(k.shape, -fmax), np.full(k.shape, fmax)
    while np.any(a < b):
        mid = (a + b) >> 1
        ok = _quant(_floats(mid), scale, lo, hi) >= k
        b, a = np.where(ok, mid, b), np.where(ok, a, mid + 1)
    return a.astype(np.int32)


def _probes(rows, scales, rng, F):
    x = [rng.uniform(-1.5, 1.5, (64, F)), rng.standard_normal((16, F)) * 1e4, np.full((1, F), -0.0),
         np.zeros((1, F)), np.full((1, F), 3.4028235e38), np.full((1, F), -3.4028235e38),
         np.full((1, F), 1e-40)]
    for r, s in zip(rows, scales):
        ties = (np.arange(-300, 300) + 0.5) * np.float64(s)
        vals = np.concatenate([_floats(r.astype(np.int64) + d) for d in (-2, -1, 0, 1, 2)]
                              + [ties.astype(np.float32), np.nextafter(ties.astype(np.float32), np.float32(9)),
                                 np.nextafter(ties.astype(np.float32), np.float32(-9))])
        vals = np.resize(rng.permutation(vals), (len(vals) + F - 1) // F * F)
        x.append(vals.reshape(-1, F))
    return np.concatenate(x).astype(np.float32)


def test_proven_head_is_exact():
    rng = np.random.default_rng(1)
    F = 3 * 37
    for scales, lo, hi in (([np.float32(1 / 255)], 0, 255), ([np.float32(0.0173)], -128, 127),
                           ([np.float32(0.02), np.float32(1 / 127), np.float32(0.0051)], -127, 127),
                           ([np.float32(2.0 ** -7)], -2048, 2047)):
        rows = np.stack([_thresholds(s, lo, hi) for s in scales])
        params = HK.interp_params(rows)
        assert np.all(params[:, 2] > 0)  # the fast pass applies
        assert HK.proven_tables(HK.NO_PERM, np.zeros(F, np.int32) if len(scales) == 1 else
                                (np.arange(F) % len(scales)).astype(np.int32), params, np.zeros(F, np.int32),
                                np.ones(F, np.int32)) is not None
        row_of = (np.arange(F) % len(scales)).astype(np.int32)
        base, sgn = np.full(F, lo, np.int32), np.ones(F, np.int32)
        x = _probes(rows, scales, rng, F)
        want = np.stack([_quant(x[:, f], scales[row_of[f]], lo, hi) for f in range(F)], axis=1)
        for p in (HK.NO_PERM, rng.permutation(F).astype(np.int64)):
            xin = x if p.size == 0 else np.ascontiguousarray(x[:, np.argsort(p)])
            out = np.empty(x.shape, dtype=np.int16)
            assert HK.head_levels(xin.view(np.int32), p, HK.padded_rows(rows), row_of, params,
                                         base, sgn, out) == 0
            np.testing.assert_array_equal(out, want)
        x[2, 5], x[9, 0], x[9, 1] = np.inf, np.nan, -np.inf
        out = np.empty(x.shape, dtype=np.int16)
        assert HK.head_levels(x.view(np.int32), HK.NO_PERM, HK.padded_rows(rows), row_of, params,
                                     base, sgn, out) == 3


def test_uneven_rows_are_not_proven():
    rows = np.sort(_keys(np.float32([0.1, 0.2, 0.25, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5])))[None, :].astype(np.int32)
    assert HK.interp_params(rows)[0, 2] == 0
    rep = np.repeat(_keys(np.linspace(0, 1, 20, dtype=np.float32)), 2)[None, :].astype(np.int32)
    assert HK.interp_params(rep)[0, 2] == 0


def test_thresholds_every_finite_float_passes_or_none_does():
    """A quantizer whose lowest level is out of reach (a threshold at -FLT_MAX, as TFC's input) or whose highest is
    (one above FLT_MAX): the inner thresholds are interpolated, the others counted for every finite input."""
    rng = np.random.default_rng(2)
    F = 50
    kmin, kinf = (int(k) for k in _keys(np.float32([-3.4028235e38, np.inf])))
    inner = _thresholds(np.float32(0.5), -2, 1)
    for row in (np.concatenate([[kmin], inner[1:]]), np.concatenate([inner, [kinf]]),
                np.concatenate([[kmin, kmin], inner, [kinf]])):
        rows = row.astype(np.int32)[None, :]
        params = HK.interp_params(rows)
        assert params[0, 2] > 0
        x = _probes(rows[:, (rows[0] > kmin) & (rows[0] < kinf)], [np.float32(0.5)], rng, F)
        for sgn, base in ((1, -3), (-1, 4)):
            out = np.empty(x.shape, dtype=np.int8)
            assert HK.head_levels(x.view(np.int32), HK.NO_PERM, HK.padded_rows(rows), np.zeros(F, np.int32),
                                         params, np.full(F, base, np.int32), np.full(F, sgn, np.int32), out) == 0
            want = base + sgn * np.searchsorted(rows[0].astype(np.int64), _keys(x), side="right")
            np.testing.assert_array_equal(out, want)


def test_float_extremes_on_keys():
    """The input range check's one pass (min / max over the order-preserving keys): infinities, +-0, and any NaN
    (either sign, any payload) giving NaN, NaN."""
    rng = np.random.default_rng(3)
    quiet_neg_payload = np.array([np.float32(np.nan).view(np.int32) | -0x7FFFFFFF], np.int32).view(np.float32)[0]
    for x in (rng.uniform(-3, 5, 1001), [np.inf, 1, -np.inf], [-0.0, 0.0], [3.0], [-3.4028235e38, 1e-45]):
        x = np.asarray(x, dtype=np.float32)
        assert HK.float_extremes(x) == (x.min(), x.max())
    for bad in (np.nan, -np.nan, quiet_neg_payload):
        lo, hi = HK.float_extremes(np.array([1.0, bad, -np.inf], dtype=np.float32))
        assert np.isnan(lo) and np.isnan(hi)
