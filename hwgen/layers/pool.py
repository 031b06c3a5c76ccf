"""Pool ("Pool"): the window reducer after a sliding-window generator: max, or a window sum followed by QONNX
Trunc (Brevitas' TruncAvgPool / QuantAvgPool: `conv_kernels.trunc`).

In: a window stream (1, OH, OW, window * C) in `conv_kernels.sliding_window` order; out: (1, OH, OW, C) NHWC,
PE channels per word both sides. A global pool needs no generator: an NHWC frame is already the one window of
the whole image (pixels = 1, window = H * W). hwgen.layers.pool_spec.PoolSpec holds the RTL block's quantities.
Max pooling on integer levels is exact when the levels are an increasing function of the values (a positive
scale): the lowering (hwgen.transforms.rules.pool) checks that.
"""

from __future__ import annotations

import numpy as np

from hwgen.dtypes import DType
from hwgen.errors import UnsupportedModelError
from hwgen.layers import conv_kernels as ck
from hwgen.layers import window_cost
from hwgen.layers.base import FrameLayer, divisors
from hwgen.layers.pool_spec import PoolSpec
from hwgen.layers.registry import register


@register
class Pool(FrameLayer):
    op = "Pool"
    hls_frames = True
    hls_template = "hls/pool.hpp.j2"
    rtl_template = "rtl/pool.v.j2"

    def moves_channels(self) -> bool:
        return self.mode == "max"  # a max of one constant is that constant; a sum is not

    def __init__(self, name, in_dtype: DType, out_dtype: DType, ofm, window: int, channels: int, mode: str = "max",
                 shift: int = 0, out_narrow: bool = False, rounding_mode: str = "FLOOR", **kw):
        super().__init__(name, in_dtype, out_dtype, **kw)
        self.ofm = tuple(int(v) for v in ck.pair(ofm))
        self.window, self.channels = int(window), int(channels)
        self.mode, self.shift, self.out_narrow = mode, int(shift), bool(out_narrow)
        self.rounding_mode = rounding_mode.upper()
        if mode == "max" and out_dtype != in_dtype:
            raise ValueError(f"{name}: a max pool keeps its input type ({in_dtype.name}), not {out_dtype.name}")
        if mode != "max" and (in_dtype.bipolar or out_dtype.bipolar):
            # the block sums the stream's bits; a BIPOLAR element's bit is not its value
            raise UnsupportedModelError(f"{name}: an average pool of BIPOLAR values is not supported (a BIPOLAR "
                                        "input or output needs a max pool, or a wider integer type before it)")
        self.spec()  # validates

    @property
    def in_features(self):
        return self.window * self.channels

    @property
    def out_features(self):
        return self.channels

    @property
    def in_hw(self):
        return self.ofm

    @property
    def out_hw(self):
        return self.ofm

    def word_elems(self):
        return self.pe

    def spec(self, pe=None) -> PoolSpec:
        pe = self.pe if pe is None else int(pe)
        idt, odt = self.in_dtype, self.out_dtype
        # BIPOLAR travels as bits 0 / 1 (unsigned, order-preserving): a max over bits is the max over -1 / +1
        return PoolSpec(self.name, self.ofm[0] * self.ofm[1], self.window, self.channels, pe, idt.bits,
                        idt.signed, self.mode, self.shift, odt.bits if self.mode != "max" else 0,
                        odt.signed, self.out_narrow, self.rounding_mode)

    def execute(self, x):
        x = np.asarray(x, dtype=np.int64).reshape(-1, *self.in_shape[1:])
        return self.spec().execute(x)

    def out_range(self):
        n = self.channels
        if self.mode == "max":
            return np.full(n, self.in_dtype.min, dtype=np.int64), np.full(n, self.in_dtype.max, dtype=np.int64)
        lo, hi = ck.int_range(self.out_dtype.bits, self.out_dtype.signed, self.out_narrow)
        return np.full(n, lo, dtype=np.int64), np.full(n, hi, dtype=np.int64)

    def legal_pe(self):
        return divisors(self.channels)

    def cycles(self, pe=None, simd=None):
        pe = self.pe if pe is None else int(pe)
        return self.ofm[0] * self.ofm[1] * self.in_features // pe

    def resources(self, pe=None, simd=None, mem_style=None) -> dict:
        """Estimated resources of templates/rtl/pool.v.j2 (hwgen.layers.window_cost, fitted to yosys)."""
        return window_cost.pool_resources(self.spec(pe))

    def fifo_depth(self, port=0):
        # one word taken every cycle the output register has room: the default 2 never throttles
        return 2

    def words_in_flight(self) -> int:
        # a window's words (kernel positions x channel words) before its result, the pipeline and the 2-word queue
        return self.window * self.channels // self.pe + self.spec().latency() + 2

    def hls_context(self, lib):
        return self.spec().template_context()

    def rtl_context(self, lib, module):
        return dict(self.spec().template_context(), name=module), {}

    def cpu_kernel(self, sw):
        return sw.PoolKernel(self)

    def attrs(self):
        return {"ofm": list(self.ofm), "window": self.window, "channels": self.channels, "mode": self.mode,
                "shift": self.shift, "out_narrow": self.out_narrow, "rounding_mode": self.rounding_mode}

    @classmethod
    def from_json(cls, d, arrays):
        a = d["attrs"]
        return cls(ofm=a["ofm"], window=a["window"], channels=a["channels"], mode=a["mode"], shift=a["shift"],
                   out_narrow=a["out_narrow"], rounding_mode=a["rounding_mode"], **cls._common(d))
