"""Standalone multi-threshold activation: re-quantizes an integer stream per channel.

Folding: PE channels per cycle; cycles = num_vectors * C / PE.
"""

from __future__ import annotations

import numpy as np

from hwgen.dtypes import DType
from hwgen.layers import kernels
from hwgen.layers.base import ChannelLayer, dtype_dict


class Thresholding(ChannelLayer):
    op = "Thresholding"
    array_fields = ("thresholds",)

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
