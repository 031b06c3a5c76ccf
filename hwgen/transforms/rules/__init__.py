"""Lowering rules, one module per family of ONNX ops; importing this package registers the built-in ones.

    quantize     Quant / BipolarQuant / Trunc: thresholds of the layer before them, or a Thresholding layer
    matrix       MatMul / Gemm -> MVAU; Conv -> [Pad] -> SWG -> MVAU or VVAU
    pool         MaxPool, AveragePool / GlobalAveragePool (+ their Trunc / Quant) -> [Pad] -> SWG -> Pool
    joins        Add of two streams -> AddStreams; Concat; nearest Resize / Upsample; Pad
    elementwise  element-wise and output ops join the value's chain; shape ops rewrite its layout

hwgen.transforms.rules.registry holds the registry (`lowering_rule`, `find`); see its docstring for adding one.
"""

from hwgen.transforms.rules import elementwise, joins, matrix, pool, quantize  # noqa: F401  (registers them)
from hwgen.transforms.rules.registry import RULES, Rule, find, lowering_rule, remove_rule

__all__ = ["RULES", "Rule", "find", "lowering_rule", "remove_rule"]
