"""Standalone Thresholding: a re-quantization (quantizer -> float ops -> quantizer) with no MatMul between
becomes a Thresholding layer, bit-exact with qonnx."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from hwgen.build import compile_model
from tests.qonnx_gen import qonnx_execute


def _quant(name, x, out, scale, bits, signed, narrow=0, zp=0.0):
    inits = [numpy_helper.from_array(np.asarray(scale, np.float32), f"{name}_s"),
             numpy_helper.from_array(np.asarray(zp, np.float32), f"{name}_z"),
             numpy_helper.from_array(np.asarray(bits, np.float32), f"{name}_b")]
    node = helper.make_node("Quant", [x, f"{name}_s", f"{name}_z", f"{name}_b"], [out], name=name,
                            domain="qonnx.custom_op.general", signed=signed, narrow=narrow, rounding_mode="ROUND")
    return node, inits


def _model(scale_mul):
    rng = np.random.default_rng(3)
    C = 8
    nodes, inits = [], []
    n, i = _quant("q_in", "inp", "q_in_out", 0.25, 5, 1)
    nodes.append(n), inits.extend(i)
    inits.append(numpy_helper.from_array(scale_mul.astype(np.float32), "mul_c"))
    inits.append(numpy_helper.from_array(rng.normal(0, 0.3, C).astype(np.float32), "add_c"))
    nodes += [helper.make_node("Mul", ["q_in_out", "mul_c"], ["m"], name="mul"),
              helper.make_node("Add", ["m", "add_c"], ["a"], name="add"),
              helper.make_node("Relu", ["a"], ["r"], name="relu")]
    # power-of-two scales into the MatMul: qonnx's float32 sum is exact, so the MatMul stays in hardware
    n, i = _quant("q_req", "r", "q_req_out", 0.25, 3, 0)
    nodes.append(n), inits.extend(i)
    w = rng.normal(0, 1, (C, 5)).astype(np.float32)
    inits.append(numpy_helper.from_array(w, "W"))
    n, i = _quant("q_w", "W", "W_q", 0.5, 3, 1, narrow=1)
    nodes.append(n), inits.extend(i)
    nodes.append(helper.make_node("MatMul", ["q_req_out", "W_q"], ["out"], name="mm"))
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("inp", TensorProto.FLOAT, [1, C])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 5])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13),
                                            helper.make_opsetid("qonnx.custom_op.general", 1)])
    return m


def test_requantization_becomes_thresholding(tmp_path):
    m = _model(np.array([0.5, 1.5, 0.3, 2.0, 0.7, 1.1, 0.2, 3.0]))
    p = tmp_path / "m.onnx"
    onnx.save(m, p)
    g = compile_model(p)
    assert [(lay.op, lay.name) for lay in g.layers] == [("Thresholding", "Thresholding_0"), ("MVAU", "MVAU_0")]
    assert g.layers[0].onnx_nodes == ["mul", "add", "relu", "q_req"]
    assert g.layers[0].in_dtype.name == "INT5" and g.layers[0].out_dtype.name == "UINT3"
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-5, 5, (400, 8)), np.round(rng.uniform(-5, 5, (100, 8)) * 8) / 8]).astype(
        np.float32)
    np.testing.assert_array_equal(g.execute(x), qonnx_execute(m, x))
