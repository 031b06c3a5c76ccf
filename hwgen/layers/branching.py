"""Kinds where streams fork and join: Duplicate (one stream to several consumers), AddStreams (residual add of
two streams), Concat (channel concatenation). All stream NHWC frames (1, H, W, C), PE channels per word on every
port, one pixel's channels at a time.

AddStreams: acc = a * a_mul + b * b_mul element-wise (`conv_kernels.add_streams`): equal scales give
a_mul = b_mul = 1 and no thresholds (exact); different scales put both on one integer grid (a_mul, b_mul the
ratio's integers) and per-channel thresholds re-quantize the sum.
Concat: per pixel, all channels of input 0, then input 1, ...; PE divides every input's channel count.
"""

from __future__ import annotations

import math

import numpy as np

from hwgen.dtypes import DType, from_name, smallest_for_range
from hwgen.layers import conv_kernels as ck
from hwgen.layers.base import HwLayer, divisors, thresholded_range
from hwgen.layers.registry import register


class _PixelLayer(HwLayer):
    """A kind over (1, H, W, C) frames folded by PE channels per word."""

    def _init_pixels(self, hw, channels):
        self.hw = tuple(int(v) for v in ck.pair(hw))
        self.channels = int(channels)
        self.num_vectors = self.hw[0] * self.hw[1]
        self._spatial = self.hw

    @property
    def in_features(self):
        return self.channels

    @property
    def out_features(self):
        return self.channels

    @property
    def in_shape(self):
        return [1, *self.hw, self.in_features]

    @property
    def out_shape(self):
        return [1, *self.hw, self.out_features]

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

    def legal_pe(self):
        return divisors(self.channels)

    def cycles(self, pe=None, simd=None):
        pe = self.pe if pe is None else int(pe)
        return self.num_vectors * self.channels // pe


@register
class Duplicate(_PixelLayer):
    op = "Duplicate"

    def __init__(self, name, dtype: DType, hw, channels: int, n_outputs: int = 2, **kw):
        kw.pop("in_dtype", None)
        kw.pop("out_dtype", None)
        super().__init__(name, dtype, dtype, **kw)
        self._init_pixels(hw, channels)
        self.n_outputs = int(n_outputs)

    def execute(self, x):
        return ck.duplicate(np.asarray(x).reshape(-1, *self.in_shape[1:]), self.n_outputs)

    def out_range(self):
        n = self.channels
        return np.full(n, self.in_dtype.min, dtype=np.int64), np.full(n, self.in_dtype.max, dtype=np.int64)

    def cpu_kernel(self, sw):
        return sw.DuplicateKernel(self)

    def attrs(self):
        return {"hw": list(self.hw), "channels": self.channels, "n_outputs": self.n_outputs}

    @classmethod
    def from_json(cls, d, arrays):
        a, c = d["attrs"], cls._common(d)
        c.pop("out_dtype")
        return cls(dtype=c.pop("in_dtype"), hw=a["hw"], channels=a["channels"], n_outputs=a["n_outputs"], **c)


@register
class AddStreams(_PixelLayer):
    op = "AddStreams"
    n_inputs = 2
    array_fields = ("thresholds",)

    def __init__(self, name, in_dtype: DType, in1_dtype: DType, out_dtype: DType, hw, channels: int,
                 a_mul: int = 1, b_mul: int = 1, thresholds: np.ndarray | None = None, out_base: int = 0, **kw):
        super().__init__(name, in_dtype, out_dtype, **kw)
        self._init_pixels(hw, channels)
        self.in1_dtype = in1_dtype
        self.a_mul, self.b_mul = int(a_mul), int(b_mul)
        self.thresholds = None if thresholds is None else np.asarray(thresholds, dtype=np.int64)
        self.out_base = int(out_base)

    def in_port(self, port=0):
        dt = self.in_dtype if port == 0 else self.in1_dtype
        return dt, self.pe, self.num_vectors * self.channels

    def acc_range(self) -> tuple[int, int]:
        def span(dt, m):
            a, b = dt.min * m, dt.max * m
            return min(a, b), max(a, b)
        (a0, a1), (b0, b1) = span(self.in_dtype, self.a_mul), span(self.in1_dtype, self.b_mul)
        return a0 + b0, a1 + b1

    def acc_dtype(self) -> DType:
        lo, hi = self.acc_range()
        return smallest_for_range(min(lo, 0), max(hi, 0))

    def execute(self, a, b):
        a = np.asarray(a).reshape(-1, *self.in_shape[1:])
        b = np.asarray(b).reshape(-1, *self.in_shape[1:])
        return ck.add_streams(a, b, self.a_mul, self.b_mul, self.thresholds, self.out_base, self.out_dtype.bipolar)

    def out_range(self):
        if self.thresholds is None:
            lo, hi = self.acc_range()
            n = self.channels
            return np.full(n, lo, dtype=np.int64), np.full(n, hi, dtype=np.int64)
        return thresholded_range(self.channels, self.thresholds.shape[1], self.out_base, self.out_dtype)

    def cpu_kernel(self, sw):
        return sw.AddStreamsKernel(self)

    def attrs(self):
        return {"hw": list(self.hw), "channels": self.channels, "in1_dtype": self.in1_dtype.name,
                "a_mul": self.a_mul, "b_mul": self.b_mul, "out_base": self.out_base,
                "n_thresholds": 0 if self.thresholds is None else int(self.thresholds.shape[1])}

    @classmethod
    def from_json(cls, d, arrays):
        a = d["attrs"]
        return cls(in1_dtype=from_name(a["in1_dtype"]), hw=a["hw"], channels=a["channels"], a_mul=a["a_mul"],
                   b_mul=a["b_mul"], thresholds=arrays.get("thresholds"), out_base=a["out_base"], **cls._common(d))


@register
class Concat(_PixelLayer):
    op = "Concat"

    def __init__(self, name, in_dtypes, out_dtype: DType, hw, channels_in, **kw):
        in_dtypes = [d if isinstance(d, DType) else from_name(d) for d in in_dtypes]
        kw.pop("in_dtype", None)
        super().__init__(name, in_dtypes[0], out_dtype, **kw)
        self.channels_in = [int(c) for c in channels_in]
        self.in_dtypes = in_dtypes
        self.n_inputs = len(self.channels_in)
        self._init_pixels(hw, sum(self.channels_in))
        for dt in in_dtypes:
            if dt.bipolar != out_dtype.bipolar or not (out_dtype.bipolar or out_dtype.allowed(
                    np.array([dt.min, dt.max]))):
                raise ValueError(f"{name}: input type {dt.name} does not fit the output type {out_dtype.name}")

    def in_port(self, port=0):
        return self.in_dtypes[port], self.pe, self.num_vectors * self.channels_in[port]

    def in_port_shape(self, port=0):
        return [1, *self.hw, self.channels_in[port]]

    def legal_pe(self):
        return divisors(math.gcd(*self.channels_in))

    def execute(self, *xs):
        return ck.concat_channels([np.asarray(x).reshape(-1, *self.in_port_shape(p)[1:]) for p, x in enumerate(xs)])

    def cpu_kernel(self, sw):
        return sw.ConcatKernel(self)

    def attrs(self):
        return {"hw": list(self.hw), "channels_in": self.channels_in, "in_dtypes": [d.name for d in self.in_dtypes]}

    @classmethod
    def from_json(cls, d, arrays):
        a, c = d["attrs"], cls._common(d)
        c.pop("in_dtype")
        return cls(in_dtypes=a["in_dtypes"], hw=a["hw"], channels_in=a["channels_in"], **c)
