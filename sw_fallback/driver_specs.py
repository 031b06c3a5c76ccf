"""What each kernel of the CPU backend calls, for the per-design driver (sw_fallback.driver): per kernel class,
the numba kernels it calls on a batch and the buffers it writes, as the step-by-step path (the kernel classes'
run / frames) calls them. Arguments: ("in", port, shape) / ("buf", i, shape): the input value / output buffer
reshaped to (n * shape[0], *shape[1:]) (shape[1] None: the value's width / shape[0]); ("c", value): a constant
(arrays become the driver's arguments, numbers literals)."""

from __future__ import annotations

import numpy as np

from sw_fallback import cnn
from sw_fallback import conv_kernels as CK
from sw_fallback import layout_kernels as LK
from sw_fallback import kernels as K
from sw_fallback import planar_kernels as PK
from sw_fallback import vnni as V
from sw_fallback.formats import Bits, Chw, is_int, words
from sw_fallback.mlp import LabelSelectKernel, MvauKernel, ThresholdsKernel


class Unsupported(Exception):
    pass


def _mvau(k, out_fmt):
    rpf = k.rows_per_frame()
    xin = ("in", 0, (rpf, None))
    if k.can_write_bits() and out_fmt == Bits(k.out_f):
        bufs = [((rpf * words(k.out_f),), np.uint64)]
        return [(K.mvau_xnor_bits, [xin, ("c", k.w), ("c", k.in_f), ("c", k.thr), ("buf", 0, (rpf, words(k.out_f)))])], bufs
    if not is_int(out_fmt):
        raise Unsupported("MVAU writing bits / planes through a conversion")
    out = ("buf", 0, (rpf, k.out_f))
    bufs = [((rpf * k.out_f,), out_fmt)]
    la = k.layer
    if k.kind == "bitserial":
        raise Unsupported("bit-plane input (3-d values)")
    if k.kind == "xnor":
        args = [xin, ("c", k.w), ("c", k.in_f), ("c", k.thr), ("c", la.out_base), ("c", k.out_bipolar), out]
        return [(K.mvau_xnor_int, args)], bufs
    if k.vnni is not None:
        args = [xin, ("c", k.vnni[0]), ("c", k.vnni[1]), ("c", k.vnni[2]), ("c", la.out_base), ("c", k.out_bipolar),
                out]
        return [(V.mvau_vnni, args)], bufs
    args = [xin, ("c", k.w), ("c", k.thr), ("c", la.out_base), ("c", k.out_bipolar), out]
    return [(K.MVAU_INT[k.acc_bits], args)], bufs


def _thresholds(k, out_fmt):
    if not is_int(out_fmt):
        raise Unsupported("thresholds writing bits")
    rpf = k.rows_per_frame()
    xin, out = ("in", 0, (rpf, None)), ("buf", 0, (rpf, k.out_f))
    la = k.layer
    if k.thrF is not None:
        L = k.frame_elems
        xf = ("in", 0, (1, L))
        call = (LK.add_thresholds_frame, [xf, xf, ("c", 1), ("c", 0)] + [("c", v) for v in k.thrF] + [
            ("c", la.out_base), ("c", k.out_bipolar), ("buf", 0, (1, L))])
        return [call], [((L,), out_fmt)]
    if k.thr.shape[1] <= LK.VEC_MAX_T and k.in_f == k.thr.shape[0]:
        call = (LK.thresholds_vec, [xin, ("c", k.thrT), ("c", la.out_base), ("c", k.out_bipolar), out])
    else:
        call = (K.thresholds, [xin, ("c", k.thr), ("c", la.out_base), ("c", k.out_bipolar), out])
    return [call], [((rpf * k.out_f,), out_fmt)]


def _label_select(k, out_fmt):
    if not is_int(out_fmt):
        raise Unsupported("label select writing bits")
    rpf = k.rows_per_frame()
    return ([(K.label_select, [("in", 0, (rpf, None)), ("c", k.layer.k), ("buf", 0, (rpf, k.out_f))])],
            [((rpf * k.out_f,), out_fmt)])


def _geom_args(g, pvals):
    return [("c", v) for v in g.args(pvals)]


def _img(g, cw=None, chw=False):
    if chw:  # (n * C, H, W): formats.Chw, told apart from the stream order by its rank
        return (g.channels, g.ifm[0], g.ifm[1])
    return (1, g.ifm[0], g.ifm[1], g.channels if cw is None else cw)


def _planar_out(k, out_fmt, channels):
    """A planar kernel's output argument and its buffer: (n * channels, OH, OW) for Chw (formats.Chw), else
    (n, OH, OW, channels)."""
    oh, ow = k.geom.ofm
    if isinstance(out_fmt, Chw):
        return ("buf", 0, (channels, oh, ow)), [((channels, oh, ow), out_fmt.dtype)]
    if not is_int(out_fmt):
        raise Unsupported("planar output format")
    return ("buf", 0, (1, oh, ow, channels)), [((oh, ow, channels), out_fmt)]


def _conv(k, out_fmt):
    g, la = k.geom, k.layer
    oh, ow = g.ofm
    if k.planar:
        out, bufs = _planar_out(k, out_fmt, la.mh)
        args = [("in", 0, _img(g, chw=k.chw_in))] + _geom_args(g, g.int_pads()) + [
            ("c", k.w), ("c", k.thrT), ("c", la.out_base), ("c", k.out_bipolar), ("c", k.acc_proto),
            ("c", k.lev_proto), out]
        return [(PK.conv_int_planar, args)], bufs
    packed = isinstance(out_fmt, Bits)
    o = la.mh
    width = words(o) if packed else o
    dt = np.uint64 if packed else out_fmt
    if not (packed or is_int(out_fmt)):
        raise Unsupported("conv output format")
    out = ("buf", 0, (1, oh, ow, width))
    bufs = [((oh, ow, width), dt)]
    if k.kind == "conv_xnor":
        cw = words(g.channels)
        args = [("in", 0, _img(g, cw))] + _geom_args(g, g.bit_pads()) + [
            ("c", k.w), ("c", g.window * g.channels), ("c", k.thrT), ("c", la.out_base), ("c", k.out_bipolar),
            ("c", packed), out]
        return [(CK.conv_xnor, args)], bufs
    args = [("in", 0, _img(g))] + _geom_args(g, g.int_pads()) + [
        ("c", k.w), ("c", k.thrT), ("c", la.out_base), ("c", k.out_bipolar), ("c", k.acc_proto), ("c", k.lev_proto),
        ("c", packed), out]
    return [(CK.conv_int, args)], bufs


def _pool(k, out_fmt):
    (oh, ow), (h, w), c = k.geom.ofm, k.src_hw, k.width
    if not (k.bits or is_int(out_fmt)):
        raise Unsupported("pool output format")
    dt = np.uint64 if k.bits else out_fmt
    x, out = ("in", 0, (1, h, w * c)), ("buf", 0, (1, oh, ow * c))
    tabs = [x, ("c", c)] + [("c", t) for t in k.taps] + [("c", k.pvals)]
    if k.is_max:
        return [(LK.pool_max, tabs + [out])], [((oh, ow * c), dt)]
    return [(LK.pool_avg, tabs + [("c", v) for v in k.avg_args] + [("c", k.acc_proto), out])], [((oh, ow * c), dt)]


def _vvau(k, out_fmt):
    g, la = k.geom, k.layer
    if k._order()[0] != "window" and not k.kind.endswith("_fused"):
        raise Unsupported("depthwise-order window stream")
    out, bufs = _planar_out(k, out_fmt, g.channels)
    args = [("in", 0, _img(g, chw=k.chw_in))] + _geom_args(g, g.int_pads()) + [
        ("c", k.w), ("c", k.thr), ("c", la.out_base), ("c", bool(la.out_dtype.bipolar)),
        ("c", k.acc_proto), ("c", k.lev_proto), out]
    return [(PK.dwconv_int_planar, args)], bufs


def _pad(k, out_fmt):
    g = k.geom
    t, l, b, r = g.pads
    if not is_int(out_fmt):
        raise Unsupported("pad output format")
    shape = (g.ifm[0] + t + b, g.ifm[1] + l + r, g.channels)
    args = [("in", 0, _img(g)), ("c", t), ("c", l), ("c", g.int_pads()), ("buf", 0, (1,) + shape)]
    return [(CK.pad_frames, args)], [(shape, out_fmt)]


def _swg(k, out_fmt):
    g = k.window_geom
    if k.stream_order[0] != "window" or not is_int(out_fmt):
        raise Unsupported("window stream order / format")
    oh, ow = g.ofm
    shape = (oh, ow, g.window * g.channels)
    args = [("in", 0, _img(g))] + _geom_args(g, g.int_pads()) + [("buf", 0, (1,) + shape)]
    return [(CK.sliding_window, args)], [(shape, out_fmt)]


def _add(k, out_fmt):
    la = k.layer
    if not is_int(out_fmt):
        raise Unsupported("add output format")
    pix = la.in_port(0)[2] // la.channels
    shape = (pix, la.channels)
    a, b = ("in", 0, (1,) + shape), ("in", 1, (1,) + shape)
    bip = bool(la.out_dtype.bipolar)
    if k.thrF is not None:
        L = k.frame_elems
        call = (LK.add_thresholds_frame, [("in", 0, (1, L)), ("in", 1, (1, L)), ("c", la.a_mul), ("c", la.b_mul)] + [
            ("c", v) for v in k.thrF] + [("c", la.out_base), ("c", bip), ("buf", 0, (1, L))])
        return [call], [((L,), out_fmt)]
    if k.thr.shape[1] <= LK.VEC_MAX_T:
        call = (LK.add_streams_vec, [a, b, ("c", la.a_mul), ("c", la.b_mul), ("c", k.thrT), ("c", la.out_base),
                                     ("c", bip), ("buf", 0, (1,) + shape)])
    else:
        call = (LK.add_streams, [a, b, ("c", la.a_mul), ("c", la.b_mul), ("c", k.thr), ("c", la.out_base),
                                 ("c", bip), ("buf", 0, (1,) + shape)])
    return [call], [(shape, out_fmt)]


def _concat(k, out_fmt):
    la = k.layer
    if not is_int(out_fmt):
        raise Unsupported("concat output format")
    shape = (la.num_vectors, la.channels)
    calls, off = [], 0
    for p, c in enumerate(la.channels_in):
        calls.append((LK.concat_into, [("in", p, (1, la.num_vectors, c)), ("c", off), ("buf", 0, (1,) + shape)]))
        off += c
    return calls, [(shape, out_fmt)]


def _upsample(k, out_fmt):
    la = k.layer
    if not is_int(out_fmt):
        raise Unsupported("upsample output format")
    (h, w), (fh, fw), c = la.ifm, la.factor, la.channels
    shape = (h * fh, w * fw * c)
    args = [("in", 0, (1, h, w * c)), ("c", c), ("c", fh), ("c", fw), ("buf", 0, (1,) + shape)]
    return [(LK.upsample, args)], [(shape, out_fmt)]


SPECS = {MvauKernel: _mvau, ThresholdsKernel: _thresholds, LabelSelectKernel: _label_select,
         cnn.ConvKernel: _conv, cnn.PoolKernel: _pool, cnn.VvauKernel: _vvau, cnn.PadKernel: _pad,
         cnn.SwgKernel: _swg, cnn.AddStreamsKernel: _add, cnn.ConcatKernel: _concat, cnn.UpsampleKernel: _upsample}
