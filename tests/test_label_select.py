"""TopK / ArgMax at the output: in hardware (LabelSelect) when the float map before it is the same strictly
increasing function for every channel, else on the CPU; indices identical to qonnx either way (ties included)."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hwgen.build import compile_model
from tests.qonnx_gen import MLPSpec, make_mlp, qonnx_execute, random_inputs


def _with_topk(m, op, k=3, out_name="idx"):
    g = m.graph
    logits = g.output[0].name
    n_out = g.output[0].type.tensor_type.shape.dim[-1].dim_value
    del g.output[:]
    if op == "TopK":
        g.initializer.append(numpy_helper.from_array(np.array([k], np.int64), "k"))
        g.node.append(helper.make_node("TopK", [logits, "k"], ["vals", out_name], name="topk", axis=-1))
        g.output.append(helper.make_tensor_value_info(out_name, TensorProto.INT64, [1, k]))
    else:
        g.node.append(helper.make_node("ArgMax", [logits], [out_name], name="argmax", axis=1, keepdims=1))
        g.output.append(helper.make_tensor_value_info(out_name, TensorProto.INT64, [1, 1]))
    assert n_out >= k
    return m


CASES = {
    # per-tensor positive scale and a per-tensor bias: the same increasing map on every channel -> hardware
    "topk_hw": (MLPSpec(sizes=[17, 9, 10], w_bits=2, act_bits=2, final_mul=False), "TopK", "LabelSelect"),
    "argmax_hw": (MLPSpec(sizes=[17, 9, 10], w_bits=2, act_bits=2, final_mul=False), "ArgMax", "LabelSelect"),
    # a per-channel output scale changes the order of the floats: the CPU must do it
    "topk_cpu": (MLPSpec(sizes=[17, 9, 10], w_bits=3, act_bits=2, final_mul=True, w_per_channel=True), "TopK",
                 "MVAU"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_topk_argmax(name, tmp_path):
    spec, op, last_op = CASES[name]
    m = _with_topk(make_mlp(spec), op)
    p = tmp_path / "m.onnx"
    onnx.save(m, p)
    g = compile_model(p)
    assert g.layers[-1].op == last_op
    x = random_inputs(m, 400, seed=1)
    x[:50] = 0.0  # many equal logits: ties must go to the lower index, as onnxruntime does
    y = g.execute(x)
    ref = qonnx_execute(m, x)
    assert y.dtype == np.int64 and y.shape == ref.shape
    np.testing.assert_array_equal(y, ref)
