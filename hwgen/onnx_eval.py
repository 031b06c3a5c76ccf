"""The host's face of the one CPU evaluator (hwgen.evaluator): ONNX subgraphs (the CPU islands, heads and tails,
and the float chains between quantizers) run exactly as qonnx runs them.

qonnx executes standard ONNX nodes one at a time with onnxruntime and its own custom ops in numpy. To agree with
it to the last bit, the evaluator does the same where onnxruntime is installed (always, with hwgen): one cached
onnxruntime session per standard node (fed the node's constants as inputs, as qonnx does) and hwgen.quant for
Quant / BipolarQuant / Trunc. The board runs the same evaluator on numpy alone (hwgen.evaluator says where that
can differ).
"""

from __future__ import annotations

from onnx import helper, numpy_helper

from hwgen.errors import HwgenError, describe_node
from hwgen.evaluator import QONNX_OPS, Evaluator  # noqa: F401  (QONNX_OPS: re-exported)


class EvaluationError(HwgenError):
    """A node the evaluator (onnxruntime, as qonnx runs it) cannot execute: the model is not valid there."""

    def __init__(self, node, err: Exception):
        lines = str(err).strip().splitlines()
        msg = lines[-1][:300] if lines else type(err).__name__
        name = getattr(node, "name", "")
        op = getattr(node, "op_type", "?")
        where = describe_node(node.proto) if getattr(node, "proto", None) is not None else f"{op} node {name!r}"
        super().__init__(f"{where} cannot be executed ({type(err).__name__}: {msg}); qonnx cannot run the model "
                         "there either: fix the export.")
        self.node = node


class SubgraphEvaluator(Evaluator):
    """Runs `nodes` (topologically ordered NodeProtos) given constant tensors and the graph's opset; int_output:
    quantizer outputs to give as integer levels."""


def attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            v = helper.get_attribute_value(a)
            return v.decode() if isinstance(v, bytes) else v
    return default


def constants_of(graph) -> dict:
    return {i.name: numpy_helper.to_array(i) for i in graph.initializer}


_attr = attr  # the old private name
