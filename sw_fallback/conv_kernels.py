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
def channel_level(a, thr, o, out_base, out_bipolar):
    if thr.shape[1] == 0:
        return np.int64(a)
    c = _count_le(thr[o], np.int64(a))
    return 2 * c - 1 if out_bipolar else out_base + c


@njit(inline="always", **OPTS)
def levels_vec(acc, thrT, out_base, out_bipolar, lev):
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
# layout kernels: padding, the standalone sliding window (upsampling, concat, pools, element-wise kinds: in
# sw_fallback.layout_kernels)


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
                levels_vec(acc, thrT, out_base, out_bipolar, lev)
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
                levels_vec(acc, thrT, out_base, out_bipolar, lev)
                _store(out, n, oy, ox, lev, pack)
