"""Upsample ("Upsample"): nearest-neighbour upsampling of an NHWC frame by integer factors (fh, fw)
(ONNX Resize / Upsample, mode nearest, asymmetric coordinates, floor: `conv_kernels.upsample_nearest`).
PE channels per word; one output word per cycle: cycles = OH * OW * C / PE. It keeps one input line to repeat
it fh times."""

from __future__ import annotations

import numpy as np

from hwgen.dtypes import DType
from hwgen.layers import conv_kernels as ck
from hwgen.layers.base import HwLayer, divisors
from hwgen.layers.registry import register


@register
class Upsample(HwLayer):
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
        return self.pe

    def out_elems_per_word(self):
        return self.pe

    def in_words_per_frame(self):
        return self.ifm[0] * self.ifm[1] * self.channels // self.pe

    def out_words_per_frame(self):
        return self.ofm[0] * self.ofm[1] * self.channels // self.pe

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

    def cpu_kernel(self, sw):
        return sw.UpsampleKernel(self)

    def attrs(self):
        return {"ifm": list(self.ifm), "channels": self.channels, "factor": list(self.factor), "ofm": list(self.ofm)}

    @classmethod
    def from_json(cls, d, arrays):
        a, c = d["attrs"], cls._common(d)
        c.pop("out_dtype")
        return cls(dtype=c.pop("in_dtype"), ifm=a["ifm"], channels=a["channels"], factor=a["factor"], **c)
