"""Integer points of a lowered graph: where a tensor is an integer stream in hardware.

IntPoint: the output levels q of a quantizer (what hardware streams carry) plus how qonnx de-quantizes them.
AccPoint: the accumulator of a matrix-vector unit, plus how qonnx's float MatMul output relates to it.
Each knows how to turn integer values back into the exact float32 tensor the original graph computes there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hwgen.dtypes import DType


@dataclass
class IntPoint:
    tensor: str  # ONNX tensor carrying the (de-quantized) values in the original graph
    node: str  # the quantizer node that made it
    dtype: DType
    lo: int  # level range
    hi: int
    zp: np.ndarray  # de-quantization: (q - zp) * scale, computed as qonnx does
    scale: np.ndarray
    channels: int

    def dequant(self, q: np.ndarray) -> np.ndarray:
        qf = np.asarray(q).astype(np.float32)
        return ((qf - self.zp) * self.scale).astype(np.float32, copy=False)  # qonnx's Quant output is float32

    def scalar_params(self) -> bool:
        return np.asarray(self.scale).size == 1 and np.asarray(self.zp).size == 1


@dataclass
class AccPoint:
    """acc (hardware) relates to the original MatMul output v by v = float32((acc - offset) * factor)."""

    tensor: str  # tensor fed with v when evaluating the float ops that follow
    factor: np.ndarray  # (C,) float64 = input scale * weight scale per output channel
    offset: np.ndarray  # (C,) float64 = input zero point * weight row sum
    lo: np.ndarray  # (C,) accumulator bounds
    hi: np.ndarray
    chain_prefix: list = field(default_factory=list)  # nodes that must run first (a Gemm with identity weights)

    def to_float(self, acc: np.ndarray) -> np.ndarray:
        a = np.asarray(acc, dtype=np.float64)
        return ((a - self.offset) * self.factor).astype(np.float32)
