"""Sliding-window generator (SWG) and padding kinds: the line-buffer half of a convolution or a pool.

SlidingWindow ("SWG"): an NHWC frame in, every output pixel's window out in `conv_kernels.sliding_window` order
(output pixel, kernel position (ky, kx), channels), SIMD channels per word. It keeps (span_h - 1) lines + span_w
pixels on chip (hwgen.layers.swg_spec.SwgSpec: the RTL block's quantities and its cycle-exact model). No padding
inside: a padded conv is Pad -> SWG -> MVAU. 1-D convs are H = 1.

Pad ("Pad"): an NHWC frame in, the frame with (top, left, bottom, right) pixels of `pad_value` (an integer level:
0, or the zero point of an asymmetric quantizer) around it out, SIMD channels per word.
"""

from __future__ import annotations

import numpy as np

from hwgen.dtypes import DType, from_name
from hwgen.layers import conv_kernels as ck
from hwgen.layers.base import HwLayer, divisors
from hwgen.layers.registry import register
from hwgen.layers.swg_spec import PadSpec, SwgSpec


def _pair(v) -> tuple[int, int]:
    return tuple(int(x) for x in ck.pair(v))


@register
class SlidingWindow(HwLayer):
    op = "SWG"
    follows_consumer = True  # takes its consumer's word (hwgen.fold.units)
    rtl_template = "rtl/swg.v.j2"

    def __init__(self, name, dtype: DType, ifm, channels: int, kernel, stride=(1, 1), dilation=(1, 1), **kw):
        kw.pop("in_dtype", None)
        kw.pop("out_dtype", None)
        super().__init__(name, dtype, dtype, **kw)
        self.ifm = _pair(ifm)
        self.channels = int(channels)
        self.kernel, self.stride, self.dilation = _pair(kernel), _pair(stride), _pair(dilation)
        self.spec()  # validates: SIMD divides the channels, the kernel span fits the image

    # --- shapes ---------------------------------------------------------------------------------------------
    @property
    def ofm(self) -> tuple[int, int]:
        return ck.out_shape(self.ifm, self.kernel, self.stride, self.dilation)

    @property
    def window(self) -> int:
        """Kernel positions per window (KH * KW)."""
        return self.kernel[0] * self.kernel[1]

    @property
    def in_features(self):
        return self.channels

    @property
    def out_features(self):
        return self.window * self.channels

    @property
    def in_shape(self):
        return [1, *self.ifm, self.channels]

    @property
    def out_shape(self):
        return [1, *self.ofm, self.out_features]

    @property
    def in_nhwc(self):
        return self.in_shape

    @property
    def out_nhwc(self):
        return self.out_shape

    def in_elems_per_word(self):
        return self.simd

    def out_elems_per_word(self):
        return self.simd

    def in_words_per_frame(self):
        return self.ifm[0] * self.ifm[1] * self.channels // self.simd

    def out_words_per_frame(self):
        return self.ofm[0] * self.ofm[1] * self.out_features // self.simd

    # --- semantics ------------------------------------------------------------------------------------------
    def execute(self, x):
        return ck.sliding_window(np.asarray(x).reshape(-1, *self.in_shape[1:]), self.kernel, self.stride,
                                 self.dilation)

    def out_range(self):
        n = self.out_features
        return np.full(n, self.in_dtype.min, dtype=np.int64), np.full(n, self.in_dtype.max, dtype=np.int64)

    # --- folding and cost -----------------------------------------------------------------------------------
    def legal_simd(self):
        return divisors(self.channels)

    def spec(self, simd=None) -> SwgSpec:
        simd = self.simd if simd is None else int(simd)
        return SwgSpec(self.name, self.ifm[0], self.ifm[1], self.channels, simd, self.in_dtype.bits, self.kernel,
                       self.stride, self.dilation)

    def cycles(self, pe=None, simd=None):
        return self.spec(simd).frame_period()

    def buffer_bits(self, simd=None) -> int:
        """Bits of the line buffer (what the memory mapping places in LUTRAM / BRAM / URAM)."""
        sp = self.spec(simd)
        return sp.buf_words * sp.word_bits

    def attrs(self):
        return {"ifm": list(self.ifm), "channels": self.channels, "kernel": list(self.kernel),
                "stride": list(self.stride), "dilation": list(self.dilation), "ofm": list(self.ofm)}

    @classmethod
    def from_json(cls, d, arrays):
        a, c = d["attrs"], cls._common(d)
        c.pop("out_dtype")
        return cls(dtype=c.pop("in_dtype"), ifm=a["ifm"], channels=a["channels"], kernel=a["kernel"],
                   stride=a["stride"], dilation=a["dilation"], **c)


@register
class Pad(HwLayer):
    op = "Pad"
    follows_consumer = True  # takes its consumer's word (hwgen.fold.units)
    rtl_template = "rtl/pad.v.j2"

    def __init__(self, name, dtype: DType, ifm, channels: int, pads, pad_value: int = 0, **kw):
        kw.pop("in_dtype", None)
        kw.pop("out_dtype", None)
        super().__init__(name, dtype, dtype, **kw)
        self.ifm = _pair(ifm)
        self.channels = int(channels)
        self.pads = tuple(int(p) for p in pads)  # (top, left, bottom, right)
        self.pad_value = int(pad_value)
        if len(self.pads) != 4 or min(self.pads) < 0:
            raise ValueError(f"{name}: pads {pads} must be four non-negative (top, left, bottom, right)")
        if not dtype.allowed(np.array([self.pad_value])):
            raise ValueError(f"{name}: pad value {pad_value} is not a {dtype.name} level")

    @property
    def ofm(self) -> tuple[int, int]:
        t, l, b, r = self.pads
        return self.ifm[0] + t + b, self.ifm[1] + l + r

    @property
    def in_features(self):
        return self.channels

    @property
    def out_features(self):
        return self.channels

    @property
    def in_shape(self):
        return [1, *self.ifm, self.channels]

    @property
    def out_shape(self):
        return [1, *self.ofm, self.channels]

    @property
    def in_nhwc(self):
        return self.in_shape

    @property
    def out_nhwc(self):
        return self.out_shape

    def in_elems_per_word(self):
        return self.simd

    def out_elems_per_word(self):
        return self.simd

    def in_words_per_frame(self):
        return self.ifm[0] * self.ifm[1] * self.channels // self.simd

    def out_words_per_frame(self):
        return self.ofm[0] * self.ofm[1] * self.channels // self.simd

    def execute(self, x):
        return ck.pad(np.asarray(x).reshape(-1, *self.in_shape[1:]), self.pads, self.pad_value)

    def out_range(self):
        n = self.channels
        lo = min(self.in_dtype.min, self.pad_value)
        return np.full(n, lo, dtype=np.int64), np.full(n, self.in_dtype.max, dtype=np.int64)

    def legal_simd(self):
        return divisors(self.channels)

    def spec(self, simd=None) -> PadSpec:
        simd = self.simd if simd is None else int(simd)
        dt = self.in_dtype
        bits = dt.bits
        return PadSpec(self.name, self.ifm[0], self.ifm[1], self.channels, simd, bits, dt.signed, self.pads,
                       0 if dt.bipolar else self.pad_value)

    def cycles(self, pe=None, simd=None):
        return self.out_words_per_frame() if simd is None else self.ofm[0] * self.ofm[1] * self.channels // simd

    def attrs(self):
        return {"ifm": list(self.ifm), "channels": self.channels, "pads": list(self.pads),
                "pad_value": self.pad_value, "ofm": list(self.ofm)}

    @classmethod
    def from_json(cls, d, arrays):
        a, c = d["attrs"], cls._common(d)
        c.pop("out_dtype")
        return cls(dtype=c.pop("in_dtype"), ifm=a["ifm"], channels=a["channels"], pads=a["pads"],
                   pad_value=a["pad_value"], **c)
