"""Label select (top-k): indices of the k largest values of a frame, largest first, ties to the lower index.

Folding: PE values read per cycle; cycles = C / PE per frame (the k results leave while the next frame streams in).
"""

from __future__ import annotations

from hwgen.dtypes import DType
from hwgen.layers import cost, kernels
import numpy as np

from hwgen.layers.base import ChannelLayer, dtype_dict
from hwgen.layers.registry import register


@register
class LabelSelect(ChannelLayer):
    op = "LabelSelect"
    hls_template = "hls/label_select.hpp.j2"
    hls_frames = True  # the process takes `frames` (hwgen.codegen.dma batches frames per call)
    hls_headers = ("label_select.hpp",)
    rtl_template = "rtl/label_select.v.j2"

    def __init__(self, name, in_dtype: DType, channels: int, k: int, out_dtype: DType, **kw):
        super().__init__(name, in_dtype, out_dtype, **kw)
        self.channels = int(channels)
        self.k = int(k)

    @property
    def out_features(self):
        return self.k

    def out_elems_per_word(self):
        return 1

    def execute(self, x):
        return kernels.label_select(x, self.k)

    # --- cost model of the RTL block (templates/rtl/label_select.v.j2, yosys synth_xilinx -family xc7) ------
    def rtl_shape(self, pe=None, simd=None) -> dict:
        pe = self.pe if pe is None else int(pe)
        return dict(PE=pe, NF=self.channels // pe, IB=self.in_dtype.bits, OB=self.out_dtype.bits, K=self.k,
                    signed=self.in_dtype.signed and not self.in_dtype.bipolar)

    def memories(self, pe=None, simd=None, mem_style=None) -> dict:
        return {}

    def resources(self, pe=None, simd=None, mem_style=None) -> dict:
        """Estimated {"luts", "ffs", "bram18", "uram", "dsps", "lutram"} of the RTL block (no memories)."""
        return cost.label_select_resources(self.rtl_shape(pe))

    def out_range(self):
        n = self.out_features
        return np.zeros(n, dtype=np.int64), np.full(n, self.channels - 1, dtype=np.int64)

    def fifo_depth(self, port=0):
        return max(2, self.in_words_per_frame() + 2)  # reads a whole frame before it answers

    def hls_context(self, lib):
        return lib.label_select_context(dict(self.template_params(), num_vectors=self.num_vectors))

    def rtl_context(self, lib, module):
        return lib.label_select_context(dict(self.template_params(), name=module))

    def cpu_kernel(self, sw):
        return sw.LabelSelectKernel(self)

    @classmethod
    def block_io(cls, p):
        nv = int(p.get("num_vectors", 1))
        return int(p["PE"]), p["in_dtype"], nv * int(p["C"]) // int(p["PE"]), 1, p["out_dtype"], nv * int(p["k"])

    @classmethod
    def hls_block_context(cls, lib, p):
        return lib.label_select_context(p)

    @classmethod
    def rtl_block_context(cls, lib, p):
        return lib.label_select_context(p)

    def template_params(self):
        return {
            "name": self.name,
            "C": self.channels,
            "PE": self.pe,
            "k": self.k,
            "in_dtype": dtype_dict(self.in_dtype),
            "out_dtype": dtype_dict(self.out_dtype),
        }

    def attrs(self):
        return {"C": self.channels, "k": self.k}

    @classmethod
    def from_json(cls, d, arrays):
        return cls(channels=d["attrs"]["C"], k=d["attrs"]["k"], **cls._common(d))
