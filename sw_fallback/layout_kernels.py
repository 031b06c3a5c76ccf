"""numba kernels of the CPU backend for the layout and element-wise kinds (NHWC frames, batch first): pools,
nearest upsampling, concat, add-streams and thresholds, bit-exact with hwgen/layers/conv_kernels.py.

These kernels move little arithmetic over many small pixels, so their speed is in the memory access: pools are
separable (a whole contiguous row reduced over the window's rows, then each output pixel over the row's pixels)
and read the image in place through index tables (padding and a nearest upsampling in front are only tables:
no padded or upsampled copy is made); thresholds are counted in the narrowest integer type that holds them.
Every loop indexes sliced views by its own counter: an index like `i + C` makes numba check for negative indices,
and LLVM then leaves the loop scalar (about 20x slower on int8 rows). Every kernel loops over the batch
single-threaded (the backend's threads run tiles of frames).
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from sw_fallback.conv_kernels import channel_level, levels_vec
from sw_fallback.kernels import OPTS

# rounding modes of QONNX Trunc (hwgen.layers.conv_kernels.shift_round) as kernel codes
ROUNDING_CODES = {"FLOOR": 0, "CEIL": 1, "DOWN": 2, "UP": 3, "ROUND": 4, "HALF_EVEN": 4, "HALF_UP": 5,
                  "HALF_DOWN": 6}



@njit(**OPTS)
def upsample(x, C, fh, fw, out):
    """Nearest upsampling: x (N, H, W*C) -> out (N, H*fh, W*fw*C). Each source row is widened once (each pixel's C
    channels copied fw times) into its first output row, which is then copied whole (one contiguous block) to
    the fh - 1 rows below it. (Loops index sliced views by their own counters: see _reduce_columns.)"""
    N, H, WC = x.shape
    W = WC // C
    for n in range(N):
        for y in range(H):
            src, row = x[n, y], out[n, y * fh]
            for xx in range(W):
                px = src[xx * C:(xx + 1) * C]
                for j in range(fw):
                    d = row[(xx * fw + j) * C:(xx * fw + j + 1) * C]
                    for c in range(C):
                        d[c] = px[c]
            for k in range(1, fh):
                dst = out[n, y * fh + k]
                for i in range(row.shape[0]):
                    dst[i] = row[i]


@njit(**OPTS)
def concat_into(x, offset, out):
    """x (N, P, Ci) -> out[:, :, offset:offset + Ci]."""
    N, P, Ci = x.shape
    for n in range(N):
        xn, on = x[n], out[n]
        for p in range(P):
            src, dst = xn[p], on[p, offset:offset + Ci]
            for c in range(Ci):
                dst[c] = src[c]


@njit(**OPTS)
def add_streams(a, b, a_mul, b_mul, thr, out_base, out_bipolar, out):
    """a, b, out (N, P, C): a * a_mul + b * b_mul, then optional thresholds (C, T)."""
    N, P, C = a.shape
    for n in range(N):
        for p in range(P):
            for c in range(C):
                acc = np.int64(a[n, p, c]) * a_mul + np.int64(b[n, p, c]) * b_mul
                out[n, p, c] = channel_level(acc, thr, c, out_base, out_bipolar)


SLIDE_GATHER_RATIO = 4  # a gathered element costs about this many elements of a vectorized pass over a row


def _window_taps(n_out, k, stride, dil, pad, size, f, dedupe):
    """Per output position along one axis, the source positions its window reads on an image upsampled (nearest)
    by f before the padding: -1 / the source size for the pads before / after; each listed once with dedupe."""
    src, taps = size // f, []
    for o in range(n_out):
        vs = [o * stride + i * dil - pad for i in range(k)]
        t = [v // f if 0 <= v < size else (-1 if v < 0 else src) for v in vs]
        taps.append(list(dict.fromkeys(t)) if dedupe else t)
    return taps


def pool_taps(g, width, factor=(1, 1), dedupe=True, itemsize=1):
    """The tables of the separable pool kernels (pool_max / pool_avg) for the window g over pixels of `width`
    elements, read on the image before a nearest upsampling by `factor`: rows (OH, 1 + KH) int64 [count, source
    row, ...] (H: a pad row); hidx (K, OW * width) uint32, the element of [pad pixel, W pixels, pad pixel] each
    output element reads for each of its K pixels, and hrun: when every window is a run of r adjacent pixels
    (hidx: the run's first pixel), r when the kernel slides over whole rows first, -r when it reduces each output
    pixel's run of contiguous pixels (pixels of >= 16 bytes: vectorized over the channels; or few outputs), else 1. `dedupe` (max:
    idempotent) lists each source once; a sum keeps every tap."""
    (oh, ow), (h, w) = g.ofm, g.ifm
    rt = _window_taps(oh, g.kernel[0], g.stride[0], g.dilation[0], g.pads[0], h, factor[0], dedupe)
    rows = np.zeros((oh, 1 + max(len(t) for t in rt)), dtype=np.int64)
    for o, t in enumerate(rt):
        t = [h // factor[0] if v < 0 else v for v in t]
        rows[o, 0], rows[o, 1:1 + len(t)] = len(t), t
    ct = [[v + 1 for v in t] for t in _window_taps(ow, g.kernel[1], g.stride[1], g.dilation[1], g.pads[1], w,
                                                    factor[1], dedupe)]
    run = len(ct[0])
    if run > 1 and all(sorted(t) == list(range(min(t), min(t) + run)) for t in ct):
        # sliding over the whole row costs (run - 1) passes of (W + 2) pixels, vectorized; gathering, run scalar
        # reads per output element; pixels of 16 bytes or more are reduced as whole contiguous vectors
        slide = width * itemsize < 16 and (run - 1) * (w // factor[1] + 2) <= SLIDE_GATHER_RATIO * run * ow
        ct, hrun = [[min(t)] for t in ct], (run if slide else -run)
    else:
        hrun = 1
    k = max(len(t) for t in ct)
    hidx = np.empty((k, ow * width), dtype=np.uint32)  # (unsigned: no negative-index check)
    lane = np.arange(width)
    for o, t in enumerate(ct):
        for i in range(k):  # (a shorter list repeats its first pixel: only with dedupe, for the max)
            hidx[i, o * width:(o + 1) * width] = (t[i] if i < len(t) else t[0]) * width + lane
    return rows, hidx, hrun


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


def _merge_max(a, b):
    """max(a, b); on uint64 words (BIPOLAR pixels bit-packed, bit 1 = +1) the max of -1/+1 values: a | b."""


@overload(_merge_max)
def _merge_max_impl(a, b):
    if isinstance(a, types.Integer) and not a.signed:
        def bits_or(a, b):
            return a | b
        return bits_or

    def larger(a, b):
        return max(a, b)
    return larger


@njit(inline="always", **OPTS)
def _reduce_columns(v, C, hidx, hrun, m, orow):
    """orow (OW*C) = the horizontal max (OR on uint64 words) over a row v of pixels. Every window a run of |hrun|
    adjacent pixels starting at hidx[0] (hidx (1, OW*C): the element each output element reads): hrun > 1, a
    sliding max over whole contiguous rows into m, then one gather; hrun < -1 (few outputs or wide pixels), per
    output pixel the max of |hrun| contiguous pixels; else (hrun 1) the max over the hidx rows' gathers. (Every loop indexes by its
    own counter over sliced views: an index like i + C makes numba check for negative indices, and the loop
    then stays scalar.)"""
    if hrun < -1:
        i0 = hidx[0]
        for o in range(0, orow.shape[0], C):
            dst, b = orow[o:o + C], i0[o]
            first = v[b:b + C]
            for c in range(C):
                dst[c] = first[c]
            for k in range(1, -hrun):
                px = v[b + k * C:b + (k + 1) * C]
                for c in range(C):
                    dst[c] = _merge_max(dst[c], px[c])
        return
    src = v
    if hrun > 1:
        L = v.shape[0]
        for k in range(1, hrun):
            a, b, d = (v if k == 1 else m)[:L - k * C], v[k * C:], m[:L - k * C]
            for i in range(L - k * C):
                d[i] = _merge_max(a[i], b[i])
        src = m
    i0 = hidx[0]
    for j in range(orow.shape[0]):
        orow[j] = src[i0[j]]
    for k in range(1, hidx.shape[0]):
        ik = hidx[k]
        for j in range(orow.shape[0]):
            orow[j] = _merge_max(orow[j], src[ik[j]])


@njit(**OPTS)
def pool_max(x, C, rows, hidx, hrun, pvals, out):
    """Max pool, separable: x (N, H, W*C) the source image (rows of W pixels of C channels, read in place: no
    padded copy) -> out (N, OH, OW*C). Output row oy is first the max over its window's source rows
    rows[oy, 1:1 + rows[oy, 0]] (H: a pad row) over whole contiguous rows, into v = [pad pixel, W pixels, pad
    pixel]; then each output pixel the max over its pixels of v (_reduce_columns). The tables (pool_taps) carry
    the window's stride, dilation, padding, and an upsampling in front (a source row / column read for several
    outputs). On uint64 words (BIPOLAR pixels bit-packed) the max is the OR of the bits."""
    N, H, WC = x.shape
    OH = rows.shape[0]
    v = np.empty(WC + 2 * C, dtype=x.dtype)
    m = np.empty(WC + 2 * C, dtype=x.dtype)
    pad_row = np.empty(WC, dtype=x.dtype)
    for j in range(WC):
        pad_row[j] = pvals[j % C]
    for c in range(C):
        v[c] = pvals[c]
        v[WC + C + c] = pvals[c]
    vin = v[C:C + WC]
    for n in range(N):
        xn, on = x[n], out[n]
        for oy in range(OH):
            r = rows[oy, 1]
            src = xn[r] if r < H else pad_row
            for j in range(WC):
                vin[j] = src[j]
            for k in range(2, rows[oy, 0] + 1):
                r = rows[oy, k]
                src = xn[r] if r < H else pad_row
                for j in range(WC):
                    vin[j] = _merge_max(vin[j], src[j])
            _reduce_columns(v, C, hidx, hrun, m, on[oy])


@njit(**OPTS)
def pool_avg(x, C, rows, hidx, hrun, pvals, shift, mode, lo, hi, acc_proto, out):
    """Trunc-average pool, separable as pool_max (every window tap in the tables, repeats included): the window
    sum (in the dtype of acc_proto, holding it) shifted right as shift_round, clamped into [lo, hi]."""
    N, H, WC = x.shape
    OH = rows.shape[0]
    OWC = out.shape[2]
    v = np.empty(WC + 2 * C, dtype=acc_proto.dtype)
    m = np.empty(WC + 2 * C, dtype=acc_proto.dtype)
    h = np.empty(OWC, dtype=acc_proto.dtype)
    pad_row = np.empty(WC, dtype=acc_proto.dtype)
    for j in range(WC):
        pad_row[j] = pvals[j % C]
    vin, L = v[C:C + WC], v.shape[0]
    for n in range(N):
        xn, on = x[n], out[n]
        for oy in range(OH):
            nr = rows[oy, 0]
            for j in range(WC):
                vin[j] = 0
            for k in range(1, nr + 1):
                r = rows[oy, k]
                if r < H:
                    src = xn[r]
                    for j in range(WC):
                        vin[j] += src[j]
                else:
                    for j in range(WC):
                        vin[j] += pad_row[j]
            for c in range(C):  # the pad pixels: nr pad values each
                v[c] = nr * pvals[c]
                v[WC + C + c] = nr * pvals[c]
            srcv = v
            if hrun > 1:  # sliding sums over runs of hrun adjacent pixels
                a, b = v[:L - C], v[C:]
                for i in range(L - C):
                    m[i] = a[i] + b[i]
                for k in range(2, hrun):
                    b, d = v[k * C:], m[:L - k * C]
                    for i in range(L - k * C):
                        d[i] += b[i]
                srcv = m
            for j in range(OWC):
                h[j] = 0
            if hrun < -1:  # per output pixel, the sum of its run of contiguous pixels
                i0 = hidx[0]
                for o in range(0, OWC, C):
                    dst, b = h[o:o + C], i0[o]
                    for k in range(-hrun):
                        px = v[b + k * C:b + (k + 1) * C]
                        for c in range(C):
                            dst[c] += px[c]
            else:
                for k in range(hidx.shape[0]):
                    ik = hidx[k]
                    for j in range(OWC):
                        h[j] += srcv[ik[j]]
            orow = on[oy]
            for j in range(OWC):
                orow[j] = min(max(shift_round(np.int64(h[j]), shift, mode), lo), hi)


# ----------------------------------------------------------------------------------------------------------------
# element-wise kinds, vectorized over the channels of a pixel (thresholds counted as levels_vec does)

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
        levels_vec(acc, thrT, out_base, out_bipolar, lev)
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
            levels_vec(acc, thrT, out_base, out_bipolar, lev)
            for c in range(C):
                out[n, p, c] = lev[c]


FRAME_THR_MAX = 1 << 16  # thresholds x elements per frame up to which a frame-wide threshold table is kept


def frame_thresholds(thr, lo, hi, elems):
    """Thresholds (C, T) of channels repeating along a frame of `elems` elements (C innermost) as the arguments of
    add_thresholds_frame (thrF, off, clo, chi), or None (no thresholds, a table too large, or a range beyond
    int32). thrF (T, elems) is the frame-wide table clamped into [lo, hi + 1] (exact for values in [lo, hi]: a
    threshold below every value is always passed, one above never) minus `off`, in the narrowest type holding
    [min - 1, max] of the table (int8 when the thresholds span at most 255: 32 lanes per AVX2 compare); the kernel
    then clamps each sum minus off into [clo, chi] = [min - 1, max] of the table, which passes the same
    thresholds."""
    if thr is None or thr.shape[1] == 0 or elems % thr.shape[0] or thr.shape[1] * elems > FRAME_THR_MAX:
        return None
    if lo < -(2 ** 31) + 1 or hi > 2 ** 31 - 2 or hi - lo > 2 ** 30:  # (sums minus off stay in int32)
        return None
    t = np.clip(np.asarray(thr, dtype=np.int64), lo, hi + 1).T  # (T, C)
    tmin, tmax = int(t.min()), int(t.max())
    n_thr = t.shape[0]
    for dt in (np.int8, np.int16, np.int32):  # the levels (counts up to T) are counted in the table's type too
        info = np.iinfo(dt)
        if tmax - tmin + 1 <= info.max - info.min and n_thr < info.max:
            break
    off = tmin - 1 - int(np.iinfo(dt).min)
    table = np.ascontiguousarray(np.tile(t - off, (1, elems // thr.shape[0])).astype(dt))
    return table, off, tmin - 1 - off, tmax - off


@njit(**OPTS)
def add_thresholds_frame(a, b, a_mul, b_mul, thrF, off, clo, chi, out_base, out_bipolar, out):
    """out (N, L) = levels of a * a_mul + b * b_mul (int32: the caller checked the range) under the frame-wide
    table thrF (T, L) (frame_thresholds: the sums minus off, clamped into [clo, chi], in the table's narrow
    type): one long vectorized pass per threshold over the whole frame (a channel's few thresholds counted for
    16 channels at a time left the SIMD lanes mostly idle). Thresholding alone: b = a, b_mul = 0."""
    N, L = out.shape
    T = thrF.shape[0]
    acc = np.empty(L, dtype=thrF.dtype)
    lev = np.empty(L, dtype=thrF.dtype)
    am, bm, o, lo, hi = np.int32(a_mul), np.int32(b_mul), np.int32(off), np.int32(clo), np.int32(chi)
    for n in range(N):
        an, bn, on = a[n], b[n], out[n]
        for i in range(L):
            s = np.int32(an[i]) * am + np.int32(bn[i]) * bm - o
            acc[i] = min(max(s, lo), hi)
            lev[i] = 0
        for j in range(T):
            tr = thrF[j]
            for i in range(L):
                lev[i] += acc[i] >= tr[i]
        if out_bipolar:
            for i in range(L):
                on[i] = 2 * np.int32(lev[i]) - 1
        else:
            for i in range(L):
                on[i] = np.int32(lev[i]) + out_base
