"""The channel-planar integer convolution of the CPU backend (few output channels; also the depthwise VVAU),
bit-exact with hwgen/layers/conv_kernels.py.

The padded image is held channel-planar, so that for one output channel and one kernel tap the output plane is a
multiply-add over one contiguous run of positions: long vectorized loops however few the channels. Strides are
taken out of the runs by splitting the padded image into its stride phases (space to depth): phase (py, px) holds
the pixels (y, x) with y % sh == py and x % sw == px, as a (ceil(Hp / sh), ceil(Wp / sw)) plane. Output (oy, ox)
reads tap (ky, kx) at phase ((ky*dh) % sh, (kx*dw) % sw), plane position (oy + ky*dh // sh, ox + kx*dw // sw): a
stride-1 conv of that plane, so every tap is one run of the plane's width Wq per output row and a strided conv
computes only the positions it keeps (plus the Wq - OW past each row's end).

Small images: G frames' planes are laid end to end (G * Hq * Wq <= PLANAR_GROUP) and one run covers them all (the
positions between two frames are computed and dropped), so an 8x8 image still gets runs of ~2,000 positions.
Runs are rounded up to PLANAR_LANES positions (the planes carry that much slack, zero-initialised) so that the
vectorized loop never falls into a scalar remainder, and dense convs update PLANAR_OB output channels per pass
over a run, each input vector loaded once for all of them.

Accumulators are in acc_proto's type: sums are exact modulo 2^bits (two's complement wrap-around of the partial
sums cancels out once the final dot product fits, see kernels.py), the garbage of dropped positions included.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sw_fallback.conv_kernels import acc_cast
from sw_fallback.kernels import OPTS

PLANAR_GROUP = 2048  # positions per pass: frames of small images are laid end to end up to this
PLANAR_LANES = 64  # runs are a multiple of this many positions (no scalar remainder in the vectorized loops)
PLANAR_OB = 4  # output channels of a dense conv updated per pass over a run


@njit(inline="always", **OPTS)
def _fill_phases(x, n, gi, F, t, l, pvals, hp, wp, sh, sw, wq, xpl):
    """Frame n's padded image into slot gi of the phase planes xpl (sh*sw*C, G*F + slack) (phase by phase, row by
    row: no division per pixel)."""
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    for py in range(sh):
        for r in range((hp - py + sh - 1) // sh):
            y = r * sh + py
            inside = t <= y < t + H
            for px in range(sw):
                pl = (py * sw + px) * C
                base = gi * F + r * wq
                for cx in range((wp - px + sw - 1) // sw):
                    xx = cx * sw + px
                    if inside and l <= xx < l + W:
                        src = x[n, y - t, xx - l]
                        for c in range(C):
                            xpl[pl + c, base + cx] = src[c]
                    else:
                        for c in range(C):
                            xpl[pl + c, base + cx] = pvals[c]


@njit(**OPTS)
def conv_int_planar(x, t, l, pvals, hp, wp, kh, kw, sh, sw, dh, dw, w, depthwise, thr, out_base, out_bipolar,
                    acc_proto, lev_proto, out):
    """Direct conv for few output channels: x (N, H, W, C) integers; w (O, KH*KW*C) in window order, or
    (depthwise: output o reads channel o only) (C, KH*KW); thr (O, T) in the accumulator type (acc_proto's),
    levels in lev_proto's type -> out (N, OH, OW, O)."""
    N, H, W, C = x.shape
    O = w.shape[0]
    OH, OW = out.shape[1], out.shape[2]
    hq, wq = (hp + sh - 1) // sh, (wp + sw - 1) // sw
    F = hq * wq
    P1 = (OH - 1) * wq + OW
    T = thr.shape[1]
    G = max(1, min(N, PLANAR_GROUP // F))
    K = kh * kw
    # tap k = ky * kw + kx: its phase's first plane and its offset in the phase plane
    tplane = np.empty(K, dtype=np.int64)
    toff = np.empty(K, dtype=np.int64)
    for ky in range(kh):
        for kx in range(kw):
            a, b = ky * dh, kx * dw
            tplane[ky * kw + kx] = ((a % sh) * sw + b % sw) * C
            toff[ky * kw + kx] = (a // sh) * wq + b // sw
    L = (G * F + 2 * PLANAR_LANES - 1) // PLANAR_LANES * PLANAR_LANES
    L += PLANAR_LANES * (1 - (L // PLANAR_LANES) % 2)  # an odd number of 128-byte (int16) rows: rows a
    xpl = np.zeros((sh * sw * C, L), dtype=x.dtype)  # pixel's channels scatter to stay in different L1 sets
    acc = np.zeros((PLANAR_OB, L), dtype=acc_proto.dtype)
    z = acc_proto.dtype.type(0)
    Q = OH * OW
    lev = np.zeros((O, L), dtype=lev_proto.dtype)
    lz = lev_proto.dtype.type(0)
    lbase = acc_cast(lz, out_base)
    outf = out.reshape(N * Q, O)
    for n0 in range(0, N, G):
        g = min(G, N - n0)
        P = (g - 1) * F + P1
        PR = (P + PLANAR_LANES - 1) // PLANAR_LANES * PLANAR_LANES
        for gi in range(g):
            _fill_phases(x, n0 + gi, gi, F, t, l, pvals, hp, wp, sh, sw, wq, xpl)
        OB = 1 if depthwise else PLANAR_OB
        for o0 in range(0, O, OB):
            ob = min(OB, O - o0)
            if ob == 4:
                a0, a1, a2, a3 = acc[0], acc[1], acc[2], acc[3]
                a0[:PR] = 0
                a1[:PR] = 0
                a2[:PR] = 0
                a3[:PR] = 0
                for k in range(K):
                    off = toff[k]
                    for c in range(C):
                        i = k * C + c
                        w0, w1 = acc_cast(z, w[o0, i]), acc_cast(z, w[o0 + 1, i])
                        w2, w3 = acc_cast(z, w[o0 + 2, i]), acc_cast(z, w[o0 + 3, i])
                        src = xpl[tplane[k] + c, off:off + PR]
                        for p in range(PR):
                            s = acc_cast(z, src[p])
                            a0[p] = acc_cast(z, a0[p] + w0 * s)
                            a1[p] = acc_cast(z, a1[p] + w1 * s)
                            a2[p] = acc_cast(z, a2[p] + w2 * s)
                            a3[p] = acc_cast(z, a3[p] + w3 * s)
            else:
                for j in range(ob):
                    o = o0 + j
                    aj = acc[j]
                    aj[:PR] = 0
                    c0, c1 = (o, o + 1) if depthwise else (0, C)
                    for k in range(K):
                        off = toff[k]
                        for c in range(c0, c1):
                            wv = acc_cast(z, w[o, k if depthwise else k * C + c])
                            src = xpl[tplane[k] + c, off:off + PR]
                            for p in range(PR):
                                aj[p] = acc_cast(z, aj[p] + wv * acc_cast(z, src[p]))
            # levels over the whole run (the dropped positions' too: cheaper than compacting the kept ones first)
            for j in range(ob):
                o = o0 + j
                aj = acc[j]
                lv = lev[o]
                if T == 0:
                    for p in range(PR):
                        lv[p] = acc_cast(lz, aj[p])
                else:
                    lv[:PR] = 0
                    for jt in range(T):
                        tv = acc_cast(z, thr[o, jt])
                        for p in range(PR):
                            lv[p] = acc_cast(lz, lv[p] + (aj[p] >= tv))
                    if out_bipolar:
                        for p in range(PR):
                            lv[p] = acc_cast(lz, 2 * lv[p] - 1)
                    else:
                        for p in range(PR):
                            lv[p] = acc_cast(lz, lv[p] + lbase)
        # the kept positions' levels, all channels of a pixel together, into the output pixels
        for gi in range(g):
            for oy in range(OH):
                r = gi * F + oy * wq
                q = ((n0 + gi) * OH + oy) * OW
                for ox in range(OW):
                    orow = outf[q + ox]
                    for o in range(O):
                        orow[o] = lev[o, r + ox]
