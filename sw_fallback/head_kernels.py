"""The compiled head's fast path (sw_fallback.partitions.CompiledHead): an input element's level from its float32
bit pattern by interpolation and one exact check, instead of a search over its thresholds.

Keys (the float's bit pattern made order-preserving as an int32, see kernels._head_level) are compared with the
element's threshold row (ascending keys). An input quantizer's thresholds are evenly spaced in value, so the
count c is estimated from the float value ((x - first threshold) * thresholds per unit + 1, clamped into [0, T])
and checked: row[c - 1] <= key < row[c] (the row padded with the lowest and highest int32 key, so no bounds
tests). That holds but within rounding of a threshold; otherwise (or for uneven thresholds) loops step c to the
count. Exactly #{t in row : t <= key} whatever the estimate. This replaced a table of the count per 2^16 keys
(128 KB per row; with the head's layout moves gathered by numpy first): 11 ms -> 3.7 ms per 1,000 frames of
MobileNet's 16x16x3 input, 4.3 -> 3.6 ms of the MNIST CNN's 28x28 (`sw_fallback` cpu backend, one thread).
Elements sharing a threshold row (a per-tensor or per-channel input quantizer) share its parameters.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sw_fallback.kernels import OPTS


def _key_value(k: np.ndarray) -> np.ndarray:
    """Order-preserving int32 keys -> their float32 values (as float64)."""
    b = np.asarray(k, dtype=np.int64)
    b = b ^ ((b >> 31) & 0x7FFFFFFF)
    return b.astype(np.int32).view(np.float32).astype(np.float64)


NO_PERM = np.zeros(0, dtype=np.int64)  # head_levels_interp's perm when the head moves no element


def interp_params(rows: np.ndarray) -> np.ndarray:
    """rows (R, T) ascending int32 keys -> (R, 2) float64 (first threshold's value, thresholds per unit) for the
    estimate; non-finite or degenerate rows get (0, 0): a constant estimate, then the loops (still exact)."""
    p = np.zeros((rows.shape[0], 2), dtype=np.float64)
    T = rows.shape[1]
    if T == 0:
        return p
    lo, hi = _key_value(rows[:, 0]), _key_value(rows[:, -1])
    with np.errstate(all="ignore"):
        inv = (T - 1) / (hi - lo) if T > 1 else np.zeros_like(lo)
    ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(inv) & (inv >= 0)
    p[ok, 0], p[ok, 1] = lo[ok], inv[ok]
    return np.ascontiguousarray(p)


def padded_rows(rows: np.ndarray) -> np.ndarray:
    """rows (R, T) ascending int32 keys -> (R, T + 2) with the lowest key in front and the highest behind: the
    count c of a key is then the c with P[c] <= key < P[c + 1], checked without bounds tests."""
    info = np.iinfo(np.int32)
    r = np.asarray(rows, dtype=np.int32)
    lo = np.full((r.shape[0], 1), info.min, dtype=np.int32)
    hi = np.full((r.shape[0], 1), info.max, dtype=np.int32)
    return np.ascontiguousarray(np.concatenate([lo, r, hi], axis=1))


@njit(**OPTS)
def head_levels_interp(xb, perm, pads, row_of, params, base, sgn, out):
    """xb (N, F) int32 view of the float32 input -> out (N, F) levels base + sgn * #thresholds passed; output
    element f reads input element perm[f] (the head's layout moves, gathered here; perm empty: f itself) and
    uses threshold row row_of[f] (padded_rows: pads (R, T + 2)) with its estimate params[row] (interp_params).
    Returns the number of non-finite inputs (as head_levels: their levels are meaningless, the caller then uses
    the evaluator)."""
    N, F = out.shape
    T = pads.shape[1] - 2
    tf = np.float64(T)
    moved = perm.shape[0] > 0
    xf = xb.view(np.float32)
    bad = np.zeros(N, dtype=np.int64)
    for n in prange(N):
        nb = np.int32(0)
        for f in range(F):
            i = perm[f] if moved else f
            b = xb[n, i]
            nb += np.int32((b & np.int32(0x7F800000)) == np.int32(0x7F800000))
            key = np.int32(b ^ ((b >> np.int32(31)) & np.int32(0x7FFFFFFF)))
            r = row_of[f]
            e = (np.float64(xf[n, i]) - params[r, 0]) * params[r, 1] + 1.0
            e = e if e > 0.0 else 0.0  # clamped into [0, T] by selects (NaN -> 0)
            e = e if e < tf else tf
            c = int(e)
            # the exact check (two independent loads); the estimate misses only within rounding of a threshold or
            # for uneven thresholds, and then the loops step to the count
            if not (pads[r, c] <= key and key < pads[r, c + 1]):
                while c < T and pads[r, c + 1] <= key:
                    c += 1
                while c > 0 and pads[r, c] > key:
                    c -= 1
            out[n, f] = base[f] + sgn[f] * c
        bad[n] = nb
    return bad.sum()


@njit(**OPTS)
def _few_counts(xrow, thrT, key, cnt):
    """One frame of the few-threshold heads: each element's ordered key and, in cnt, how many threshold rows lie at
    or below it (innermost loops over elements without branches: they vectorize into SIMD compares). Returns the
    number of non-finite inputs."""
    F = xrow.shape[0]
    nb = np.int32(0)
    for f in range(F):
        b = xrow[f]
        nb += np.int32((b & np.int32(0x7F800000)) == np.int32(0x7F800000))
        key[f] = b ^ ((b >> np.int32(31)) & np.int32(0x7FFFFFFF))
        cnt[f] = 0
    for j in range(thrT.shape[0]):
        for f in range(F):
            cnt[f] += np.int32(thrT[j, f] <= key[f])
    return nb


@njit(**OPTS)
def head_levels_few(xb, thrT, base, sgn, out):
    """As head_levels for few thresholds per element (thrT (T, F), T small): per frame, the keys, then one pass
    over the elements per threshold row (innermost loops over elements without branches: they vectorize into
    SIMD compares), no search. Returns the number of non-finite inputs."""
    N, F = xb.shape
    bad = np.int64(0)
    key = np.empty(F, dtype=np.int32)
    cnt = np.empty(F, dtype=np.int32)
    for n in range(N):
        nb = _few_counts(xb[n], thrT, key, cnt)
        for f in range(F):
            out[n, f] = base[f] + sgn[f] * cnt[f]
        bad += nb
    return bad


@njit(**OPTS)
def head_bits_few(xb, thrT, base, sgn, out):
    """head_levels_few for a BIPOLAR first layer (levels -1/+1), written bit-packed (bit 1 = +1), as
    kernels.head_bits."""
    N, F = xb.shape
    W = out.shape[1]
    bad = np.int64(0)
    key = np.empty(F, dtype=np.int32)
    cnt = np.empty(F, dtype=np.int32)
    for n in range(N):
        nb = _few_counts(xb[n], thrT, key, cnt)
        for w in range(W):
            word = np.uint64(0)
            top = min(64, F - w * 64)
            for i in range(top):
                f = w * 64 + i
                word |= np.uint64(base[f] + sgn[f] * cnt[f] > 0) << np.uint64(i)
            out[n, w] = word
        bad += nb
    return bad


@njit(**OPTS)
def gather_lut(q, perm, lut, lo, out):
    """out[n, j] = lut[q[n, perm[j]] - lo]: a tail's element-wise entry (one table over the integer range) and its
    layout ops (a permutation of each frame's elements) in one pass (sw_fallback.tail_layout)."""
    N, F = out.shape
    for n in prange(N):
        for j in range(F):
            out[n, j] = lut[np.int64(q[n, perm[j]]) - lo]


@njit(**OPTS)
def gather_cols(x, perm, out):
    """out[n, j] = x[n, perm[j]] (a head's layout moves, inside the compiled driver)."""
    N, F = out.shape
    for n in range(N):
        for j in range(F):
            out[n, j] = x[n, perm[j]]


@njit(**OPTS)
def float_extremes(x):
    """(min, max) of a float32 array (NaN: both NaN), one pass: the input range check on small batches."""
    v = x.reshape(-1)
    lo = v[0]
    hi = v[0]
    for i in range(v.shape[0]):
        e = v[i]
        if e != e:
            return e, e
        lo = min(lo, e)
        hi = max(hi, e)
    return lo, hi
