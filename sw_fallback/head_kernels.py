"""The compiled head's fast path (sw_fallback.partitions.CompiledHead): an input element's level from its float32
bit pattern through a bucket table instead of a binary search over its thresholds.

Keys (the float's bit pattern made order-preserving as an int32, see kernels._head_level) are split by their
top 16 bits into 65,536 buckets; table[row, bucket] counts the thresholds of that row below the bucket's first
key, and the few thresholds inside the bucket (an 8-bit quantizer has about one per bucket) are stepped over
linearly. Exact for any ascending rows; elements sharing a threshold row (a per-tensor or per-channel input
quantizer) share its table.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sw_fallback.kernels import OPTS

BUCKET_SHIFT = 16
BUCKETS = 1 << (32 - BUCKET_SHIFT)


def bucket_table(rows: np.ndarray) -> np.ndarray:
    """rows (R, T) ascending int32 keys -> (R, BUCKETS) counts of each row's thresholds below each bucket."""
    starts = (np.arange(BUCKETS, dtype=np.int64) - BUCKETS // 2) << BUCKET_SHIFT
    t = np.stack([np.searchsorted(r.astype(np.int64), starts, side="left") for r in rows])
    return np.ascontiguousarray(t.astype(np.int16 if rows.shape[1] < 32767 else np.int32))


@njit(**OPTS)
def head_levels_bucket(xb, rows, row_of, table, base, sgn, out):
    """xb (N, F) int32 view of the float32 input -> out (N, F) levels base + sgn * #thresholds passed; element f
    uses threshold row row_of[f] of rows (R, T). Returns the number of non-finite inputs (as head_levels)."""
    N, F = xb.shape
    T = rows.shape[1]
    bad = np.zeros(N, dtype=np.int64)
    for n in prange(N):
        nb = np.int32(0)
        for f in range(F):
            b = xb[n, f]
            nb += np.int32((b & np.int32(0x7F800000)) == np.int32(0x7F800000))
            key = np.int32(b ^ ((b >> np.int32(31)) & np.int32(0x7FFFFFFF)))
            r = row_of[f]
            c = np.int32(table[r, (key >> np.int32(BUCKET_SHIFT)) + np.int32(BUCKETS // 2)])
            row = rows[r]
            while c < T and row[c] <= key:
                c += 1
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
