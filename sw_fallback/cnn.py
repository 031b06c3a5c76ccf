"""CPU kernels of the convolutional kinds (NHWC frames), and the fusion of sliding windows into their consumers.

Every kernel here works on whole frames: a value is (N, elements per frame) in stream (NHWC) order, or bit-packed
per pixel (Bits(C)) for BIPOLAR data. Fusion is asked of the kernels, never decided on the kinds: a Pad kernel
offers its padding (`pad_source`), a sliding-window kernel its window geometry (`window_geom`), and the kernel
consuming them (`fuse_input`) returns one kernel that reads the producer's input directly:
    Pad -> SWG                    -> a padded SWG
    [Pad ->] SWG -> MVAU          -> a direct conv (XNOR-popcount on packed pixels when binary)
    [Pad ->] SWG -> VVAU          -> a direct depthwise conv
    [Pad ->] SWG -> Pool          -> a direct pool (max of BIPOLAR pixels: OR of their bits)
so no window stream (im2col) is ever materialised for them.
"""

from __future__ import annotations

import functools

import numpy as np

from hwgen.layers import conv_kernels as ck
from sw_fallback import conv_kernels as CK
from sw_fallback import layout_kernels as LK
from sw_fallback import planar_kernels as PK
from sw_fallback.formats import Bits, Chw, int_type, is_int, pack_const, words
from sw_fallback.mlp import Kernel, thr_array


PLANAR_MAX_CHANNELS = 32  # integer convs with fewer output channels run channel-planar...
PLANAR_MAX_STRIDE = 4  # ... when stride_h * stride_w is at most this (the image held as that many phase planes)
CHW_STRIDED_MAX_CHANNELS = 4  # a strided planar conv reads a channel-planar image (formats.Chw) up to this many
CHW_STRIDED_MIN_ROW = 8  # channels, or when its phase planes' rows are at least this many pixels (see PlanarIO)


class Geometry:
    """A sliding window over an (H, W, C) image with (top, left, bottom, right) padding of `pad_value`."""

    def __init__(self, ifm, channels, kernel, stride=(1, 1), dilation=(1, 1), pads=(0, 0, 0, 0), pad_value=0):
        self.ifm, self.channels = tuple(int(v) for v in ifm), int(channels)
        self.kernel, self.stride, self.dilation = ck.pair(kernel), ck.pair(stride), ck.pair(dilation)
        self.pads, self.pad_value = tuple(int(p) for p in pads), int(pad_value)

    @functools.cached_property  # (a Geometry never changes: computed once, not per call)
    def ofm(self):
        return ck.out_shape(self.ifm, self.kernel, self.stride, self.dilation, self.pads)

    @property
    def window(self) -> int:
        return self.kernel[0] * self.kernel[1]

    def padded(self, pads, pad_value) -> "Geometry":
        """This window read through a Pad in front (only onto an unpadded window)."""
        t, l, b, r = pads
        return Geometry((self.ifm[0] - t - b, self.ifm[1] - l - r), self.channels, self.kernel, self.stride,
                        self.dilation, pads, pad_value)

    def args(self, pvals) -> tuple:
        """The kernels' geometry arguments: t, l, pvals, hp, wp, kh, kw, sh, sw, dh, dw."""
        t, l, b, r = self.pads
        return (t, l, pvals, self.ifm[0] + t + b, self.ifm[1] + l + r, *self.kernel, *self.stride, *self.dilation)

    def int_pads(self) -> np.ndarray:
        if "_int_pads" not in self.__dict__:  # read-only for the kernels: one array for every call
            self._int_pads = np.full(self.channels, self.pad_value, dtype=np.int64)
        return self._int_pads

    def bit_pads(self) -> np.ndarray:
        if "_bit_pads" not in self.__dict__:
            self._bit_pads = pack_const(np.full((1, self.channels), 1 if self.pad_value > 0 else -1, dtype=np.int8))[0]
        return self._bit_pads

    def image(self, x, n, cw=None, chw=False):
        """x as (n, H, W, C words) images, or (n * C, H, W) channel images when chw (formats.Chw; the planar kernels
        tell the layouts apart by rank)."""
        if chw:
            return x.reshape(n * self.channels, self.ifm[0], self.ifm[1])
        return x.reshape(n, self.ifm[0], self.ifm[1], self.channels if cw is None else cw)


def thresholds_by_column(thr, acc_range) -> np.ndarray:
    """Thresholds (C, T) as a (T, C) table for the vectorized count, clamped into [acc min, acc max + 1] (exact:
    a threshold below every accumulator is always passed, one above never) in the narrowest type holding that."""
    lo, hi = (np.asarray(v, dtype=np.int64) for v in acc_range)
    if thr is None:
        return np.zeros((0, lo.shape[0]), dtype=np.int64)
    t = np.clip(np.asarray(thr, dtype=np.int64), lo[:, None], hi[:, None] + 1)
    return np.ascontiguousarray(t.T.astype(int_type(int(t.min(initial=0)), int(t.max(initial=0)))))


def planar_level_type(acc_t, n_thresholds, out_base):
    """The planar kernel's level type: the accumulator's own width when it is 16 bits and the levels (out_base +
    up to T thresholds passed, or -1 / +1) fit it (twice the lanes of int32 in its threshold count), else int32 /
    int64."""
    if np.dtype(acc_t) == np.int16 and abs(int(out_base)) + int(n_thresholds) + 1 < 2 ** 15:
        return np.int16
    return np.int64 if np.dtype(acc_t) == np.int64 else np.int32


def planar_thresholds(thrT, acc_t) -> np.ndarray:
    """Thresholds (T, C) as the planar kernels' (C4, T4) table in the accumulator type, C and T padded to
    multiples of 4 with the type's maximum, which no accumulator reaches (the type holds acc max + 1:
    thresholds_by_column): the kernels count four channels x four thresholds per pass, no remainder pass."""
    c, t = thrT.shape[1], thrT.shape[0]
    out = np.full((-(-c // PK.PLANAR_OB) * PK.PLANAR_OB, -(-t // 4) * 4), np.iinfo(acc_t).max, dtype=acc_t)
    out[:c, :t] = thrT.T
    return out


def planar_weights(w, dtype) -> np.ndarray:
    """A dense planar conv's weights (O, KH*KW*C) in `dtype`, rows and columns zero-padded to multiples of 4 (the
    kernel's four channels x four window elements per pass; a zero weight adds nothing)."""
    o, k = w.shape
    out = np.zeros((-(-o // PK.PLANAR_OB) * PK.PLANAR_OB, -(-k // 4) * 4), dtype=dtype)
    out[:o, :k] = w
    return out


def window_stream(ofm, window, channels) -> Geometry:
    """A window stream (N, OH, OW, window * C) seen as an image of OH*OW rows of `window` pixels, one window
    per row: the standalone Pool / VVAU use the fused kernels on it (a global pool: one row of H*W pixels)."""
    return Geometry((ofm[0] * ofm[1], window), channels, (1, window))


class FrameKernel(Kernel):
    """A kernel over whole frames; subclasses set in_fmt / out format and implement `frames(xs, out_fmts)`."""

    def __init__(self, layer, members=None):
        super().__init__(layer)
        self.members = members or [layer.name]  # the layers this kernel computes (several when fused)
        self.name = "+".join(self.members)

    def can_write(self, port, fmt):
        return fmt == self.native_fmt(port) or is_int(fmt)

    def run_frames(self, xs, out_fmts):
        return self.frames(xs, out_fmts)

    def _int_out(self, fmt):
        return fmt if is_int(fmt) else self.native_fmt(0)


class PadKernel(FrameKernel):
    kind = "pad"

    def __init__(self, layer):
        super().__init__(layer)
        self.pad_source = (layer.pads, layer.pad_value, layer.ofm)
        self.geom = Geometry(layer.ofm, layer.channels, (1, 1)).padded(layer.pads, layer.pad_value)

    def frames(self, xs, out_fmts):
        g, n = self.geom, xs[0].shape[0]
        t, l, b, r = g.pads
        out = np.empty((n, g.ifm[0] + t + b, g.ifm[1] + l + r, g.channels), dtype=self._int_out(out_fmts[0]))
        CK.pad_frames(g.image(xs[0], n), t, l, g.int_pads(), out)
        return [out.reshape(n, -1)]


class SwgKernel(FrameKernel):
    """The window stream itself (when its consumer cannot read windows in place)."""

    kind = "swg"

    def __init__(self, layer, geom=None, members=None):
        super().__init__(layer, members)
        self.window_geom = geom or Geometry(layer.ifm, layer.channels, layer.kernel, layer.stride, layer.dilation)
        # the stream's order: ("window", None), or ("depthwise", SIMD): per pixel, words of SIMD channels outer and
        # kernel positions inner (a VVAU with PE = SIMD reads it)
        order = getattr(layer, "order", "window")
        self.stream_order = ("window", None) if order == "window" else (order, layer.simd)
        if geom is not None:
            self.in_fmt = int_type(min(self.out_range[0], geom.pad_value), max(self.out_range[1], geom.pad_value))

    def fuse_input(self, producer):
        src = getattr(producer, "pad_source", None)
        g = self.window_geom
        if src is None or g.pads != (0, 0, 0, 0) or tuple(src[2]) != g.ifm:
            return None
        return SwgKernel(self.layer, g.padded(src[0], src[1]), producer.members + self.members)

    def frames(self, xs, out_fmts):
        g, n = self.window_geom, xs[0].shape[0]
        oh, ow = g.ofm
        out = np.empty((n, oh, ow, g.window * g.channels), dtype=self._int_out(out_fmts[0]))
        CK.sliding_window(g.image(xs[0], n), *g.args(g.int_pads()), out)
        if self.stream_order[0] != "window":
            out = reorder_windows(out, g.window, g.channels, self.stream_order[1], to_depthwise=True)
        return [out.reshape(n, -1)]


def reorder_windows(w, window, channels, pe, to_depthwise):
    """Windows (..., K*C) between the window order (kernel position, channel) and the depthwise order (channel
    fold of PE, kernel position, channel in fold)."""
    lead, nf = w.shape[:-1], channels // pe
    if to_depthwise:
        return np.ascontiguousarray(w.reshape(*lead, window, nf, pe).swapaxes(-3, -2)).reshape(w.shape)
    return np.ascontiguousarray(w.reshape(*lead, nf, window, pe).swapaxes(-3, -2)).reshape(w.shape)


def _window_of(producer, channels, window, ofm, order=("window", None)):
    """The producer's window geometry when it is a sliding window matching this consumer (its size, and the order
    of its stream, which a fused kernel never materialises but both ends must agree on), else None."""
    g = getattr(producer, "window_geom", None)
    if g is None or g.channels != channels or g.window != window or tuple(g.ofm) != tuple(ofm):
        return None
    if getattr(producer, "stream_order", ("window", None)) != order:
        return None
    return g


class PoolKernel(FrameKernel):
    """Max / Trunc-average pool; standalone on a window stream, or fused onto the image (`fuse_input`), and then
    onto the image before a nearest Upsample (the pool reads each source pixel for the pixels it became)."""

    def __init__(self, layer, geom=None, members=None, factor=(1, 1)):
        super().__init__(layer, members)
        self.geom = g = geom or window_stream(layer.ofm, layer.window, layer.channels)
        self.fused, self.factor = geom is not None, tuple(factor)
        self.is_max = layer.mode == "max"
        self.bits = self.is_max and layer.in_dtype.bipolar
        self.kind = ("pool_bits" if self.bits else "pool_max" if self.is_max else "pool_avg") + (
            "" if geom is None else "_fused") + ("" if self.factor == (1, 1) else "_upsampled")
        self.src_hw = (g.ifm[0] // self.factor[0], g.ifm[1] // self.factor[1])
        if self.bits:
            self.in_fmt = Bits(layer.channels)
            self.width, self.pvals = words(g.channels), g.bit_pads()
        else:
            self.width, self.pvals = g.channels, g.int_pads()
            if geom is not None:
                lo, hi = layer.in_dtype.min, layer.in_dtype.max
                self.in_fmt = int_type(min(lo, geom.pad_value), max(hi, geom.pad_value))
        if not self.is_max:
            lo, hi = layer.in_dtype.min, layer.in_dtype.max
            bound = max(abs(lo), abs(hi), abs(g.pad_value)) * g.window
            self.acc_proto = np.zeros(0, dtype=np.int32 if bound < 2 ** 31 else np.int64)
        # pixel width in bytes (the max reads the input's own type; the sum its accumulator)
        isz = np.dtype(np.uint64 if self.bits else self.acc_proto.dtype if not self.is_max else self.in_fmt).itemsize
        self.taps = LK.pool_taps(g, self.width, self.factor, self.is_max, isz)  # (rows, hidx, hrun)
        if not self.is_max:
            self.avg_args = (layer.shift, LK.ROUNDING_CODES[layer.rounding_mode],
                             *(int(v[0]) for v in layer.out_range()))

    def native_fmt(self, port=0):
        return Bits(self.layer.channels) if self.bits else super().native_fmt(port)

    def can_write(self, port, fmt):
        return fmt == self.native_fmt(port) if self.bits else is_int(fmt)

    def fuse_input(self, producer):
        la = self.layer
        if self.fused:  # a nearest Upsample in front of the window
            up = getattr(producer, "upsample_source", None)  # (factor, its output image, channels)
            if up is None or self.factor != (1, 1) or up[2] != la.channels or tuple(up[1]) != self.geom.ifm:
                return None
            return PoolKernel(la, self.geom, producer.members + self.members, up[0])
        g = _window_of(producer, la.channels, la.window, la.ofm)
        if g is None:
            return None
        return PoolKernel(la, g, producer.members + self.members)

    def frames(self, xs, out_fmts):
        n = xs[0].shape[0]
        (oh, ow), (h, w), c = self.geom.ofm, self.src_hw, self.width
        x = xs[0].reshape(n, h, w * c)
        if self.bits:
            out = np.empty((n, oh, ow * c), dtype=np.uint64)
        else:
            out = np.empty((n, oh, ow * c), dtype=self._int_out(out_fmts[0]))
        if self.is_max:
            LK.pool_max(x, c, *self.taps, self.pvals, out)
        else:
            LK.pool_avg(x, c, *self.taps, self.pvals, *self.avg_args, self.acc_proto, out)
        return [out.reshape(n, -1)]


class PlanarIO:
    """Channel-planar image in and out (formats.Chw) for the planar kernels: a planar kernel asks for its image as
    Chw and writes Chw to a consumer asking for it, so that two planar convolutions in a row hand each other
    whole rows (the stream order costs a transposition on each side: most of a small conv's time). Set by the
    kernel: `x_type` (the element type its kernel reads from a Chw image), `geom` (its image), `in_fmt` (the stream
    order's type, kept as `stream_fmt`)."""

    def _chw_setup(self, planar: bool):
        g = self.geom
        # a strided conv fills a plane row per channel and phase: when those rows are a few pixels long, the stream
        # order's per-pixel fill (a pixel's channels in one pass) is faster, unless the channels are few. Per 1,000
        # frames: mobilenet's 8x8x16 stride-2 depthwise (rows of 5) 1.1 ms stream order against 1.7 Chw; resnet's
        # 16x16x8 stride 2 (rows of 9) 2.4 against 1.3; mobilenet's first 16x16x3 conv 1.6 against 0.5
        row = (g.ifm[1] + g.pads[1] + g.pads[3] + g.stride[1] - 1) // g.stride[1]
        chw = planar and g.channels > 1 and (  # (one channel: the stream order is already channel-planar)
            g.stride == (1, 1) or g.channels <= CHW_STRIDED_MAX_CHANNELS or row >= CHW_STRIDED_MIN_ROW)
        self.chw_in, self.stream_fmt = chw, self.in_fmt
        if chw:
            self.in_fmt = Chw(self.x_type, g.ifm[0], g.ifm[1], g.channels)

    def read_stream_order(self, port: int) -> None:
        """The producer cannot write Chw: read the stream order (the kernel transposes while it fills its planes)."""
        if self.chw_in:
            self.chw_in, self.in_fmt = False, self.stream_fmt

    def _out_array(self, n, fmt, channels):
        """The output buffer for format fmt: (n * channels, OH, OW) for Chw, else (n, OH, OW, channels)."""
        oh, ow = self.geom.ofm
        if isinstance(fmt, Chw):
            return np.empty((n * channels, oh, ow), dtype=fmt.dtype)
        return np.empty((n, oh, ow, channels), dtype=self._int_out(fmt))

    def _writes_chw(self, fmt, channels) -> bool:
        return isinstance(fmt, Chw) and fmt.shape == (*self.geom.ofm, channels)


class VvauKernel(PlanarIO, FrameKernel):
    """Depthwise VVAU (channel-planar kernel); standalone on a window stream, or fused onto the image."""

    def __init__(self, layer, geom=None, members=None):
        super().__init__(layer, members)
        self.geom = geom or window_stream(layer.ofm, layer.window, layer.channels)
        self.kind = "depthwise" + ("" if geom is None else "_fused")
        lo, hi = layer.acc_range()
        thrT = thresholds_by_column(layer.thresholds, (lo, hi))
        acc_t = np.result_type(int_type(min(int(lo.min()), 0), max(int(hi.max()), 0)), thrT.dtype, np.int16)
        self.acc_proto = np.zeros(0, dtype=acc_t)
        self.lev_proto = np.zeros(0, dtype=planar_level_type(acc_t, thrT.shape[0], layer.out_base))
        self.thr = planar_thresholds(thrT, acc_t)  # (C4, T4)
        self.w = np.ascontiguousarray(layer.weights.astype(acc_t))  # (C, K)
        if geom is not None:
            dlo, dhi = layer.in_dtype.min, layer.in_dtype.max
            self.in_fmt = int_type(min(dlo, geom.pad_value), max(dhi, geom.pad_value))
        self.x_type = self.in_fmt
        self._chw_setup(geom is not None)  # (a window stream is not an image)

    def can_write(self, port, fmt):
        return is_int(fmt) or (self.kind.endswith("_fused") and self._writes_chw(fmt, self.geom.channels))

    def _order(self):
        order = getattr(self.layer, "order", "window")
        return ("window", None) if order == "window" else (order, self.layer.pe)

    def fuse_input(self, producer):
        la = self.layer
        g = _window_of(producer, la.channels, la.window, la.ofm, self._order())
        if g is None or self.kind.endswith("_fused"):
            return None
        return VvauKernel(la, g, producer.members + self.members)

    def frames(self, xs, out_fmts):
        g, la, n = self.geom, self.layer, xs[0].shape[0]
        out = self._out_array(n, out_fmts[0], g.channels)
        x = xs[0]
        if self._order()[0] != "window" and not self.kind.endswith("_fused"):  # a depthwise-order window stream
            x = reorder_windows(x.reshape(n, -1, la.window * la.channels), la.window, la.channels, la.pe, False)
        PK.dwconv_int_planar(g.image(x, n, chw=self.chw_in), *g.args(g.int_pads()), self.w, self.thr, la.out_base,
                             bool(la.out_dtype.bipolar), self.acc_proto, self.lev_proto, out)
        return [out.reshape(n, -1)]


class ConvKernel(PlanarIO, FrameKernel):
    """[Pad ->] SWG -> MVAU as one direct convolution (made by the MVAU kernel's `fuse_input`)."""

    def __init__(self, layer, geom, members, acc_bits=None, op_type=None):
        super().__init__(layer, members)
        self.geom = g = geom
        self.out_bipolar = bool(layer.out_dtype.bipolar)
        w = layer.weights  # (O, KH*KW*C), window order
        if layer.binary_xnor:
            self.kind, self.planar = "conv_xnor", False
            self.in_fmt = Bits(g.channels)
            o = w.shape[0]
            wb = pack_const(w.reshape(o * g.window, g.channels), g.channels).reshape(o, -1)  # (O, KH*KW*CW)
            self.w = np.ascontiguousarray(wb.T)
        else:
            self.thrT = thresholds_by_column(layer.thresholds, layer.acc_range())
            # the accumulator type also holds the clamped thresholds (acc max + 1 is "never passed")
            acc_bits = max(acc_bits, np.dtype(self.thrT.dtype).itemsize * 8)
            # few output channels: channel-planar (long loops over pixels); else vectorized over the channels
            self.planar = w.shape[0] < PLANAR_MAX_CHANNELS and g.stride[0] * g.stride[1] <= PLANAR_MAX_STRIDE
            self.kind = f"conv_int{acc_bits}" + ("_planar" if self.planar else "")
            self.in_fmt = op_type
            if self.planar:  # int8 operands widened (weights here, the image per call): every planar conv of a
                op_type = np.result_type(op_type, np.int16).type  # model is one numba specialization (~2 s cold)
            acc_t = {16: np.int16, 32: np.int32, 64: np.int64}[acc_bits]
            self.acc_proto = np.zeros(0, dtype=acc_t)
            self.lev_proto = np.zeros(0, dtype=np.int64 if acc_bits == 64 else np.int32)
            self.w = planar_weights(w, op_type) if self.planar else np.ascontiguousarray(w.T.astype(op_type))
            if self.planar:
                self.lev_proto = np.zeros(0, dtype=planar_level_type(acc_t, self.thrT.shape[0], layer.out_base))
                self.thrT = planar_thresholds(self.thrT, acc_t)  # (O4, T4)
        if layer.binary_xnor:
            self.thrT = thresholds_by_column(layer.thresholds, layer.acc_range())
        self.x_type = self.w.dtype.type if self.planar else self.in_fmt
        self._chw_setup(self.planar)

    def can_write(self, port, fmt):
        if self.planar:
            return is_int(fmt) or self._writes_chw(fmt, self.layer.mh)
        return is_int(fmt) or (self.out_bipolar and fmt == Bits(self.layer.mh))

    def frames(self, xs, out_fmts):
        g, la, n = self.geom, self.layer, xs[0].shape[0]
        oh, ow = g.ofm
        packed = isinstance(out_fmts[0], Bits)
        o = la.mh
        if self.planar:
            x = xs[0] if xs[0].dtype == self.x_type else xs[0].astype(self.x_type)
            out = self._out_array(n, out_fmts[0], o)
            PK.conv_int_planar(g.image(x, n, chw=self.chw_in), *g.args(g.int_pads()), self.w, self.thrT, la.out_base,
                               self.out_bipolar, self.acc_proto, self.lev_proto, out)
            return [out.reshape(n, -1)]
        out = np.empty((n, oh, ow, words(o) if packed else o), dtype=np.uint64 if packed else out_fmts[0])
        if self.kind == "conv_xnor":
            cw = words(g.channels)
            CK.conv_xnor(g.image(xs[0], n, cw), *g.args(g.bit_pads()), self.w, g.window * g.channels, self.thrT,
                         la.out_base, self.out_bipolar, packed, out)
        else:
            CK.conv_int(g.image(xs[0], n), *g.args(g.int_pads()), self.w, self.thrT, la.out_base, self.out_bipolar,
                        self.acc_proto, self.lev_proto, packed, out)
        return [out.reshape(n, -1)]


# ----------------------------------------------------------------------------------------------------------------
# stream forks and joins, upsampling


class DuplicateKernel(FrameKernel):
    """Every output is the input value itself (values are never written in place)."""

    kind = "duplicate"

    def native_fmt(self, port=0):
        return self.in_fmt

    def can_write(self, port, fmt):
        return fmt == self.in_fmt

    def frames(self, xs, out_fmts):
        return [xs[0]] * self.layer.n_outputs


class AddStreamsKernel(FrameKernel):
    kind = "add"

    def __init__(self, layer):
        super().__init__(layer)
        self.thr = thr_array(layer.thresholds, layer.channels)
        self.thrT = np.ascontiguousarray(self.thr.T)  # (T, C): counted for a pixel's channels at once
        # the whole frame in one pass per threshold (int32 sums: checked to fit)
        (a0, a1), (b0, b1) = (sorted((d.min * m, d.max * m)) for d, m in ((layer.in_dtype, layer.a_mul),
                                                                           (layer.in1_dtype, layer.b_mul)))
        self.frame_elems = layer.in_port(0)[2]
        self.thrF = LK.frame_thresholds(self.thr, a0 + b0, a1 + b1, self.frame_elems)

    def in_fmts(self):
        return [int_type(d.min, d.max) for d in (self.layer.in_dtype, self.layer.in1_dtype)]

    def frames(self, xs, out_fmts):
        la, n = self.layer, xs[0].shape[0]
        if self.thrF is not None:
            out = np.empty((n, self.frame_elems), dtype=self._int_out(out_fmts[0]))
            LK.add_thresholds_frame(xs[0].reshape(n, -1), xs[1].reshape(n, -1), la.a_mul, la.b_mul, *self.thrF,
                                    la.out_base, bool(la.out_dtype.bipolar), out)
            return [out]
        a, b = (x.reshape(n, -1, la.channels) for x in xs)
        out = np.empty(a.shape, dtype=self._int_out(out_fmts[0]))
        if self.thr.shape[1] <= LK.VEC_MAX_T:
            LK.add_streams_vec(a, b, la.a_mul, la.b_mul, self.thrT, la.out_base, bool(la.out_dtype.bipolar), out)
        else:
            LK.add_streams(a, b, la.a_mul, la.b_mul, self.thr, la.out_base, bool(la.out_dtype.bipolar), out)
        return [out.reshape(n, -1)]


class ConcatKernel(FrameKernel):
    kind = "concat"

    def in_fmts(self):
        return [int_type(d.min, d.max) for d in self.layer.in_dtypes]

    def frames(self, xs, out_fmts):
        la, n = self.layer, xs[0].shape[0]
        out = np.empty((n, la.num_vectors, la.channels), dtype=self._int_out(out_fmts[0]))
        off = 0
        for x, c in zip(xs, la.channels_in):
            LK.concat_into(x.reshape(n, -1, c), off, out)
            off += c
        return [out.reshape(n, -1)]


class UpsampleKernel(FrameKernel):
    kind = "upsample"

    def __init__(self, layer):
        super().__init__(layer)
        # offered to a consumer reading the image before it (a fused pool)
        self.upsample_source = (tuple(layer.factor), tuple(layer.ofm), layer.channels)

    def frames(self, xs, out_fmts):
        la, n = self.layer, xs[0].shape[0]
        (h, w), (fh, fw), c = la.ifm, la.factor, la.channels
        out = np.empty((n, h * fh, w * fw * c), dtype=self._int_out(out_fmts[0]))
        LK.upsample(xs[0].reshape(n, h, w * c), c, fh, fw, out)
        return [out.reshape(n, -1)]


def pointwise_conv(mvau_kernel):
    """An MVAU over the pixels of an image without a sliding window (a 1x1 conv, stride 1) as a direct conv, or
    None (one vector per frame, or pixels without a known image shape)."""
    la = mvau_kernel.layer
    h, w = la.spatial
    if la.num_vectors <= 1 or h * w != la.num_vectors:
        return None

    class _Pixels:  # the image itself as a 1x1 window source
        window_geom, members = Geometry((h, w), la.mw, (1, 1)), []

    return conv_from_mvau(mvau_kernel, _Pixels)


def conv_from_mvau(mvau_kernel, producer):
    """The direct conv of an MVAU fed by a sliding window, or None when the MVAU is not that window's matrix."""
    la = mvau_kernel.layer
    g = getattr(producer, "window_geom", None)
    if g is None or la.num_vectors != g.ofm[0] * g.ofm[1] or la.mw != g.window * g.channels:
        return None
    if getattr(producer, "stream_order", ("window", None)) != ("window", None):
        return None
    if la.binary_xnor:
        return ConvKernel(la, g, producer.members + [la.name])
    acc_bits = getattr(mvau_kernel, "acc_bits", None)
    if acc_bits is None:  # the bit-serial option: convs keep integer multiply-adds
        return None
    # the pad value is a level of the MVAU's input type, so the MVAU's operand type holds it
    return ConvKernel(la, g, producer.members + [la.name], acc_bits, mvau_kernel.in_fmt)
