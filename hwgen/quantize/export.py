"""Write a QNet as a QONNX model, in the form Brevitas' `export_qonnx` gives:

    Quant(input) -> [Quant(W) -> Conv / Gemm(transB=1) with a float bias] -> Relu -> Quant(act) -> MaxPool -> ...

Weights are stored de-quantized (levels x scale, so the `Quant` node is idempotent on them) with per-output-channel
scales shaped (O, 1[, 1, 1]); activation quantizers are per tensor, zero point 0, narrow 0, ROUND; weight quantizers
signed narrow. Batch 1 input shape, as Brevitas exports.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from hwgen.quantize.ptq import ActQ, QNet

QONNX_DOMAIN = "qonnx.custom_op.general"


class _Writer:
    def __init__(self):
        self.nodes, self.inits, self.names = [], [], set()

    def name(self, base: str) -> str:
        base = "".join(c if c.isalnum() or c in "_." else "_" for c in base) or "t"
        n, k = base, 0
        while n in self.names:
            k += 1
            n = f"{base}_{k}"
        self.names.add(n)
        return n

    def const(self, base: str, value) -> str:
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), n))
        return n

    def node(self, op: str, inputs, base: str, domain: str = "", **attrs) -> str:
        out = self.name(base + "_out")
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=self.name(base), domain=domain, **attrs))
        return out

    def quant(self, x: str, scale, bits: int, signed: bool, narrow: bool, base: str) -> str:
        ins = [x, self.const(base + "_scale", scale), self.const(base + "_zeropt", 0.0),
               self.const(base + "_bitwidth", float(bits))]
        return self.node("Quant", ins, base, domain=QONNX_DOMAIN, signed=int(signed), narrow=int(narrow),
                         rounding_mode="ROUND")


def to_qonnx(qn: QNet, producer: str = "hwgen quantize") -> onnx.ModelProto:
    net = qn.net
    wr = _Writer()
    wr.names.add(net.input_name)
    x = _act(wr, net.input_name, qn.input_q, "input_quant")
    for i, s in enumerate(net.steps):
        base = f"{s.fn}{i}"
        if s.fn == "linear":
            lin, wq = s.linear, qn.weights[i]
            shape = (-1,) + (1,) * (lin.w.ndim - 1)
            w = wr.quant(wr.const(f"{base}_weight", wq.w), wq.scales.reshape(shape), wq.bits, True, True,
                         f"{base}_weight_quant")
            b = wr.const(f"{base}_bias", wq.b)
            if lin.kind == "gemm":
                x = wr.node("Gemm", [x, w, b], base, transB=1)
            else:
                x = wr.node("Conv", [x, w, b], base, kernel_shape=list(lin.w.shape[2:]), pads=list(lin.pads),
                            strides=list(lin.strides), dilations=list(lin.dilations), group=1)
        elif s.fn == "relu":
            x = wr.node("Relu", [x], base)
        elif s.fn == "maxpool":
            a = s.attrs
            x = wr.node("MaxPool", [x], base, kernel_shape=list(a["kernel"]), strides=list(a["strides"]),
                        pads=list(a["pads"]))
        elif s.fn == "flatten":
            x = wr.node("Flatten", [x], base, axis=1)
        else:  # softmax / logsoftmax at the end
            x = wr.node("Softmax" if s.fn == "softmax" else "LogSoftmax", [x], base, axis=-1)
        if i in qn.acts:
            x = _act(wr, x, qn.acts[i], f"{base}_act_quant")
    out_name = net.output_name if net.output_name not in wr.names else wr.name(net.output_name)
    wr.nodes[-1].output[0] = out_name  # the last node writes the graph output (no Identity)
    inp = helper.make_tensor_value_info(net.input_name, TensorProto.FLOAT, list(net.input_shape))
    out = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)
    g = helper.make_graph(wr.nodes, "hwgen_quantized", [inp], [out], initializer=wr.inits)
    m = helper.make_model(g, producer_name=producer,
                          opset_imports=[helper.make_opsetid("", max(13, min(net.opset, 18))),
                                         helper.make_opsetid(QONNX_DOMAIN, 2)])
    m.ir_version = 8
    return m


def _act(wr: _Writer, x: str, a: ActQ, base: str) -> str:
    return wr.quant(x, a.scale, a.bits, a.signed, False, base)
