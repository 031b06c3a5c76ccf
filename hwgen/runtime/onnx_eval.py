"""Moved to hwgen.onnx_eval (the evaluator sits below the graph and the transforms, which use it)."""

from hwgen.onnx_eval import QONNX_OPS, SubgraphEvaluator, attr, constants_of  # noqa: F401

_attr = attr
