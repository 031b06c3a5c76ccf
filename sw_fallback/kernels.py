"""numba kernels of the CPU backend: compiled through LLVM, cached on disk, single-threaded (the backend runs
tiles of frames on its threads, sw_fallback.backend; `prange` below is a plain range: no numba parallel region,
whose barrier per layer collapsed under load, and a much shorter compile).

Every kernel implements the golden integer semantics of hwgen/layers/kernels.py:
- XNOR-popcount MVAU on bit-packed BIPOLAR vectors (bit 1 = +1; element i in word i // 64, bit i % 64; padding
  bits 0 in inputs and weights, so they never count): acc = MW - 2 * popcount(x ^ w), the true dot product;
- integer MVAU with operands and accumulator in the narrowest safe integer types (the accumulator only has to
  hold the final dot product: two's complement wrap-around of partial sums cancels out);
- thresholds fused into the MVAU: level = out_base + #{t in row : acc >= t}, a linear count for few thresholds,
  a binary search over the sorted row for many;
- the head as a comparison of the input's float32 bit patterns against exact per-element thresholds
  (see backend.py for why that equals the evaluator), straight into the first layer's operand format.

Threshold helpers return #{t <= v} for an ascending row, i.e. the number of thresholds passed.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

OPTS = dict(cache=True, nogil=True, error_model="numpy")
LINEAR_MAX_T = 8  # above this many thresholds per row: binary search


@intrinsic
def popcount64(typingctx, x):
    """LLVM ctpop on a uint64 (one POPCNT instruction on x86-64)."""
    if not isinstance(x, types.Integer):
        return None
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        v = context.cast(builder, args[0], signature.args[0], types.uint64)
        return builder.ctpop(v)

    return sig, codegen


@njit(inline="always", **OPTS)
def _count_le(row, v):
    """#{t in row : t <= v}; row ascending."""
    T = row.shape[0]
    if T <= LINEAR_MAX_T:
        c = 0
        for j in range(T):
            c += 1 if row[j] <= v else 0
        return c
    lo, hi = 0, T  # first index with row[idx] > v
    while lo < hi:
        mid = (lo + hi) >> 1
        if row[mid] <= v:
            lo = mid + 1
        else:
            hi = mid
    return lo


count_le = _count_le  # public: the conv kernels (sw_fallback.conv_kernels) count thresholds the same way


# ----------------------------------------------------------------------------------------------------------------
# packing


@njit(**OPTS)
def pack_bipolar(q, out):
    """q (N, F) with values -1/+1 -> out (N, ceil(F/64)) uint64, bit 1 for +1."""
    N, F = q.shape
    W = out.shape[1]
    for n in prange(N):
        for w in range(W):
            word = np.uint64(0)
            base = w * 64
            top = min(64, F - base)
            for b in range(top):
                if q[n, base + b] > 0:
                    word |= np.uint64(1) << np.uint64(b)
            out[n, w] = word


@njit(**OPTS)
def unpack_bipolar(bits, F, out):
    N = bits.shape[0]
    for n in prange(N):
        for f in range(F):
            b = (bits[n, f >> 6] >> np.uint64(f & 63)) & np.uint64(1)
            out[n, f] = 1 if b else -1


@njit(**OPTS)
def cast_copy(q, out):
    N, F = q.shape
    for n in prange(N):
        for f in range(F):
            out[n, f] = q[n, f]


# ----------------------------------------------------------------------------------------------------------------
# head: float32 input -> first layer's integer levels, through exact per-element thresholds on the float order


@njit(inline="always", **OPTS)
def _head_level(b, f, thrT, thr, base, sgn):
    """Level of one input element from the int32 bit pattern b of its float32 value: keys order like the
    floats (-0 < +0); thrT (T, F) int32 ascending keys per element (thr (F, T) the same, for binary search)."""
    key = np.int32(b ^ ((b >> np.int32(31)) & np.int32(0x7FFFFFFF)))
    T = thrT.shape[0]
    if T <= LINEAR_MAX_T:
        c = np.int32(0)
        for j in range(T):
            c += np.int32(thrT[j, f] <= key)
    else:
        c = np.int32(_count_le(thr[f], key))
    return base[f] + sgn[f] * c


@njit(**OPTS)
def head_levels(xb, thrT, thr, base, sgn, out):
    """xb (N, F) int32 view of the float32 input -> out (N, F) levels base + sgn * #thresholds passed.
    Returns the number of non-finite inputs (their levels are meaningless: the caller then uses the evaluator)."""
    N, F = xb.shape
    bad = np.zeros(N, dtype=np.int64)
    for n in prange(N):
        nb = np.int32(0)
        for f in range(F):
            b = xb[n, f]
            nb += np.int32((b & np.int32(0x7F800000)) == np.int32(0x7F800000))
            out[n, f] = _head_level(b, f, thrT, thr, base, sgn)
        bad[n] = nb
    return bad.sum()


@njit(**OPTS)
def head_bits(xb, thrT, thr, base, sgn, out):
    """As head_levels for a BIPOLAR first layer (levels -1/+1), written bit-packed (bit 1 = +1)."""
    N, F = xb.shape
    W = out.shape[1]
    bad = np.zeros(N, dtype=np.int64)
    for n in prange(N):
        nb = np.int32(0)
        for w in range(W):
            word = np.uint64(0)
            base_f = w * 64
            top = min(64, F - base_f)
            for i in range(top):
                b = xb[n, base_f + i]
                nb += np.int32((b & np.int32(0x7F800000)) == np.int32(0x7F800000))
                bit = np.uint64(_head_level(b, base_f + i, thrT, thr, base, sgn) > 0)
                word |= bit << np.uint64(i)
            out[n, w] = word
        bad[n] = nb
    return bad.sum()


# ----------------------------------------------------------------------------------------------------------------
# XNOR-popcount MVAU


@njit(**OPTS)
def mvau_xnor_int(xbits, wbits, mw, thr, out_base, out_bipolar, out):
    """acc = MW - 2*popcount(x ^ w); thresholds (MH, T) (T == 0: out = acc)."""
    N, W = xbits.shape
    MH = wbits.shape[0]
    T = thr.shape[1]
    for n in prange(N):
        for h in range(MH):
            ham = np.uint64(0)
            for w in range(W):
                ham += popcount64(xbits[n, w] ^ wbits[h, w])
            acc = np.int64(mw) - 2 * np.int64(ham)
            if T == 0:
                out[n, h] = acc
            else:
                c = _count_le(thr[h], acc)
                out[n, h] = 2 * c - 1 if out_bipolar else out_base + c


@njit(**OPTS)
def mvau_xnor_bits(xbits, wbits, mw, thr, out):
    """BIPOLAR in, weights and out (one threshold per row): out bit h = (acc >= thr[h, 0]), bit-packed."""
    N, W = xbits.shape
    MH = wbits.shape[0]
    WO = out.shape[1]
    for n in prange(N):
        for wo in range(WO):
            word = np.uint64(0)
            base = wo * 64
            top = min(64, MH - base)
            for b in range(top):
                h = base + b
                ham = np.uint64(0)
                for w in range(W):
                    ham += popcount64(xbits[n, w] ^ wbits[h, w])
                acc = np.int64(mw) - 2 * np.int64(ham)
                if acc >= thr[h, 0]:
                    word |= np.uint64(1) << np.uint64(b)
            out[n, wo] = word


# ----------------------------------------------------------------------------------------------------------------
# integer MVAU: one kernel per accumulator width (the casts keep LLVM's vector lanes narrow)


@njit(inline="always", **OPTS)
def _emit(out, n, h, a, thr, out_base, out_bipolar):
    if thr.shape[1] == 0:
        out[n, h] = a
    else:
        c = _count_le(thr[h], a)
        out[n, h] = 2 * c - 1 if out_bipolar else out_base + c


@njit(**OPTS)
def mvau_acc16(x, w, thr, out_base, out_bipolar, out):
    """Blocks of four images x two weight rows: each loaded image vector feeds two multiply-adds and each weight
    vector four (eight int16 accumulators: 1.4x the four-images-per-row loop on TFC_2W2A's layers, 2026-12-06;
    four rows spill registers); the rest one by one. Sums wrap modulo 2^16 as before: exact (see MvauKernel)."""
    N, MW = x.shape
    MH = w.shape[0]
    for nb in prange((N + 3) // 4):
        n = nb * 4
        if n + 4 <= N:
            x0, x1, x2, x3 = x[n], x[n + 1], x[n + 2], x[n + 3]
            h = 0
            while h + 2 <= MH:
                w0, w1 = w[h], w[h + 1]
                a00 = a01 = a02 = a03 = np.int16(0)
                a10 = a11 = a12 = a13 = np.int16(0)
                for k in range(MW):
                    v0 = np.int16(w0[k])
                    v1 = np.int16(w1[k])
                    y0 = np.int16(x0[k])
                    y1 = np.int16(x1[k])
                    y2 = np.int16(x2[k])
                    y3 = np.int16(x3[k])
                    a00 = np.int16(a00 + v0 * y0)
                    a01 = np.int16(a01 + v0 * y1)
                    a02 = np.int16(a02 + v0 * y2)
                    a03 = np.int16(a03 + v0 * y3)
                    a10 = np.int16(a10 + v1 * y0)
                    a11 = np.int16(a11 + v1 * y1)
                    a12 = np.int16(a12 + v1 * y2)
                    a13 = np.int16(a13 + v1 * y3)
                _emit(out, n, h, np.int64(a00), thr, out_base, out_bipolar)
                _emit(out, n + 1, h, np.int64(a01), thr, out_base, out_bipolar)
                _emit(out, n + 2, h, np.int64(a02), thr, out_base, out_bipolar)
                _emit(out, n + 3, h, np.int64(a03), thr, out_base, out_bipolar)
                _emit(out, n, h + 1, np.int64(a10), thr, out_base, out_bipolar)
                _emit(out, n + 1, h + 1, np.int64(a11), thr, out_base, out_bipolar)
                _emit(out, n + 2, h + 1, np.int64(a12), thr, out_base, out_bipolar)
                _emit(out, n + 3, h + 1, np.int64(a13), thr, out_base, out_bipolar)
                h += 2
            if h < MH:  # an odd last row
                wr = w[h]
                for m in range(n, n + 4):
                    acc = np.int16(0)
                    for k in range(MW):
                        acc = np.int16(acc + np.int16(x[m, k]) * np.int16(wr[k]))
                    _emit(out, m, h, np.int64(acc), thr, out_base, out_bipolar)
        else:
            for m in range(n, N):
                xr = x[m]
                for h in range(MH):
                    wr = w[h]
                    acc = np.int16(0)
                    for k in range(MW):
                        acc = np.int16(acc + np.int16(xr[k]) * np.int16(wr[k]))
                    _emit(out, m, h, np.int64(acc), thr, out_base, out_bipolar)


@njit(**OPTS)
def mvau_acc32(x, w, thr, out_base, out_bipolar, out):
    """Four images per pass over a weight row (each weight load feeds four multiply-adds); the rest one by one."""
    N, MW = x.shape
    MH = w.shape[0]
    for nb in prange((N + 3) // 4):
        n = nb * 4
        if n + 4 <= N:
            x0, x1, x2, x3 = x[n], x[n + 1], x[n + 2], x[n + 3]
            for h in range(MH):
                wr = w[h]
                a0 = np.int32(0)
                a1 = np.int32(0)
                a2 = np.int32(0)
                a3 = np.int32(0)
                for k in range(MW):
                    wv = np.int32(wr[k])
                    a0 = np.int32(a0 + wv * np.int32(x0[k]))
                    a1 = np.int32(a1 + wv * np.int32(x1[k]))
                    a2 = np.int32(a2 + wv * np.int32(x2[k]))
                    a3 = np.int32(a3 + wv * np.int32(x3[k]))
                _emit(out, n, h, np.int64(a0), thr, out_base, out_bipolar)
                _emit(out, n + 1, h, np.int64(a1), thr, out_base, out_bipolar)
                _emit(out, n + 2, h, np.int64(a2), thr, out_base, out_bipolar)
                _emit(out, n + 3, h, np.int64(a3), thr, out_base, out_bipolar)
        else:
            for m in range(n, N):
                xr = x[m]
                for h in range(MH):
                    wr = w[h]
                    acc = np.int32(0)
                    for k in range(MW):
                        acc = np.int32(acc + np.int32(xr[k]) * np.int32(wr[k]))
                    _emit(out, m, h, np.int64(acc), thr, out_base, out_bipolar)


@njit(**OPTS)
def mvau_acc64(x, w, thr, out_base, out_bipolar, out):
    N, MW = x.shape
    MH = w.shape[0]
    T = thr.shape[1]
    for n in prange(N):
        xr = x[n]
        for h in range(MH):
            wr = w[h]
            acc = np.int64(0)
            for k in range(MW):
                acc += np.int64(xr[k]) * np.int64(wr[k])
            if T == 0:
                out[n, h] = acc
            else:
                c = _count_le(thr[h], acc)
                out[n, h] = 2 * c - 1 if out_bipolar else out_base + c


MVAU_INT = {16: mvau_acc16, 32: mvau_acc32, 64: mvau_acc64}


# ----------------------------------------------------------------------------------------------------------------
# standalone thresholding, label select, tail lookup


@njit(**OPTS)
def thresholds(x, thr, out_base, out_bipolar, out):
    N, C = x.shape
    for n in prange(N):
        for c in range(C):
            k = _count_le(thr[c], np.int64(x[n, c]))
            out[n, c] = 2 * k - 1 if out_bipolar else out_base + k


@njit(**OPTS)
def label_select(x, k, out):
    """Indices of the k largest per row, largest first, ties to the lower index (stable descending order)."""
    N, C = x.shape
    for n in prange(N):
        taken = np.zeros(C, dtype=np.uint8)
        for j in range(k):
            best = -1
            for c in range(C):
                if taken[c] == 0 and (best < 0 or x[n, c] > x[n, best]):
                    best = c
            taken[best] = 1
            out[n, j] = best
    return out


@njit(**OPTS)
def tail_lookup(q, lut, lo, out):
    """out[n, c] = lut[c, q[n, c] - lo[c]] (the tail evaluated once per channel and integer value)."""
    N, C = q.shape
    for n in prange(N):
        for c in range(C):
            out[n, c] = lut[c, np.int64(q[n, c]) - lo[c]]


# ----------------------------------------------------------------------------------------------------------------
# bit-serial MVAU for few-bit integer operands: x = ax*u + xmin, w = aw*v + wmin with u, v small unsigned
# integers held as bit planes; sum(u*v) = sum_ij 2^(i+j) popcount(u_i & v_j), vectorized over the output rows.


@njit(**OPTS)
def pack_planes(q, xmin, ash, out):
    """q (N, F) integer values -> out (N, B, ceil(F/64)) uint64: plane i holds bit i of (q - xmin) >> ash (ash = log2 of the value step: 1 for BIPOLAR, else 0)."""
    N, F = q.shape
    B = out.shape[1]
    W = out.shape[2]
    for n in prange(N):
        for w in range(W):
            base = w * 64
            top = min(64, F - base)
            for i in range(B):
                word = np.uint64(0)
                for b in range(top):
                    u = (np.int64(q[n, base + b]) - xmin) >> ash
                    word |= np.uint64((u >> i) & 1) << np.uint64(b)
                out[n, i, w] = word


@njit(**OPTS)
def head_planes(xb, thrT, thr, base, sgn, xmin, ash, out):
    """As head_levels, written as bit planes of (level - xmin) >> ash (see pack_planes); up to 4 planes
    (BITSERIAL_MAX) kept in registers."""
    N, F = xb.shape
    B = out.shape[1]
    W = out.shape[2]
    bad = np.zeros(N, dtype=np.int64)
    for n in prange(N):
        nb = np.int32(0)
        for w in range(W):
            base_f = w * 64
            top = min(64, F - base_f)
            p0 = np.uint64(0)
            p1 = np.uint64(0)
            p2 = np.uint64(0)
            p3 = np.uint64(0)
            for b in range(top):
                v = xb[n, base_f + b]
                nb += np.int32((v & np.int32(0x7F800000)) == np.int32(0x7F800000))
                u = np.uint64((np.int64(_head_level(v, base_f + b, thrT, thr, base, sgn)) - xmin) >> ash)
                sb = np.uint64(b)
                p0 |= (u & np.uint64(1)) << sb
                p1 |= ((u >> np.uint64(1)) & np.uint64(1)) << sb
                p2 |= ((u >> np.uint64(2)) & np.uint64(1)) << sb
                p3 |= ((u >> np.uint64(3)) & np.uint64(1)) << sb
            out[n, 0, w] = p0
            if B > 1:
                out[n, 1, w] = p1
            if B > 2:
                out[n, 2, w] = p2
            if B > 3:
                out[n, 3, w] = p3
        bad[n] = nb
    return bad.sum()


BITSERIAL_BLOCK = 32  # images per scratch accumulator allocation


@njit(**OPTS)
def mvau_bitserial(xp, wpT, ax, aw, xmin, wmin, vsum, mw, thr, out_base, out_bipolar, out):
    """xp (N, Bx, W) input planes; wpT (Bw, W, MH) weight planes, rows innermost; vsum (MH,) = sum of v per row.
    acc = ax*aw*sum(u v) + ax*wmin*sum(u) + aw*xmin*sum(v) + MW*xmin*wmin."""
    N, Bx, W = xp.shape
    Bw = wpT.shape[0]
    MH = wpT.shape[2]
    for blk in prange((N + BITSERIAL_BLOCK - 1) // BITSERIAL_BLOCK):
        acc = np.empty(MH, dtype=np.int64)
        for n in range(blk * BITSERIAL_BLOCK, min(N, (blk + 1) * BITSERIAL_BLOCK)):
            acc[:] = 0
            su = np.int64(0)
            for i in range(Bx):
                for w in range(W):
                    xv = xp[n, i, w]
                    su += np.int64(popcount64(xv)) << i
                    for j in range(Bw):
                        sh = np.int64(i + j)
                        for h in range(MH):
                            acc[h] += np.int64(popcount64(xv & wpT[j, w, h])) << sh
            const = ax * wmin * su + mw * xmin * wmin
            for h in range(MH):
                a = ax * aw * acc[h] + const + aw * xmin * vsum[h]
                _emit(out, n, h, a, thr, out_base, out_bipolar)


# ----------------------------------------------------------------------------------------------------------------
# head fused into a first integer MVAU (16-bit accumulator): the levels of four images go to a small buffer and
# straight into the multiply-adds, instead of a full (N, F) array written and read back


@njit(**OPTS)
def head_mvau_acc16(xb, thrT, thr, base, sgn, w, lthr, out_base, out_bipolar, out):
    N, F = xb.shape
    MH = w.shape[0]
    NC = (N + 31) // 32
    bad = np.zeros(NC, dtype=np.int64)
    for ch in prange(NC):
        buf = np.zeros((4, F), dtype=np.int16)
        nb = np.int32(0)
        for n in range(ch * 32, min(N, ch * 32 + 32), 4):
            m = min(4, N - n)
            for j in range(m):
                for f in range(F):
                    b = xb[n + j, f]
                    nb += np.int32((b & np.int32(0x7F800000)) == np.int32(0x7F800000))
                    buf[j, f] = np.int16(_head_level(b, f, thrT, thr, base, sgn))
            for j in range(m, 4):
                buf[j, :] = 0
            x0, x1, x2, x3 = buf[0], buf[1], buf[2], buf[3]
            for h in range(MH):
                wr = w[h]
                a0 = np.int16(0)
                a1 = np.int16(0)
                a2 = np.int16(0)
                a3 = np.int16(0)
                for k in range(F):
                    wv = np.int16(wr[k])
                    a0 = np.int16(a0 + wv * x0[k])
                    a1 = np.int16(a1 + wv * x1[k])
                    a2 = np.int16(a2 + wv * x2[k])
                    a3 = np.int16(a3 + wv * x3[k])
                _emit(out, n, h, np.int64(a0), lthr, out_base, out_bipolar)
                if m > 1:
                    _emit(out, n + 1, h, np.int64(a1), lthr, out_base, out_bipolar)
                if m > 2:
                    _emit(out, n + 2, h, np.int64(a2), lthr, out_base, out_bipolar)
                if m > 3:
                    _emit(out, n + 3, h, np.int64(a3), lthr, out_base, out_bipolar)
        bad[ch] = nb
    return bad.sum()


@njit(**OPTS)
def count_outside(q, lo, hi, bipolar):
    """Number of values of q (N, F) integers outside [lo, hi] (bipolar: other than -1 and +1)."""
    N, F = q.shape
    bad = np.zeros(N, dtype=np.int64)
    for n in prange(N):
        c = 0
        for f in range(F):
            v = np.int64(q[n, f])
            c += (v < lo) | (v > hi) | (bipolar & (v == 0))
        bad[n] = c
    return bad.sum()
