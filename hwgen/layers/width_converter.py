"""Width converter: re-packs a stream of `dtype` elements from words of `in_elems` to words of `out_elems`
(one a multiple of the other), element order unchanged. Placed by the graph transform
(hwgen.transforms.streams) where a producer's words and its consumer's words hold different element counts;
never by the lowering passes, never folded.

Cycles per frame: the longer side's words (one word per cycle each side).
"""

from __future__ import annotations

from hwgen.dtypes import DType, from_name
from hwgen.layers.base import HwLayer
from hwgen.layers.registry import register


@register
class WidthConverter(HwLayer):
    op = "WidthConverter"
    inserted = True
    hls_template = "hls/width_converter.hpp.j2"
    hls_frames = True  # the process takes `frames` (hwgen.codegen.dma batches frames per call)
    hls_headers = ("width_converter.hpp",)
    rtl_template = "rtl/dwc.v.j2"

    def __init__(self, name, dtype: DType, channels: int, in_elems: int, out_elems: int, **kw):
        kw.pop("in_dtype", None)
        kw.pop("out_dtype", None)
        super().__init__(name, dtype, dtype, **kw)
        self.channels, self.in_elems, self.out_elems = int(channels), int(in_elems), int(out_elems)
        big, small = max(self.in_elems, self.out_elems), min(self.in_elems, self.out_elems)
        if big % small or self.channels % big:
            raise ValueError(f"{name}: words of {in_elems} and {out_elems} elements do not tile {channels} channels "
                             "(one must divide the other, both the channel count)")

    @property
    def in_features(self):
        return self.channels

    @property
    def out_features(self):
        return self.channels

    def in_elems_per_word(self):
        return self.in_elems

    def out_elems_per_word(self):
        return self.out_elems

    def execute(self, x):
        return x

    def cycles(self, pe=None, simd=None):
        return max(self.in_words_per_frame(), self.out_words_per_frame())

    def resources(self, pe=None, simd=None, mem_style=None):
        # a shift register of the wide word and a sub-word counter (not calibrated: glue, a few % of a layer)
        wide = max(self.in_elems, self.out_elems) * self.in_dtype.bits
        return {"luts": wide, "ffs": wide + 4, "bram18": 0, "uram": 0, "dsps": 0, "lutram": 0}

    def out_range(self):
        import numpy as np

        n = self.channels
        return np.full(n, self.in_dtype.min, dtype=np.int64), np.full(n, self.in_dtype.max, dtype=np.int64)

    def hls_context(self, lib):
        elems = max(self.in_elems, self.out_elems)
        return lib.width_converter_context(dict(
            name=self.name, in_elems=self.in_elems, out_elems=self.out_elems, dtype=self.in_dtype, elems=elems,
            num_vectors=self.num_vectors * self.channels // elems))

    def rtl_context(self, lib, module):
        b = self.in_dtype.bits
        return lib.dwc_context(dict(name=module, in_width=self.in_elems * b, out_width=self.out_elems * b,
                                    elem_bits=b))

    def cpu_kernel(self, sw):
        return sw.IdentityKernel(self)

    # per block: the HLS template (width_converter) takes elements per word, the RTL one (dwc) bit widths
    @classmethod
    def block_io(cls, p):
        nv, n = int(p["num_vectors"]), int(p["elems"])
        return (int(p["in_elems"]), p["dtype"], nv * n // int(p["in_elems"]),
                int(p["out_elems"]), p["dtype"], nv * n // int(p["out_elems"]))

    @classmethod
    def hls_block_context(cls, lib, p):
        return lib.width_converter_context(p)

    @classmethod
    def rtl_block_context(cls, lib, p):
        return lib.dwc_context(p)

    def attrs(self):
        return {"dtype": self.in_dtype.name, "C": self.channels, "in_elems": self.in_elems,
                "out_elems": self.out_elems}

    @classmethod
    def from_json(cls, d, arrays):
        a = d["attrs"]
        return cls(d["name"], from_name(a["dtype"]), a["C"], a["in_elems"], a["out_elems"],
                   num_vectors=d.get("num_vectors", 1), onnx_nodes=d.get("onnx_nodes", []))
