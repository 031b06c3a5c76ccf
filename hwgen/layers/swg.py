"""Sliding-window generator (SWG) and padding kinds: the line-buffer half of a convolution or a pool.

SlidingWindow ("SWG"): an NHWC frame in, every output pixel's window out in `conv_kernels.sliding_window` order
(output pixel, kernel position (ky, kx), channels), SIMD channels per word. It keeps (span_h - 1) lines + span_w
pixels on chip (hwgen.layers.swg_spec.SwgSpec: the RTL block's quantities and its cycle-exact model). No padding
inside: a padded conv is Pad -> SWG -> MVAU. 1-D convs are H = 1. Option order="depthwise": per output pixel the
channel words outer and the kernel positions inner (SIMD channels per word), the input order of a VVAU with
PE = SIMD taking SIMD kernel positions per word through a width converter (hwgen.layers.vvau).

Pad ("Pad"): an NHWC frame in, the frame with (top, left, bottom, right) pixels of `pad_value` (an integer level:
0, or the zero point of an asymmetric quantizer) around it out, SIMD channels per word.
"""

from __future__ import annotations

import numpy as np

from hwgen.dtypes import DType
from hwgen.errors import HwgenError
from hwgen.layers import conv_kernels as ck
from hwgen.layers import window_cost
from hwgen.layers.base import FrameLayer, divisors
from hwgen.layers.registry import register
from hwgen.layers.swg_spec import ORDERS, PadSpec, SwgSpec


def _pair(v) -> tuple[int, int]:
    return tuple(int(x) for x in ck.pair(v))


@register
class SlidingWindow(FrameLayer):
    op = "SWG"
    hls_frames = True
    hls_template = "hls/swg.hpp.j2"
    follows_consumer = True  # takes its consumer's word (hwgen.fold.units)
    rtl_template = "rtl/swg.v.j2"

    def moves_channels(self) -> bool:
        return self.order == "window"  # the depthwise order interleaves kernel positions inside channel words

    def __init__(self, name, dtype: DType, ifm, channels: int, kernel, stride=(1, 1), dilation=(1, 1),
                 mem_style: str = "auto", order: str = "window", **kw):
        kw.pop("in_dtype", None)
        kw.pop("out_dtype", None)
        super().__init__(name, dtype, dtype, **kw)
        self.mem_style = window_cost.check_mem_style(name, mem_style)
        # "window" (kernel position outer, channel words inner: a conv's MVAU, a Pool) or "depthwise" (channel
        # words of SIMD channels outer, kernel positions inner: a VVAU with PE = this SIMD; SwgSpec.order)
        if order not in ORDERS:
            raise HwgenError(f"layer {name}: window order {order!r}; use one of {', '.join(ORDERS)}")
        self.order = order
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
    def in_hw(self):
        return self.ifm

    @property
    def out_hw(self):
        return self.ofm

    def word_elems(self):
        return self.simd

    # --- semantics ------------------------------------------------------------------------------------------
    def execute(self, x):
        return self.spec().execute(np.asarray(x).reshape(-1, *self.in_shape[1:]))

    def out_range(self):
        n = self.out_features
        return np.full(n, self.in_dtype.min, dtype=np.int64), np.full(n, self.in_dtype.max, dtype=np.int64)

    # --- folding and cost -----------------------------------------------------------------------------------
    def legal_simd(self):
        return divisors(self.channels)

    def spec(self, simd=None) -> SwgSpec:
        simd = self.simd if simd is None else int(simd)
        return SwgSpec(self.name, self.ifm[0], self.ifm[1], self.channels, simd, self.in_dtype.bits, self.kernel,
                       self.stride, self.dilation, getattr(self, "order", "window"))

    def cycles(self, pe=None, simd=None):
        return self.spec(simd).frame_period()

    def buffer_bits(self, simd=None) -> int:
        """Bits of the line buffer (what the memory mapping places in LUTRAM / BRAM / URAM)."""
        sp = self.spec(simd)
        return sp.buf_words * sp.word_bits

    def cpu_kernel(self, sw):
        # the CPU backend's window kernel (sw_fallback) makes both orders (and is fused into its reader); a backend
        # without it runs the numpy golden
        kernel = getattr(sw, "SwgKernel", None)
        return kernel(self) if kernel is not None else sw.NumpyKernel(self)

    def words_in_flight(self) -> int:
        # input words held between taking them and sending the windows they are in: the line buffer and the
        # read register and the 2-word output queue (hwgen.transforms.streams: FIFOs on the skip path of a fork / join)
        return self.spec().buf_words + 3

    def memories(self, pe=None, simd=None, mem_style=None) -> dict:
        """The line buffer: {"line_buffer": {"depth", "width", "live_width", "mem_style", "ram": True,
        "style", ...}} (a RAM written by the input stream, not a ROM: window_cost.map_line_buffer places it)."""
        sp = self.spec(simd)
        ms = self.mem_style if mem_style is None else mem_style
        return {"line_buffer": window_cost.map_line_buffer(sp.buf_words, sp.word_bits, ms)}

    def resources(self, pe=None, simd=None, mem_style=None) -> dict:
        """Estimated {"luts", "ffs", "bram18", "uram", "dsps", "lutram"} of templates/rtl/swg.v.j2, calibrated
        against yosys synth_xilinx -family xc7 (hwgen.layers.window_cost)."""
        return window_cost.swg_resources(self.spec(simd), self.memories(pe, simd, mem_style)["line_buffer"])

    def fifo_depth(self, port=0):
        # the block takes (span_h - 1) lines in a burst and then a word per window step, and nothing from its
        # last write of a frame until that frame's last window is out: the most words a producer at the
        # block's own rate has waiting, plus the 2 of the default rule (SwgSpec.fifo_words)
        return window_cost.fifo_rule(self.spec().fifo_words())

    def out_fifo_depth(self, port, consumer, consumer_port=0):
        # a consumer slower than this block throttles it, and at a frame start the block is silent while it
        # refills its buffer: the FIFO in front of the consumer covers the consumer's demand meanwhile
        return window_cost.burst_fifo_words(self.spec(), consumer, consumer_port)

    # --- code generation ----------------------------------------------------------------------------------
    def hls_context(self, lib):
        lb = self.memories()["line_buffer"]
        return dict(self.spec().template_context(), buffer_impl=lb["hls_impl"],
                    buffer_note=f"{lb['depth']} x {lb['width']} bits, {lb['style']}")

    def rtl_context(self, lib, module):
        ram_style = "" if self.mem_style == "auto" else self.mem_style  # auto: the synthesis tool decides
        return dict(self.spec().template_context(self.mem_style), name=module, RAM_STYLE=ram_style), {}

    def attrs(self):
        return {"ifm": list(self.ifm), "channels": self.channels, "kernel": list(self.kernel),
                "stride": list(self.stride), "dilation": list(self.dilation), "ofm": list(self.ofm),
                "mem_style": self.mem_style, "order": self.order}

    @classmethod
    def from_json(cls, d, arrays):
        a, c = d["attrs"], cls._common(d)
        c.pop("out_dtype")
        return cls(dtype=c.pop("in_dtype"), ifm=a["ifm"], channels=a["channels"], kernel=a["kernel"],
                   stride=a["stride"], dilation=a["dilation"], mem_style=a.get("mem_style", "auto"),
                   order=a.get("order", "window"), **c)


@register
class Pad(FrameLayer):
    op = "Pad"
    hls_frames = True
    hls_template = "hls/pad.hpp.j2"
    follows_consumer = True  # takes its consumer's word (hwgen.fold.units)
    rtl_template = "rtl/pad.v.j2"

    def moves_channels(self) -> bool:
        return True

    def keeps_level(self, v: int) -> bool:
        return self.pad_value == v  # the border carries the pad value

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
    def in_hw(self):
        return self.ifm

    @property
    def out_hw(self):
        return self.ofm

    def word_elems(self):
        return self.simd

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
        # BIPOLAR travels as bits: -1 is 0, +1 is 1
        value = int(self.pad_value > 0) if dt.bipolar else self.pad_value
        return PadSpec(self.name, self.ifm[0], self.ifm[1], self.channels, simd, bits, dt.signed, self.pads, value)

    def cycles(self, pe=None, simd=None):
        return self.out_words_per_frame() if simd is None else self.ofm[0] * self.ofm[1] * self.channels // simd

    def resources(self, pe=None, simd=None, mem_style=None) -> dict:
        """Estimated resources of templates/rtl/pad.v.j2 (hwgen.layers.window_cost, fitted to yosys)."""
        return window_cost.pad_resources(self.spec(simd))

    def words_in_flight(self) -> int:
        return 2  # the output register (and one word offered)

    def fifo_depth(self, port=0):
        # the block takes nothing while it sends pad rows and columns (PadSpec.fifo_words); its in0_V_TREADY
        # follows out_V_TREADY combinationally, so the FIFO in front of it is never shallower than 2
        return window_cost.fifo_rule(self.spec().fifo_words())

    def hls_context(self, lib):
        return self.spec().template_context()

    def rtl_context(self, lib, module):
        return dict(self.spec().template_context(), name=module), {}

    def cpu_kernel(self, sw):
        return sw.PadKernel(self)

    def attrs(self):
        return {"ifm": list(self.ifm), "channels": self.channels, "pads": list(self.pads),
                "pad_value": self.pad_value, "ofm": list(self.ofm)}

    @classmethod
    def from_json(cls, d, arrays):
        a, c = d["attrs"], cls._common(d)
        c.pop("out_dtype")
        return cls(dtype=c.pop("in_dtype"), ifm=a["ifm"], channels=a["channels"], pads=a["pads"],
                   pad_value=a["pad_value"], **c)
