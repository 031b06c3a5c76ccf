"""Standalone multi-threshold activation: re-quantizes an integer stream per channel.

Folding: PE channels per cycle; cycles = num_vectors * C / PE.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from hwgen.bits import signed_bits
from hwgen.dtypes import DType
from hwgen.layers import cost, kernels
from hwgen.layers.roms import live_width
from hwgen.layers.base import ChannelLayer, dtype_dict, thresholded_range
from hwgen.layers.pipeline import threshold_latency
from hwgen.layers.registry import register


@dataclass(frozen=True)
class ThresholdingSpec:
    """Derived hardware quantities of a thresholding block at one folding (see MvauSpec)."""

    PE: int
    NF: int  # words per pixel (C / PE)
    IB: int
    OB: int
    INW: int
    OUTW: int
    NT: int  # thresholds per channel, their signed bits (covering the input range), memory word bits
    TB: int
    TW: int

    def as_dict(self) -> dict:
        return asdict(self)


@register
class Thresholding(ChannelLayer):
    op = "Thresholding"
    array_fields = ("thresholds",)
    hls_template = "hls/thresholding.hpp.j2"
    hls_frames = True  # the process takes `frames` (hwgen.codegen.dma batches frames per call)
    hls_headers = ("thresholding.hpp",)
    rtl_template = "rtl/thresholding.v.j2"

    def __init__(self, name, in_dtype: DType, thresholds: np.ndarray, out_dtype: DType, out_base: int = 0,
                 mem_style: str = "auto", **kw):
        super().__init__(name, in_dtype, out_dtype, **kw)
        self.thresholds = np.asarray(thresholds, dtype=np.int64)
        self.out_base = int(out_base)
        self.mem_style = mem_style

    @property
    def channels(self) -> int:
        return int(self.thresholds.shape[0])

    @property
    def out_features(self):
        return self.channels

    def execute(self, x):
        return kernels.apply_thresholds(x, self.thresholds, self.out_base, self.out_dtype.bipolar)

    # --- cost model of the RTL block (templates/rtl/thresholding.v.j2, yosys synth_xilinx -family xc7) ------
    def rtl_shape(self, pe=None, simd=None) -> dict:
        """spec() as a dict (the cost model's view)."""
        return self.spec(pe).as_dict()

    def spec(self, pe=None) -> ThresholdingSpec:
        pe = self.pe if pe is None else int(pe)
        idt, odt, thr = self.in_dtype, self.out_dtype, self.thresholds
        nt = int(thr.shape[1])
        tb = signed_bits(min(idt.min, int(thr.min())), max(idt.max, int(thr.max())))
        return ThresholdingSpec(PE=pe, NF=self.channels // pe, IB=idt.bits, OB=odt.bits, INW=pe * idt.bits,
                                OUTW=pe * odt.bits, NT=nt, TB=tb, TW=pe * nt * tb)

    def memories(self, pe=None, simd=None, mem_style=None) -> dict:
        """ROM of the RTL block: {"thresholds": {"depth", "width", "live_width", "mem_style"}} (see MVAU.memories)."""
        sh = self.rtl_shape(pe)
        t = self.thresholds.reshape(sh["NF"], sh["PE"] * sh["NT"])
        return {"thresholds": {"depth": sh["NF"], "width": sh["TW"], "live_width": live_width(t, (0,), sh["TB"]),
                               "mem_style": self.mem_style if mem_style is None else mem_style}}

    def resources(self, pe=None, simd=None, mem_style=None) -> dict:
        """Estimated {"luts", "ffs", "bram18", "uram", "dsps", "lutram"} of the RTL block (see MVAU.resources)."""
        return cost.thresholding_resources(self.rtl_shape(pe), self.memories(pe, None, mem_style))

    def out_range(self):
        return thresholded_range(self.channels, self.thresholds.shape[1], self.out_base, self.out_dtype)

    def hls_context(self, lib):
        return lib.thresholding_context(dict(self.template_params(), spec=self.spec().as_dict()))

    def rtl_context(self, lib, module):
        return lib.thresholding_context(dict(self.template_params(), name=module, spec=self.spec().as_dict()))

    def pipeline_words(self) -> int:
        """Most words the RTL block holds between its ports, at any clock (LPS 1): the input register, the
        compares and count tree (hwgen_thresholds), the 2-word queue (for hwgen.codegen.dma.flag_queue_depth)."""
        return 1 + threshold_latency(int(self.thresholds.shape[1]), 1) + 2

    def words_in_flight(self) -> int:
        return super().words_in_flight() + threshold_latency(int(self.thresholds.shape[1]), 1)

    def cpu_kernel(self, sw):
        return sw.ThresholdsKernel(self)

    @classmethod
    def block_io(cls, p):
        n = int(p["num_vectors"]) * int(p["C"]) // int(p["PE"])
        return int(p["PE"]), p["in_dtype"], n, int(p["PE"]), p["out_dtype"], n

    @classmethod
    def hls_block_context(cls, lib, p):
        return lib.thresholding_context(p)

    @classmethod
    def rtl_block_context(cls, lib, p):
        return lib.thresholding_context(p)

    def template_params(self):
        return {
            "name": self.name,
            "C": self.channels,
            "PE": self.pe,
            "num_vectors": self.num_vectors,
            "in_dtype": dtype_dict(self.in_dtype),
            "out_dtype": dtype_dict(self.out_dtype),
            "thresholds": self.thresholds,
            "out_base": self.out_base,
            "mem_style": self.mem_style,
        }

    def attrs(self):
        return {"C": self.channels, "n_thresholds": int(self.thresholds.shape[1]), "out_base": self.out_base,
                "mem_style": self.mem_style}

    @classmethod
    def from_json(cls, d, arrays):
        a = d["attrs"]
        return cls(thresholds=arrays["thresholds"], out_base=a["out_base"], mem_style=a.get("mem_style", "auto"),
                   **cls._common(d))
