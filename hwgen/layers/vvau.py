"""Vector-vector-activation unit (VVAU): the matrix part of a depthwise convolution (groups = channels).

acc[c] = sum_k window[k, c] * W[c, k] per output pixel, then optional per-channel thresholds
(`conv_kernels.vvau`). In: the sliding-window stream (1, OH, OW, K * C), window order (kernel position, then
channels); out: (1, OH, OW, C). Folding: PE channels in parallel; SIMD kernel positions in parallel.
cycles = OH * OW * (C / PE) * (K / SIMD).
"""

from __future__ import annotations

import numpy as np

from hwgen.dtypes import DType, from_name, smallest_for_range
from hwgen.layers import conv_kernels as ck
from hwgen.layers.base import HwLayer, divisors, thresholded_range
from hwgen.layers.registry import register


@register
class VVAU(HwLayer):
    op = "VVAU"
    array_fields = ("weights", "thresholds")

    def __init__(self, name, in_dtype: DType, w_dtype: DType, weights: np.ndarray, thresholds: np.ndarray | None,
                 out_dtype: DType, ofm, out_base: int = 0, mem_style: str = "auto", **kw):
        kw.setdefault("spatial", ofm)
        super().__init__(name, in_dtype, out_dtype, **kw)
        self.weights = np.asarray(weights, dtype=np.int64)  # (C, K)
        self.thresholds = None if thresholds is None else np.asarray(thresholds, dtype=np.int64)
        self.w_dtype = w_dtype
        self.ofm = tuple(int(v) for v in ck.pair(ofm))
        self.out_base = int(out_base)
        self.mem_style = mem_style
        self.num_vectors = self.ofm[0] * self.ofm[1]

    @property
    def channels(self) -> int:
        return int(self.weights.shape[0])

    @property
    def window(self) -> int:
        return int(self.weights.shape[1])

    @property
    def in_features(self):
        return self.window * self.channels

    @property
    def out_features(self):
        return self.channels

    @property
    def in_shape(self):
        return [1, *self.ofm, self.in_features]

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
        return self.pe * self.simd

    def out_elems_per_word(self):
        return self.pe

    def acc_range(self) -> tuple[np.ndarray, np.ndarray]:
        w = self.weights
        a, b = w * self.in_dtype.min, w * self.in_dtype.max
        return np.minimum(a, b).sum(axis=1), np.maximum(a, b).sum(axis=1)

    def acc_dtype(self) -> DType:
        lo, hi = self.acc_range()
        dt = smallest_for_range(min(int(lo.min()), 0), max(int(hi.max()), 0))
        return dt if dt.signed else DType(dt.bits + 1, True)

    def execute(self, x):
        x = np.asarray(x, dtype=np.int64).reshape(-1, *self.in_shape[1:])
        return ck.vvau(x, self.weights, self.thresholds, self.out_base, self.out_dtype.bipolar)

    def out_range(self):
        if self.thresholds is None:
            lo, hi = self.acc_range()
            return np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
        return thresholded_range(self.channels, self.thresholds.shape[1], self.out_base, self.out_dtype)

    def legal_pe(self):
        return divisors(self.channels)

    def legal_simd(self):
        return [1]  # SIMD over kernel positions needs the generator's depthwise order (not built yet)

    def cycles(self, pe=None, simd=None):
        pe = self.pe if pe is None else int(pe)
        simd = self.simd if simd is None else int(simd)
        return self.num_vectors * (self.channels // pe) * (self.window // simd)

    def fifo_depth(self, port=0):
        return 2

    def cpu_kernel(self, sw):
        return sw.VvauKernel(self)

    def attrs(self):
        return {"C": self.channels, "K": self.window, "ofm": list(self.ofm), "w_dtype": self.w_dtype.name,
                "acc_dtype": self.acc_dtype().name,
                "n_thresholds": 0 if self.thresholds is None else int(self.thresholds.shape[1]),
                "out_base": self.out_base, "mem_style": self.mem_style}

    @classmethod
    def from_json(cls, d, arrays):
        a = d["attrs"]
        return cls(weights=arrays["weights"], thresholds=arrays.get("thresholds"), w_dtype=from_name(a["w_dtype"]),
                   ofm=a["ofm"], out_base=a["out_base"], mem_style=a.get("mem_style", "auto"), **cls._common(d))

