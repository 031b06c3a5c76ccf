"""The channel-planar integer convolution of the CPU backend (few output channels; also the depthwise VVAU),
bit-exact with hwgen/layers/conv_kernels.py.

The padded image is held channel-planar, so that for one output channel and one kernel tap the output plane is a
multiply-add over one contiguous run of positions: long vectorized loops however few the channels. Strides are
taken out of the runs by splitting the padded image into its stride phases (space to depth): phase (py, px) holds
the pixels (y, x) with y % sh == py and x % sw == px, as a (ceil(Hp / sh), ceil(Wp / sw)) plane. Output (oy, ox)
reads tap (ky, kx) at phase ((ky*dh) % sh, (kx*dw) % sw), plane position (oy + ky*dh // sh, ox + kx*dw // sw): a
stride-1 conv of that plane, so every tap is one run over the plane's rows and a strided conv computes only the
positions it keeps (plus the few past each row's end). With stride 1, neighbouring rows and frames share their
pad columns and rows (see _plan).

Small images: G frames' planes are laid end to end (G * Hq * Wq <= PLANAR_GROUP) and one run covers them all (the
positions between two frames are computed and dropped), so an 8x8 image still gets runs of ~2,000 positions.
Runs are rounded up to PLANAR_LANES positions (the planes carry that much slack) so that the
vectorized loop never falls into a scalar remainder. Dense convs update PLANAR_OB (4) output channels with four
window elements per pass over a run: each input vector loaded once for 4 channels, each accumulator loaded and
stored once per 4 multiply-adds (register blocking measured 1.3x on resnet's 16-channel 3x3 convs).

Accumulators are in acc_proto's type: sums are exact modulo 2^bits (two's complement wrap-around of the partial
sums cancels out once the final dot product fits, see kernels.py), the garbage of dropped positions included.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sw_fallback.conv_kernels import acc_cast
from sw_fallback.kernels import OPTS

PLANAR_GROUP = 2048  # positions per pass: frames of small images are laid end to end up to this
PLANAR_LANES = 16  # runs are a multiple of this many positions (no scalar remainder in the vectorized loops;
# 16 (one 256-bit int16 vector) measured 5-10 % faster than 64 at batch 1, equal at batch 1,000)
PLANE_ALIGN = 64  # plane rows are an odd multiple of this many elements apart
PLANAR_OB = 4  # output channels of a dense conv updated per pass over a run (four window elements at a time)


@njit(inline="always", **OPTS)
def _fill_chw(x, n, gi, F, t, l, pvals, hp, wp, sh, sw, wr, used, xpl, z):
    """As _fill_stream from a Chw image x (N*C, H, W) (formats.Chw): each plane row is a run of one image row, a
    plain copy at stride 1."""
    # per channel and phase: the frame's slot set to the pad value (one loop), then each image row's run copied
    # in (one loop for the whole image when it has no pad and stride 1). Flat arrays and unsigned indices: a
    # signed index costs a wrap-around test per element, and a view per row costs more than an 8-pixel row
    C, H, W = pvals.shape[0], x.shape[1], x.shape[2]
    L = xpl.shape[1]
    xf, pf = x.reshape(x.size), xpl.reshape(xpl.size)
    whole = sh == 1 and sw == 1 and hp == H and wp == W and wr == W
    for c in range(C):
        pv = acc_cast(z, pvals[c])
        src0 = (n * C + c) * H * W
        if whole:
            d = c * L + gi * F
            for i in range(H * W):
                pf[np.uint64(d + i)] = acc_cast(z, xf[np.uint64(src0 + i)])
            continue
        for py in range(sh):
            nr = (hp - py + sh - 1) // sh
            for px in range(sw):
                if not (used >> (py * sw + px)) & 1:
                    continue
                nx = (wp - px + sw - 1) // sw
                b0 = ((py * sw + px) * C + c) * L + gi * F
                for i in range((nr - 1) * wr + nx):
                    pf[np.uint64(b0 + i)] = pv
                # the image columns of this phase: xx = cx * sw + px - l for cx in [c0, c1)
                c0 = min(nx, max(0, (l - px + sw - 1) // sw))
                c1 = max(c0, min(nx, (l + W - px + sw - 1) // sw))
                s0 = src0 + c0 * sw + px - l
                for r in range((t - py + sh - 1) // sh if t > py else 0, nr):
                    y = r * sh + py - t
                    if y >= H:
                        break
                    d, sy = b0 + r * wr + c0, s0 + y * W
                    if sw == 1:
                        for i in range(c1 - c0):
                            pf[np.uint64(d + i)] = acc_cast(z, xf[np.uint64(sy + i)])
                    else:
                        for i in range(c1 - c0):
                            pf[np.uint64(d + i)] = acc_cast(z, xf[np.uint64(sy + i * sw)])


@njit(inline="always", **OPTS)
def _fill_stream(x, n, gi, F, t, l, pvals, hp, wp, sh, sw, wr, used, xpl, z):
    """Frame n's padded image x[n] (N, H, W, C) into slot gi of the phase planes xpl (sh*sw*C, G*F + slack) (phase
    by phase, row by row: no division per pixel), in the accumulator type of z (int8 operands widened here once,
    not in every multiply-add: int8 planes made the blocked multiply-add loops 1.7x slower). Phases no tap reads
    (a 1x1 stride-2 conv reads one of four) are left out."""
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    C4 = C - C % 4
    for py in range(sh):
        for r in range((hp - py + sh - 1) // sh):
            y = r * sh + py
            inside = t <= y < t + H
            for px in range(sw):
                if not (used >> (py * sw + px)) & 1:
                    continue
                pl = (py * sw + px) * C
                base = gi * F + r * wr
                for cx in range((wp - px + sw - 1) // sw):
                    xx = cx * sw + px
                    if inside and l <= xx < l + W:
                        src = x[n, y - t, xx - l]
                        for c in range(0, C4, 4):  # four channels per step (measured up to 1.1x faster)
                            v0, v1, v2, v3 = src[c], src[c + 1], src[c + 2], src[c + 3]
                            xpl[pl + c, base + cx] = acc_cast(z, v0)
                            xpl[pl + c + 1, base + cx] = acc_cast(z, v1)
                            xpl[pl + c + 2, base + cx] = acc_cast(z, v2)
                            xpl[pl + c + 3, base + cx] = acc_cast(z, v3)
                        for c in range(C4, C):
                            xpl[pl + c, base + cx] = acc_cast(z, src[c])
                    else:
                        for c in range(C):
                            xpl[pl + c, base + cx] = acc_cast(z, pvals[c])


@njit(inline="always", **OPTS)
def _plan(x, N, C, t, l, hp, wp, kh, kw, sh, sw, dh, dw, out, KCp, acc_proto, lev_proto, O):
    """The geometry of a call: plane pitches, frames per pass, the tap tables and the scratch planes. KCp: a dense
    conv's window elements padded to a multiple of 4 (0 for a depthwise one)."""
    H, W, OH, OW = x.shape[1], x.shape[2], out.shape[1], out.shape[2]  # (either layout: (N[*C], H, W[, C]))
    hq, wq = (hp + sh - 1) // sh, (wp + sw - 1) // sw
    # stride 1: pad shared between neighbours. The plane's row pitch wr leaves out min(left, right) pad columns
    # (a row's right pad columns are the next row's left ones, the same pad values), a frame's slot leaves out
    # min(top, bottom) pad rows (its bottom pad rows are the next frame's top ones): fewer positions per run
    # (resnet's 8x8 images: 81 instead of 100), every window still reading its own frame's pixels and pads
    shr = min(t, hp - H - t) if sh == 1 else 0
    shc = min(l, wp - W - l) if sw == 1 else 0
    wr = wq - shc
    F = (hq - shr) * wr
    G = max(1, min(N, PLANAR_GROUP // F))
    K = kh * kw
    # per-call tables in one allocation (a batch-1 call is a few microseconds: each allocation counts):
    # tap k = ky * kw + kx: its phase's first plane and its offset in the phase plane; window element i = k * C + c
    # (dense convs only): its plane row and offset (the padding elements past K * C: row 0 at 0, a weight of 0)
    tabs = np.zeros(2 * K + 2 * KCp, dtype=np.int64)
    tplane, toff = tabs[:K], tabs[K:2 * K]
    trow, toffs = tabs[2 * K:2 * K + KCp], tabs[2 * K + KCp:]
    for ky in range(kh):
        for kx in range(kw):
            a, b = ky * dh, kx * dw
            tplane[ky * kw + kx] = ((a % sh) * sw + b % sw) * C
            toff[ky * kw + kx] = (a // sh) * wr + b // sw
    used = 0  # the phases some tap reads, a bit each (not an array: one allocation less)
    for k in range(K):
        used |= 1 << (tplane[k] // C)
    if KCp:
        for k in range(K):  # (nested loops, not a division per element: measured at batch 1)
            for c in range(C):
                trow[k * C + c] = tplane[k] + c
                toffs[k * C + c] = toff[k]
    L = ((G - 1) * F + hq * wr + shc + PLANAR_LANES + PLANE_ALIGN - 1) // PLANE_ALIGN * PLANE_ALIGN
    L += PLANE_ALIGN * (1 - (L // PLANE_ALIGN) % 2)  # an odd number of 128-byte (int16) lines: rows a
    # pixel's channels scatter to stay in different L1 sets. Nothing here is zeroed up front: the fill writes
    # every plane position a kept output reads (pads included); what it leaves (phase gaps, the slack past the
    # last frame, unused phases) only reaches dropped positions, whose garbage wraps like any other (see above).
    # acc and lev rows are set over [0, PR) before they are read.
    planes = np.empty((sh * sw * C + PLANAR_OB, L), dtype=acc_proto.dtype)  # (one allocation for both)
    xpl, acc = planes[:sh * sw * C], planes[sh * sw * C:]
    lev = np.empty(((O + PLANAR_OB - 1) // PLANAR_OB * PLANAR_OB, L), dtype=lev_proto.dtype)  # (see _levels)
    return wr, F, G, (OH - 1) * wr + OW, tplane, toff, trow, toffs, used, xpl, acc, lev


@njit(inline="always", **OPTS)
def _levels(acc, lev, o0, PR, thr, out_bipolar, lbase, z, lz):
    """Output channels o0 .. o0+3's accumulators (acc rows 0 .. 3) to levels over the whole run (the dropped
    positions' too: cheaper than compacting the kept ones first). Always four channels: thr and lev have their
    rows padded to a multiple of 4 (a padded channel's level is computed from a stale accumulator row and never
    gathered), thr's thresholds to a multiple of 4 with ones never passed (cnn.planar_thresholds). Four thresholds
    of each channel per pass: a run of a few positions (batch 1) takes a quarter of the passes, and each pass
    loads an accumulator once for four compares."""
    T = thr.shape[1]
    base = acc_cast(lz, 0) if out_bipolar else lbase
    if T == 0:
        for j in range(PLANAR_OB):
            aj, lv = acc[j], lev[o0 + j]
            for p in range(PR):
                lv[p] = acc_cast(lz, aj[p])
        return
    a0, a1, a2, a3 = acc[0], acc[1], acc[2], acc[3]
    l0, l1, l2, l3 = lev[o0], lev[o0 + 1], lev[o0 + 2], lev[o0 + 3]
    for jt in range(0, T, 4):
        t00, t01, t02, t03 = (acc_cast(z, thr[o0, jt]), acc_cast(z, thr[o0, jt + 1]),
                              acc_cast(z, thr[o0, jt + 2]), acc_cast(z, thr[o0, jt + 3]))
        t10, t11, t12, t13 = (acc_cast(z, thr[o0 + 1, jt]), acc_cast(z, thr[o0 + 1, jt + 1]),
                              acc_cast(z, thr[o0 + 1, jt + 2]), acc_cast(z, thr[o0 + 1, jt + 3]))
        t20, t21, t22, t23 = (acc_cast(z, thr[o0 + 2, jt]), acc_cast(z, thr[o0 + 2, jt + 1]),
                              acc_cast(z, thr[o0 + 2, jt + 2]), acc_cast(z, thr[o0 + 2, jt + 3]))
        t30, t31, t32, t33 = (acc_cast(z, thr[o0 + 3, jt]), acc_cast(z, thr[o0 + 3, jt + 1]),
                              acc_cast(z, thr[o0 + 3, jt + 2]), acc_cast(z, thr[o0 + 3, jt + 3]))
        if jt == 0:  # (the first pass writes: no pass setting the base first)
            for p in range(PR):
                x0, x1, x2, x3 = a0[p], a1[p], a2[p], a3[p]
                l0[p] = acc_cast(lz, base + (x0 >= t00) + (x0 >= t01) + (x0 >= t02) + (x0 >= t03))
                l1[p] = acc_cast(lz, base + (x1 >= t10) + (x1 >= t11) + (x1 >= t12) + (x1 >= t13))
                l2[p] = acc_cast(lz, base + (x2 >= t20) + (x2 >= t21) + (x2 >= t22) + (x2 >= t23))
                l3[p] = acc_cast(lz, base + (x3 >= t30) + (x3 >= t31) + (x3 >= t32) + (x3 >= t33))
        else:
            for p in range(PR):
                x0, x1, x2, x3 = a0[p], a1[p], a2[p], a3[p]
                l0[p] = acc_cast(lz, l0[p] + (x0 >= t00) + (x0 >= t01) + (x0 >= t02) + (x0 >= t03))
                l1[p] = acc_cast(lz, l1[p] + (x1 >= t10) + (x1 >= t11) + (x1 >= t12) + (x1 >= t13))
                l2[p] = acc_cast(lz, l2[p] + (x2 >= t20) + (x2 >= t21) + (x2 >= t22) + (x2 >= t23))
                l3[p] = acc_cast(lz, l3[p] + (x3 >= t30) + (x3 >= t31) + (x3 >= t32) + (x3 >= t33))
    if out_bipolar:
        for j in range(PLANAR_OB):
            lv = lev[o0 + j]
            for p in range(PR):
                lv[p] = acc_cast(lz, 2 * lv[p] - 1)


@njit(inline="always", **OPTS)
def _gather_stream(lev, out, n0, g, F, wr, O):
    """The kept positions' levels of frames n0 .. n0+g-1 into their output pixels of out (N, OH, OW, O), a
    channel's output row at a time (contiguous reads, stores O apart: measured faster than a pixel's channels at
    a time). O: the channels (lev's rows past them are padding)."""
    N, OH, OW = out.shape[0], out.shape[1], out.shape[2]
    outf = out.reshape(N * OH * OW, O)
    for gi in range(g):
        for oy in range(OH):
            r = gi * F + oy * wr
            q = ((n0 + gi) * OH + oy) * OW
            for o in range(O):
                lrow = lev[o, r:r + OW]
                for ox in range(OW):
                    outf[q + ox, o] = lrow[ox]


@njit(inline="always", **OPTS)
def _gather_chw(lev, out, n0, g, F, wr, O):
    """As _gather_stream into a Chw out (N*O, OH, OW) (formats.Chw): each output row a contiguous copy."""
    OH, OW = out.shape[1], out.shape[2]
    for gi in range(g):
        for o in range(O):
            dst = out[(n0 + gi) * O + o]
            for oy in range(OH):
                r = gi * F + oy * wr
                lrow, drow = lev[o, r:r + OW], dst[oy]
                for ox in range(OW):
                    drow[ox] = lrow[ox]


# The dense and the depthwise conv are two kernels sharing the helpers above (inlined): a model without depthwise
# convs compiles only the dense one (each specialization is seconds of LLVM at a cold start). The layouts are in
# the arrays' ranks (a Chw image is (N*C, H, W), a stream-order one (N, H, W, C)): a rank is a compile-time
# constant that numba's branch pruning reads before typing, so each layout pair is its own specialization without
# the other layouts' code (a model whose planar convs all read and write the stream order compiles what it did
# before Chw existed).

@njit(**OPTS)
def conv_int_planar(x, t, l, pvals, hp, wp, kh, kw, sh, sw, dh, dw, w, thr, out_base, out_bipolar,
                    acc_proto, lev_proto, out):
    """Dense direct conv for few output channels: x (N, H, W, C) integers; w (O4, KCp) in window order, zero-padded
    to multiples of 4 (cnn.planar_weights): four channels x four window elements per pass, no remainder passes;
    thr (O4, T4) in the accumulator type (acc_proto's; cnn.planar_thresholds), levels in lev_proto's type -> out
    (N, OH, OW, O). Or Chw (formats.Chw): x (N*C, H, W), out (N*O, OH, OW)."""
    C = pvals.shape[0]
    N = x.shape[0] // C if x.ndim == 3 else x.shape[0]
    O = out.shape[0] // N if out.ndim == 3 else out.shape[3]
    wr, F, G, P1, tplane, toff, trow, toffs, used, xpl, acc, lev = _plan(
        x, N, C, t, l, hp, wp, kh, kw, sh, sw, dh, dw, out, w.shape[1], acc_proto, lev_proto, O)
    z = acc_proto.dtype.type(0)
    lz = lev_proto.dtype.type(0)
    lbase = acc_cast(lz, out_base)
    KCp = w.shape[1]
    for n0 in range(0, N, G):
        g = min(G, N - n0)
        P = (g - 1) * F + P1
        PR = (P + PLANAR_LANES - 1) // PLANAR_LANES * PLANAR_LANES
        for gi in range(g):  # (x.ndim is a constant: numba prunes the other layout's branch before typing)
            if x.ndim == 3:
                _fill_chw(x, n0 + gi, gi, F, t, l, pvals, hp, wp, sh, sw, wr, used, xpl, z)
            else:
                _fill_stream(x, n0 + gi, gi, F, t, l, pvals, hp, wp, sh, sw, wr, used, xpl, z)
        for o0 in range(0, O, PLANAR_OB):  # (w's rows padded to a multiple of 4 with zero weights)
            a0, a1, a2, a3 = acc[0], acc[1], acc[2], acc[3]
            a0[:PR] = 0
            a1[:PR] = 0
            a2[:PR] = 0
            a3[:PR] = 0
            # four window elements per pass: each accumulator loaded and stored once per four multiply-adds
            for i in range(0, KCp, 4):
                sa = xpl[trow[i], toffs[i]:toffs[i] + PR]
                sb = xpl[trow[i + 1], toffs[i + 1]:toffs[i + 1] + PR]
                sc = xpl[trow[i + 2], toffs[i + 2]:toffs[i + 2] + PR]
                sd = xpl[trow[i + 3], toffs[i + 3]:toffs[i + 3] + PR]
                w0 = w[o0, i:i + 4]
                w1 = w[o0 + 1, i:i + 4]
                w2 = w[o0 + 2, i:i + 4]
                w3 = w[o0 + 3, i:i + 4]
                w00, w01, w02, w03 = acc_cast(z, w0[0]), acc_cast(z, w0[1]), acc_cast(z, w0[2]), acc_cast(z, w0[3])
                w10, w11, w12, w13 = acc_cast(z, w1[0]), acc_cast(z, w1[1]), acc_cast(z, w1[2]), acc_cast(z, w1[3])
                w20, w21, w22, w23 = acc_cast(z, w2[0]), acc_cast(z, w2[1]), acc_cast(z, w2[2]), acc_cast(z, w2[3])
                w30, w31, w32, w33 = acc_cast(z, w3[0]), acc_cast(z, w3[1]), acc_cast(z, w3[2]), acc_cast(z, w3[3])
                for p in range(PR):
                    ea, eb = acc_cast(z, sa[p]), acc_cast(z, sb[p])
                    ec, ed = acc_cast(z, sc[p]), acc_cast(z, sd[p])
                    a0[p] = acc_cast(z, a0[p] + w00 * ea + w01 * eb + w02 * ec + w03 * ed)
                    a1[p] = acc_cast(z, a1[p] + w10 * ea + w11 * eb + w12 * ec + w13 * ed)
                    a2[p] = acc_cast(z, a2[p] + w20 * ea + w21 * eb + w22 * ec + w23 * ed)
                    a3[p] = acc_cast(z, a3[p] + w30 * ea + w31 * eb + w32 * ec + w33 * ed)
            _levels(acc, lev, o0, PR, thr, out_bipolar, lbase, z, lz)
        if out.ndim == 3:
            _gather_chw(lev, out, n0, g, F, wr, O)
        else:
            _gather_stream(lev, out, n0, g, F, wr, O)


@njit(**OPTS)
def dwconv_int_planar(x, t, l, pvals, hp, wp, kh, kw, sh, sw, dh, dw, w, thr, out_base, out_bipolar,
                      acc_proto, lev_proto, out):
    """Depthwise direct conv (output o reads channel o only): x (N, H, W, C) integers; w (C, KH*KW); thr (C4, T4)
    in the accumulator type (acc_proto's; cnn.planar_thresholds), levels in lev_proto's type -> out
    (N, OH, OW, C). Chw: as conv_int_planar."""
    C = pvals.shape[0]
    N = x.shape[0] // C if x.ndim == 3 else x.shape[0]
    O = w.shape[0]
    wr, F, G, P1, tplane, toff, trow, toffs, used, xpl, acc, lev = _plan(
        x, N, C, t, l, hp, wp, kh, kw, sh, sw, dh, dw, out, 0, acc_proto, lev_proto, O)
    z = acc_proto.dtype.type(0)
    lz = lev_proto.dtype.type(0)
    lbase = acc_cast(lz, out_base)
    K = kh * kw
    K3 = K - K % 3
    for n0 in range(0, N, G):
        g = min(G, N - n0)
        P = (g - 1) * F + P1
        PR = (P + PLANAR_LANES - 1) // PLANAR_LANES * PLANAR_LANES
        for gi in range(g):  # (x.ndim is a constant: numba prunes the other layout's branch before typing)
            if x.ndim == 3:
                _fill_chw(x, n0 + gi, gi, F, t, l, pvals, hp, wp, sh, sw, wr, used, xpl, z)
            else:
                _fill_stream(x, n0 + gi, gi, F, t, l, pvals, hp, wp, sh, sw, wr, used, xpl, z)
        for o0 in range(0, O, PLANAR_OB):  # channels four at a time (their levels in one call)
            ob = min(PLANAR_OB, O - o0)
            for j in range(ob):  # a channel's window elements three per pass (3x3: one per row)
                c = o0 + j
                aj = acc[j]
                if K3 == 0:
                    aj[:PR] = 0
                for k in range(0, K3, 3):
                    u0, u1, u2 = acc_cast(z, w[c, k]), acc_cast(z, w[c, k + 1]), acc_cast(z, w[c, k + 2])
                    sa = xpl[tplane[k] + c, toff[k]:toff[k] + PR]
                    sb = xpl[tplane[k + 1] + c, toff[k + 1]:toff[k + 1] + PR]
                    sc = xpl[tplane[k + 2] + c, toff[k + 2]:toff[k + 2] + PR]
                    if k == 0:  # (the first pass writes: no zeroing pass)
                        for p in range(PR):
                            aj[p] = acc_cast(z, u0 * acc_cast(z, sa[p]) + u1 * acc_cast(z, sb[p])
                                             + u2 * acc_cast(z, sc[p]))
                    else:
                        for p in range(PR):
                            aj[p] = acc_cast(z, aj[p] + u0 * acc_cast(z, sa[p]) + u1 * acc_cast(z, sb[p])
                                             + u2 * acc_cast(z, sc[p]))
                for k in range(K3, K):
                    u0 = acc_cast(z, w[c, k])
                    sa = xpl[tplane[k] + c, toff[k]:toff[k] + PR]
                    for p in range(PR):
                        aj[p] = acc_cast(z, aj[p] + u0 * acc_cast(z, sa[p]))
            _levels(acc, lev, o0, PR, thr, out_bipolar, lbase, z, lz)
        if out.ndim == 3:
            _gather_chw(lev, out, n0, g, F, wr, O)
        else:
            _gather_stream(lev, out, n0, g, F, wr, O)

