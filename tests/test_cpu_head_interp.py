"""The interpolated head kernel (sw_fallback.head_kernels.head_levels_interp) counts exactly #{t in row : t <= key}
whatever its estimate: even, uneven and repeated thresholds, values far outside them, +-0, infinities and NaN
(counted as non-finite), the head's layout moves gathered in the same pass."""

import numpy as np

from sw_fallback import head_kernels as HK


def _keys(x):
    b = np.ascontiguousarray(x, dtype=np.float32).view(np.int32).astype(np.int64)
    return (b ^ ((b >> 31) & 0x7FFFFFFF)).astype(np.int32)


def test_interp_head_counts_exactly():
    rng = np.random.default_rng(0)
    F = 97
    even = np.linspace(-1.0, 1.0, 255, dtype=np.float32) + np.float32(0.004)
    uneven = np.sort(rng.standard_normal(255).astype(np.float32) ** 3)
    repeated = np.sort(np.repeat(rng.uniform(0, 1, 85).astype(np.float32), 3))
    rows = np.stack([_keys(r) for r in (even, uneven, repeated)])
    rows.sort(axis=1)
    row_of = rng.integers(0, 3, F).astype(np.int32)
    base = rng.integers(-128, 1, F).astype(np.int32)
    sgn = rng.choice(np.array([-1, 1], dtype=np.int32), F)
    perm = rng.permutation(F).astype(np.int64)
    x = np.concatenate([rng.uniform(-2, 2, (40, F)), rng.standard_normal((40, F)) * 1e3,
                        np.tile(even, 2)[None, :F], np.tile(uneven, 2)[None, :F], np.full((1, F), -0.0),
                        np.full((1, F), 3.4e38), np.full((1, F), -3.4e38)]).astype(np.float32)
    for p in (HK.NO_PERM, perm):
        xin = x if p.size == 0 else x[:, np.argsort(p)]  # so that element f reads x[:, f] through perm
        out = np.empty(x.shape, dtype=np.int64)
        bad = HK.head_levels_interp(xin.view(np.int32), p, HK.padded_rows(rows), row_of, HK.interp_params(rows),
                                    base, sgn, out)
        want = np.stack([base[f] + sgn[f] * np.searchsorted(rows[row_of[f]], _keys(x[:, f]), side="right")
                         for f in range(F)], axis=1)
        assert bad == 0
        np.testing.assert_array_equal(out, want)
    x[3, 5], x[7, 0] = np.inf, np.nan
    out = np.empty(x.shape, dtype=np.int16)
    assert HK.head_levels_interp(x.view(np.int32), HK.NO_PERM, HK.padded_rows(rows), row_of,
                                 HK.interp_params(rows), base, sgn, out) == 2
