"""Evaluate ONNX subgraphs (the CPU partitions and the float chains between quantizers) exactly as qonnx does.

qonnx executes standard ONNX nodes one at a time with onnxruntime and its own custom ops in numpy. To agree with
it to the last bit, this evaluator does the same: one cached onnxruntime session per standard node (fed the
node's constants as inputs, as qonnx does) and hwgen.quant for Quant / BipolarQuant / Trunc.

Batch: the subgraphs come from a model with batch size 1. Any leading batch size N works for element-wise and
matrix ops; Reshape targets that name the batch explicitly (1, ...) are rewritten to (N, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from hwgen import quant as q
from hwgen.errors import HwgenError, describe_node

QONNX_OPS = {"Quant", "BipolarQuant", "Trunc"}


class EvaluationError(HwgenError):
    """A node the evaluator (onnxruntime, as qonnx runs it) cannot execute: the model is not valid there."""

    def __init__(self, node, err: Exception):
        lines = str(err).strip().splitlines()
        msg = lines[-1][:300] if lines else type(err).__name__
        super().__init__(f"{describe_node(node)} cannot be executed ({type(err).__name__}: {msg}); qonnx cannot run "
                         "the model there either: fix the export.")
        self.node = node


def attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            v = helper.get_attribute_value(a)
            return v.decode() if isinstance(v, bytes) else v
    return default


@dataclass
class SubgraphEvaluator:
    """Runs `nodes` (topologically ordered) given constant tensors and the graph's opset."""

    nodes: list
    constants: dict
    opset: int
    ir_version: int = 7
    int_output: set = field(default_factory=set)  # names of quantizer outputs to emit as integer levels q
    _sessions: dict = field(default_factory=dict, repr=False)

    def run(self, feeds: dict, outputs: list | None = None) -> dict:
        ctx = dict(self.constants)
        ctx.update(feeds)
        batch = next(iter(feeds.values())).shape[0] if feeds else 1
        for idx, node in enumerate(self.nodes):
            ins = [ctx[i] if i else None for i in node.input]
            try:
                if node.op_type in QONNX_OPS:
                    res = self._run_qonnx(node, ins)
                else:
                    if node.op_type == "Reshape" and batch != 1:
                        ins[1] = _rebatch_shape(ins[1], batch)
                    res = self._run_ort(idx, node, ins)
            except (HwgenError, FloatingPointError, KeyboardInterrupt):
                raise
            except Exception as e:  # onnxruntime's errors: name the node
                raise EvaluationError(node, e) from None
            for name, val in zip(node.output, res):
                if name:
                    ctx[name] = val
        if outputs is None:
            return ctx
        return {o: ctx[o] for o in outputs}

    def _run_qonnx(self, node, ins):
        op = node.op_type
        if op == "BipolarQuant":
            qi = q.bipolar_quant_int(ins[0])
            return [qi if node.output[0] in self.int_output else qi * ins[1]]
        if op == "Quant":
            x, scale, zp, bits = ins[:4]
            signed = bool(attr(node, "signed", 1))
            narrow = bool(attr(node, "narrow", 0))
            mode = attr(node, "rounding_mode", "ROUND")
            qi = q.quant_int(x, scale, zp, bits, signed, narrow, mode)
            # qonnx casts a Quant's output to float32 (its parameters may be int64 / float64, as QKeras's
            # converter writes them, which makes the arithmetic above float64)
            return [qi if node.output[0] in self.int_output else ((qi - zp) * scale).astype(np.float32, copy=False)]
        # Trunc
        mode = attr(node, "rounding_mode", "FLOOR")
        p = q.trunc_params(ins, mode)
        qi, zp_out, scale_out = q.trunc_int(p, mode, bool(attr(node, "narrow", 0)), bool(attr(node, "signed", 1)))
        return [qi if node.output[0] in self.int_output else (qi - zp_out) * scale_out]

    def _run_ort(self, idx, node, ins):
        import onnxruntime as rt

        names = [i for i in node.input if i]
        arrays = [a for a in ins if a is not None]
        key = (idx, tuple(a.dtype.str for a in arrays))
        sess = self._sessions.get(key)
        if sess is None:
            inputs = [
                helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), None)
                for n, a in zip(names, arrays)
            ]
            outputs = [onnx.ValueInfoProto(name=o) for o in node.output if o]
            g = helper.make_graph([node], "hwgen_single_node", inputs, outputs)
            m = helper.make_model(g, opset_imports=[helper.make_opsetid("", self.opset)])
            m.ir_version = self.ir_version
            sess = rt.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
            self._sessions[key] = sess
        feed = {n: np.asarray(a) for n, a in zip(names, arrays)}
        return sess.run(None, feed)


def _rebatch_shape(shape, batch):
    shape = np.array(shape, dtype=np.int64).copy()
    if shape.ndim == 1 and shape.size >= 1 and shape[0] == 1:
        shape[0] = batch
    return shape


def constants_of(graph) -> dict:
    return {i.name: numpy_helper.to_array(i) for i in graph.initializer}


_attr = attr  # the old private name
