"""numba kernels of the CPU backend for convolutional hardware graphs (NHWC frames, batch first), bit-exact with
hwgen/layers/conv_kernels.py.

Sliding-window kernels never build the im2col matrix of a frame: each image is copied once into a padded buffer
(Hp, Wp, C) (pad pixels = the pad value; the line buffer's job), and each output pixel reads its KH*KW input
pixels straight from it. Integer convs broadcast each window element into a multiply-add over the output
channels (vectorized over them; few output channels: planar_kernels.py); the accumulator type is the narrowest holding the final dot product (exact modulo 2^bits, see kernels.py),
chosen by the dtype of the `acc_proto` argument (an empty int16 / int32 / int64 array).
Thresholds are counted for all channels of a pixel at once over a (T, channels) table (no per-channel search). Binary (BIPOLAR x BIPOLAR)
convs read pixels bit-packed (channel c in word c // 64, bit c % 64, padding bits 0 in inputs and weights) and
count XNOR-popcounts: acc = KH*KW*C - 2 * popcount(x ^ w). Every kernel loops over the batch single-threaded (the backend's threads run tiles of frames).

Outputs are levels (thresholds fused: out_base + #passed, or -1/+1), or, with `pack`, BIPOLAR levels written
bit-packed per pixel for the next binary layer.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

from sw_fallback.kernels import OPTS, popcount64
from sw_fallback.kernels import count_le as _count_le

# rounding modes of QONNX Trunc (hwgen.layers.conv_kernels.shift_round) as kernel codes
ROUNDING_CODES = {"FLOOR": 0, "CEIL": 1, "DOWN": 2, "UP": 3, "ROUND": 4, "HALF_EVEN": 4, "HALF_UP": 5,
                  "HALF_DOWN": 6}


@intrinsic
def acc_cast(typingctx, like, v):
    """v converted (two's complement truncation) to the integer type of `like`."""
    if not isinstance(like, types.Integer) or not isinstance(v, types.Integer):
        return None
    sig = like(like, v)

    def codegen(context, builder, signature, args):
        return context.cast(builder, args[1], signature.args[1], signature.return_type)

    return sig, codegen


@njit(inline="always", **OPTS)
def _level(a, thr, o, out_base, out_bipolar):
    if thr.shape[1] == 0:
        return np.int64(a)
    c = _count_le(thr[o], np.int64(a))
    return 2 * c - 1 if out_bipolar else out_base + c


@njit(inline="always", **OPTS)
def _levels_vec(acc, thrT, out_base, out_bipolar, lev):
    """lev[o] = the level of acc[o] under thresholds thrT (T, O) (column o ascending), counted for all channels
    at once (vectorized over o: no per-channel search); T == 0: lev = acc."""
    O = acc.shape[0]
    T = thrT.shape[0]
    if T == 0:
        for o in range(O):
            lev[o] = acc[o]
        return
    for o in range(O):
        lev[o] = 0
    for j in range(T):
        tr = thrT[j]
        for o in range(O):
            lev[o] += acc[o] >= tr[o]
    if out_bipolar:
        for o in range(O):
            lev[o] = 2 * lev[o] - 1
    else:
        for o in range(O):
            lev[o] += out_base


@njit(inline="always", **OPTS)
def _fill_padded(src, t, l, pvals, dst):
    """dst (Hp, Wp, C) = src (H, W, C) at offset (t, l), every other pixel = pvals (C,)."""
    Hp, Wp, C = dst.shape
    H, W = src.shape[0], src.shape[1]
    for y in range(Hp):
        for x in range(Wp):
            if t <= y < t + H and l <= x < l + W:
                for c in range(C):
                    dst[y, x, c] = src[y - t, x - l, c]
            else:
                for c in range(C):
                    dst[y, x, c] = pvals[c]


@njit(inline="always", **OPTS)
def _gather(xp, y0, x0, kh, kw, dh, dw, buf):
    """The window whose top-left input pixel is (y0, x0), in window order (ky, kx, c), into buf (KH*KW*C,)."""
    C = xp.shape[2]
    i = 0
    for ky in range(kh):
        for kx in range(kw):
            px = xp[y0 + ky * dh, x0 + kx * dw]
            for c in range(C):
                buf[i + c] = px[c]
            i += C


@njit(inline="always", **OPTS)
def _store(out, n, oy, ox, lev, pack):
    """One pixel's levels (O,) into out: as integers, or (pack) BIPOLAR bit-packed (bit 1 = +1)."""
    O = lev.shape[0]
    if pack:
        for wo in range((O + 63) // 64):
            word = np.uint64(0)
            for b in range(min(64, O - wo * 64)):
                if lev[wo * 64 + b] > 0:
                    word |= np.uint64(1) << np.uint64(b)
            out[n, oy, ox, wo] = word
    else:
        for o in range(O):
            out[n, oy, ox, o] = lev[o]


# ----------------------------------------------------------------------------------------------------------------
# layout kernels: padding, the standalone sliding window, upsampling, concat, add


@njit(**OPTS)
def pad_frames(x, t, l, pvals, out):
    for n in prange(x.shape[0]):
        _fill_padded(x[n], t, l, pvals, out[n])


@njit(**OPTS)
def sliding_window(x, t, l, pvals, hp, wp, kh, kw, sh, sw, dh, dw, out):
    """x (N, H, W, C) -> out (N, OH, OW, KH*KW*C): the generator's window stream (padding included)."""
    N, C = x.shape[0], x.shape[3]
    OH, OW = out.shape[1], out.shape[2]
    for n in prange(N):
        xp = np.empty((hp, wp, C), dtype=x.dtype)
        _fill_padded(x[n], t, l, pvals, xp)
        for oy in range(OH):
            for ox in range(OW):
                _gather(xp, oy * sh, ox * sw, kh, kw, dh, dw, out[n, oy, ox])


@njit(**OPTS)
def upsample(x, fh, fw, out):
    N, H, W, C = x.shape
    for n in prange(N):
        for y in range(H * fh):
            for xx in range(W * fw):
                for c in range(C):
                    out[n, y, xx, c] = x[n, y // fh, xx // fw, c]


@njit(**OPTS)
def concat_into(x, offset, out):
    """x (N, P, Ci) -> out[:, :, offset:offset + Ci]."""
    N, P, Ci = x.shape
    for n in prange(N):
        for p in range(P):
            for c in range(Ci):
                out[n, p, offset + c] = x[n, p, c]


@njit(**OPTS)
def add_streams(a, b, a_mul, b_mul, thr, out_base, out_bipolar, out):
    """a, b, out (N, P, C): a * a_mul + b * b_mul, then optional thresholds (C, T)."""
    N, P, C = a.shape
    for n in prange(N):
        for p in range(P):
            for c in range(C):
                acc = np.int64(a[n, p, c]) * a_mul + np.int64(b[n, p, c]) * b_mul
                out[n, p, c] = _level(acc, thr, c, out_base, out_bipolar)


# ----------------------------------------------------------------------------------------------------------------
# fused sliding window + matrix / vector / pool units


@njit(**OPTS)
def conv_int(x, t, l, pvals, hp, wp, kh, kw, sh, sw, dh, dw, wT, thrT, out_base, out_bipolar, acc_proto, lev_proto,
             pack, out):
    """Direct conv: x (N, H, W, C) integers, wT (KH*KW*C, O) in window order -> out (N, OH, OW, O) levels (or,
    with pack, (N, OH, OW, ceil(O/64)) BIPOLAR bits). Each input element of a window is broadcast into a
    multiply-add over a row of wT (vectorized over the output channels), in the dtype of acc_proto; thresholds
    thrT (T, O); levels in the dtype of lev_proto (holding the accumulators when there are no thresholds)."""
    N, C = x.shape[0], x.shape[3]
    O = wT.shape[1]
    OH, OW = out.shape[1], out.shape[2]
    for n in prange(N):
        xp = np.empty((hp, wp, C), dtype=x.dtype)
        _fill_padded(x[n], t, l, pvals, xp)
        acc = np.zeros(O, dtype=acc_proto.dtype)
        z = acc[0]
        lev = np.empty(O, dtype=lev_proto.dtype)
        for oy in range(OH):
            for ox in range(OW):
                acc[:] = 0
                k = 0
                for ky in range(kh):
                    for kx in range(kw):
                        px = xp[oy * sh + ky * dh, ox * sw + kx * dw]
                        for c in range(C):
                            xv = acc_cast(z, px[c])
                            wr = wT[k]
                            for o in range(O):
                                acc[o] = acc_cast(z, acc[o] + xv * acc_cast(z, wr[o]))
                            k += 1
                _levels_vec(acc, thrT, out_base, out_bipolar, lev)
                _store(out, n, oy, ox, lev, pack)


@njit(**OPTS)
def conv_xnor(x, t, l, pvals, hp, wp, kh, kw, sh, sw, dh, dw, wT, kc, thrT, out_base, out_bipolar, pack, out):
    """Binary direct conv: x (N, H, W, CW) packed pixels, wT (KH*KW*CW, O) packed weights, one row per kernel
    position and word; kc = KH*KW*C (the true dot-product length) -> out as conv_int. Each input word is
    XNOR-popcounted against a row of wT, vectorized over the output channels."""
    N, CW = x.shape[0], x.shape[3]
    O = wT.shape[1]
    OH, OW = out.shape[1], out.shape[2]
    for n in prange(N):
        xp = np.empty((hp, wp, CW), dtype=np.uint64)
        _fill_padded(x[n], t, l, pvals, xp)
        ham = np.zeros(O, dtype=np.uint64)
        acc = np.empty(O, dtype=np.int64)
        lev = np.empty(O, dtype=np.int32)
        for oy in range(OH):
            for ox in range(OW):
                ham[:] = 0
                k = 0
                for ky in range(kh):
                    for kx in range(kw):
                        px = xp[oy * sh + ky * dh, ox * sw + kx * dw]
                        for c in range(CW):
                            xv = px[c]
                            wr = wT[k]
                            for o in range(O):
                                ham[o] += popcount64(xv ^ wr[o])
                            k += 1
                for o in range(O):
                    acc[o] = np.int64(kc) - 2 * np.int64(ham[o])
                _levels_vec(acc, thrT, out_base, out_bipolar, lev)
                _store(out, n, oy, ox, lev, pack)


@njit(inline="always", **OPTS)
def shift_round(acc, shift, mode):
    """acc / 2**shift rounded as hwgen.layers.conv_kernels.shift_round (mode: ROUNDING_CODES)."""
    if shift <= 0:
        return acc << -shift
    q = acc >> shift  # floor
    r = acc - (q << shift)  # in [0, 2**shift)
    d = np.int64(1) << shift
    above = r > 0
    neg = acc < 0
    if mode == 0:
        return q
    if mode == 1:
        return q + above
    if mode == 2:
        return q + (above and neg)
    if mode == 3:
        return q + (above and not neg)
    half = 2 * r > d
    tie = 2 * r == d
    if mode == 4:
        return q + (half or (tie and (q & 1) == 1))
    if mode == 5:
        return q + (half or (tie and not neg))
    return q + (half or (tie and neg))


@njit(**OPTS)
def pool_max(x, t, l, pvals, hp, wp, kh, kw, sh, sw, dh, dw, out):
    """Max pool over windows read in place: x (N, H, W, C) -> out (N, OH, OW, C). (Max and average are two
    kernels: a model compiles only the one it runs.)"""
    N, C = x.shape[0], x.shape[3]
    OH, OW = out.shape[1], out.shape[2]
    for n in prange(N):
        xp = np.empty((hp, wp, C), dtype=x.dtype)
        _fill_padded(x[n], t, l, pvals, xp)
        for oy in range(OH):
            for ox in range(OW):
                y0, x0 = oy * sh, ox * sw
                row = out[n, oy, ox]  # the max in the input's own type, straight into the output row
                first = xp[y0, x0]
                for c in range(C):
                    row[c] = first[c]
                for ky in range(kh):
                    for kx in range(kw):
                        px = xp[y0 + ky * dh, x0 + kx * dw]
                        for c in range(C):
                            row[c] = max(row[c], px[c])


@njit(**OPTS)
def pool_avg(x, t, l, pvals, hp, wp, kh, kw, sh, sw, dh, dw, shift, mode, lo, hi, out):
    """Trunc-average pool over windows read in place: x (N, H, W, C) -> out (N, OH, OW, C), the window sum
    shifted right as shift_round, clamped into [lo, hi]."""
    N, C = x.shape[0], x.shape[3]
    OH, OW = out.shape[1], out.shape[2]
    for n in prange(N):
        xp = np.empty((hp, wp, C), dtype=x.dtype)
        _fill_padded(x[n], t, l, pvals, xp)
        acc = np.empty(C, dtype=np.int64)
        for oy in range(OH):
            for ox in range(OW):
                y0, x0 = oy * sh, ox * sw
                acc[:] = 0
                for ky in range(kh):
                    for kx in range(kw):
                        px = xp[y0 + ky * dh, x0 + kx * dw]
                        for c in range(C):
                            acc[c] += px[c]
                for c in range(C):
                    out[n, oy, ox, c] = min(max(shift_round(acc[c], shift, mode), lo), hi)


@njit(**OPTS)
def pool_or_bits(x, t, l, pvals, hp, wp, kh, kw, sh, sw, dh, dw, out):
    """Max pool of BIPOLAR pixels, bit-packed: the max of -1/+1 values is the OR of their bits."""
    N, CW = x.shape[0], x.shape[3]
    OH, OW = out.shape[1], out.shape[2]
    for n in prange(N):
        xp = np.empty((hp, wp, CW), dtype=np.uint64)
        _fill_padded(x[n], t, l, pvals, xp)
        for oy in range(OH):
            for ox in range(OW):
                for c in range(CW):
                    v = np.uint64(0)
                    for ky in range(kh):
                        for kx in range(kw):
                            v |= xp[oy * sh + ky * dh, ox * sw + kx * dw, c]
                    out[n, oy, ox, c] = v


# ----------------------------------------------------------------------------------------------------------------
# element-wise kinds, vectorized over the channels of a pixel (thresholds counted as _levels_vec does)

VEC_MAX_T = 32  # thresholds per channel up to which counting them all (SIMD) beats a search per element


@njit(**OPTS)
def thresholds_vec(x, thrT, out_base, out_bipolar, out):
    """x (R, C) -> out (R, C) levels under thrT (T, C): the count for all C channels of a row at once."""
    R, C = x.shape
    acc = np.empty(C, dtype=np.int64)
    lev = np.empty(C, dtype=np.int64)
    for r in range(R):
        for c in range(C):
            acc[c] = x[r, c]
        _levels_vec(acc, thrT, out_base, out_bipolar, lev)
        for c in range(C):
            out[r, c] = lev[c]


@njit(**OPTS)
def add_streams_vec(a, b, a_mul, b_mul, thrT, out_base, out_bipolar, out):
    """As add_streams, thresholds thrT (T, C) counted for all channels of a pixel at once."""
    N, P, C = a.shape
    acc = np.empty(C, dtype=np.int64)
    lev = np.empty(C, dtype=np.int64)
    for n in range(N):
        for p in range(P):
            for c in range(C):
                acc[c] = np.int64(a[n, p, c]) * a_mul + np.int64(b[n, p, c]) * b_mul
            _levels_vec(acc, thrT, out_base, out_bipolar, lev)
            for c in range(C):
                out[n, p, c] = lev[c]


FRAME_THR_MAX = 1 << 16  # thresholds x elements per frame up to which a frame-wide threshold table is kept


def frame_thresholds(thr, lo, hi, elems):
    """Thresholds (C, T) of channels repeating along a frame of `elems` elements (C innermost) as a frame-wide
    (T, elems) int32 table, clamped into [lo, hi + 1] (exact for values in [lo, hi]: a threshold below every
    value is always passed, one above never), or None (no thresholds, a table too large, or a range beyond int32)."""
    if thr is None or thr.shape[1] == 0 or elems % thr.shape[0] or thr.shape[1] * elems > FRAME_THR_MAX:
        return None
    if lo < -(2 ** 31) + 1 or hi > 2 ** 31 - 2:
        return None
    t = np.clip(np.asarray(thr, dtype=np.int64), lo, hi + 1).T  # (T, C)
    return np.ascontiguousarray(np.tile(t, (1, elems // thr.shape[0])).astype(np.int32))


@njit(**OPTS)
def add_thresholds_frame(a, b, a_mul, b_mul, thrF, out_base, out_bipolar, out):
    """out (N, L) = levels of a * a_mul + b * b_mul (int32: the caller checked the range) under the frame-wide
    table thrF (T, L): one long vectorized pass per threshold over the whole frame (a channel's few thresholds
    counted for 16 channels at a time left the SIMD lanes mostly idle). Thresholding alone: b = a, b_mul = 0."""
    N, L = out.shape
    T = thrF.shape[0]
    acc = np.empty(L, dtype=np.int32)
    lev = np.empty(L, dtype=np.int32)
    am, bm = np.int32(a_mul), np.int32(b_mul)
    for n in range(N):
        for i in range(L):
            acc[i] = np.int32(a[n, i]) * am + np.int32(b[n, i]) * bm
            lev[i] = 0
        for j in range(T):
            tr = thrF[j]
            for i in range(L):
                lev[i] += np.int32(acc[i] >= tr[i])
        if out_bipolar:
            for i in range(L):
                out[n, i] = 2 * lev[i] - 1
        else:
            for i in range(L):
                out[n, i] = lev[i] + out_base
