"""Upsample ("Upsample"): nearest-neighbour upsampling of an NHWC frame by integer factors (fh, fw)
(ONNX Resize / Upsample, mode nearest, asymmetric coordinates, floor: `conv_kernels.upsample_nearest`).
PE channels per word; one output word per cycle: cycles = OH * OW * C / PE. It keeps one input line to repeat
it fh times.

Hardware (templates/hls/branching.hpp + upsample.hpp.j2, templates/rtl/upsample.v.j2): the line buffer (W * C/PE
words) is written while the first output line of an input line is sent (each pixel's first copy comes straight
from the input) and read for the other copies (a single-port RAM with registered read: LUT RAM, or block RAM
for long lines), then a 2-word output queue. Resources:
hwgen.layers.branching_cost."""

from __future__ import annotations

import numpy as np

from hwgen.bits import clog2, pad8
from hwgen.dtypes import DType
from hwgen.layers import branching_cost as bcost
from hwgen.layers import conv_kernels as ck
from hwgen.layers.base import FrameLayer, divisors
from hwgen.layers.registry import register


@register
class Upsample(FrameLayer):
    op = "Upsample"

    def __init__(self, name, dtype: DType, ifm, channels: int, factor, **kw):
        kw.pop("in_dtype", None)
        kw.pop("out_dtype", None)
        super().__init__(name, dtype, dtype, **kw)
        self.ifm = tuple(int(v) for v in ck.pair(ifm))
        self.channels = int(channels)
        self.factor = tuple(int(v) for v in ck.pair(factor))
        if min(self.factor) < 1:
            raise ValueError(f"{name}: upsampling factor {factor} is not a positive integer")

    @property
    def ofm(self):
        return self.ifm[0] * self.factor[0], self.ifm[1] * self.factor[1]

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
        return self.pe

    def legal_pe(self):
        return divisors(self.channels)

    def cycles(self, pe=None, simd=None):
        pe = self.pe if pe is None else int(pe)
        return self.ofm[0] * self.ofm[1] * self.channels // pe

    def execute(self, x):
        return ck.upsample_nearest(np.asarray(x).reshape(-1, *self.in_shape[1:]), self.factor)

    def out_range(self):
        n = self.channels
        return np.full(n, self.in_dtype.min, dtype=np.int64), np.full(n, self.in_dtype.max, dtype=np.int64)

    # --- hardware ---------------------------------------------------------------------------------------------
    hls_template = "hls/upsample.hpp.j2"
    hls_frames = True  # the process takes `frames` (hwgen.codegen.dma batches frames per call)
    hls_headers = ("branching.hpp",)
    rtl_template = "rtl/upsample.v.j2"

    def words_in_flight(self) -> int:
        return self.ifm[1] * self.channels // self.pe + 4  # the line buffer, the read stage, the output queue

    def memories(self, pe=None, simd=None, mem_style=None) -> dict:
        """The line buffer: one input line of words (a RAM the block writes and reads, not a ROM); its style is
        where yosys puts it (branching_cost.upsample_line)."""
        pe = self.pe if pe is None else int(pe)
        depth, width = self.ifm[1] * self.channels // pe, pe * self.in_dtype.bits
        if depth <= 1:
            return {}  # one word: the output register holds it
        return {"line": {"depth": depth, "width": width, "live_width": width,
                         "mem_style": bcost.upsample_line(depth, width)["style"]}}

    def resources(self, pe=None, simd=None, mem_style=None):
        pe = self.pe if pe is None else int(pe)
        return bcost.upsample_resources(self._spec(pe))

    def _spec(self, pe=None) -> dict:
        pe = self.pe if pe is None else int(pe)
        nf = self.channels // pe
        (h, w), (fh, fw) = self.ifm, self.factor
        return dict(H=h, W=w, C=self.channels, PE=pe, NF=nf, FH=fh, FW=fw, WORD=pe * self.in_dtype.bits,
                    DEPTH=w * nf, FBW=clog2(nf), RXW=clog2(fw), IXW=clog2(w), RYW=clog2(fh), AW=clog2(w * nf))

    def hls_context(self, lib):
        sp = self._spec()
        return dict(name=self.name, H=sp["H"], W=sp["W"], C=sp["C"], PE=sp["PE"], NF=sp["NF"], fh=sp["FH"],
                    fw=sp["FW"], WORD=sp["WORD"], dtype_name=self.in_dtype.name)

    def rtl_context(self, lib, module):
        sp = self._spec()
        return dict(sp, module=module, TDW=pad8(sp["WORD"]), IN_TDW=pad8(sp["WORD"])), {}

    def cpu_kernel(self, sw):
        return sw.UpsampleKernel(self)

    def attrs(self):
        return {"ifm": list(self.ifm), "channels": self.channels, "factor": list(self.factor), "ofm": list(self.ofm)}

    @classmethod
    def from_json(cls, d, arrays):
        a, c = d["attrs"], cls._common(d)
        c.pop("out_dtype")
        return cls(dtype=c.pop("in_dtype"), ifm=a["ifm"], channels=a["channels"], factor=a["factor"], **c)
