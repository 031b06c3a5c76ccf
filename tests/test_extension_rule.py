"""Proof of extension for lowering (issue 20): a new ONNX op mapped to hardware by one rule defined in this file,
with no edit to hwgen. ONNX ReduceMax over the spatial axes of a quantized feature map (a global max pool, as
Keras exports GlobalMaxPooling2D) runs on the CPU until the rule below is registered; with it, it is a hardware
Pool(max) layer, and the build stays bit-exact with qonnx (reference and cpu backends)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hwgen.build import compile_model, write_build
from hwgen.layers import Pool
from hwgen.onnx_eval import attr
from hwgen.transforms.rules import lowering_rule, remove_rule
from hwgen.transforms.rules.common import need_int, spatial_of
from hwgen.verify import golden


def global_max_pool(w, n, vs):
    """ReduceMax over (H, W), keepdims: max commutes with an increasing de-quantization (positive scales)."""
    v = vs[0]
    need_int(w, n, v)
    h, wd, c = spatial_of(w, n, v)
    axes = attr(n, "axes")
    if axes is None and len(n.input) > 1 and n.input[1]:
        axes = w.consts.get(n.input[1])
    if axes is None or sorted(int(a) % 4 for a in np.ravel(axes)) != [2, 3] or not attr(n, "keepdims", 1):
        raise w.err(n, "only a ReduceMax over both spatial axes, keepdims=1, is a global max pool.")
    if np.any(np.asarray(v.point.scale) <= 0):
        raise w.err(n, "max pooling commutes only with positive scales.")
    dt = v.point.dtype
    src = w.add(Pool(w.name("Pool"), dt, dt, (1, 1), h * wd, c, mode="max", onnx_nodes=[n.name]), v.src)
    return replace(v, point=replace(v.point, tensor=n.output[0]), src=src, shape=w.shape(n.output[0]))


def model(tmp_path):
    rng = np.random.default_rng(0)
    q = dict(domain="qonnx.custom_op.general", narrow=0, rounding_mode="ROUND")
    c = {"s": 0.25, "z": 0.0, "b4": 4.0, "one": 1.0}
    inits = [numpy_helper.from_array(np.float32(v), k) for k, v in c.items()]
    inits += [numpy_helper.from_array(rng.integers(-3, 4, (6, 3, 3, 3)).astype(np.float32), "w"),
              numpy_helper.from_array(rng.standard_normal(6).astype(np.float32), "bias"),
              numpy_helper.from_array(rng.integers(-3, 4, (6, 4)).astype(np.float32), "fw")]
    nodes = [helper.make_node("Quant", ["x", "s", "z", "b4"], ["xq"], name="q_in", signed=1, **q),
             helper.make_node("Quant", ["w", "one", "z", "b4"], ["wq"], name="q_w", signed=1, **q),
             helper.make_node("Conv", ["xq", "wq", "bias"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Quant", ["r", "s", "z", "b4"], ["a"], name="q_a", signed=0, **q),
             helper.make_node("ReduceMax", ["a"], ["m"], name="gmax", axes=[2, 3], keepdims=1),
             helper.make_node("Flatten", ["m"], ["f"], name="flat"),
             helper.make_node("Quant", ["fw", "one", "z", "b4"], ["fwq"], name="q_fw", signed=1, **q),
             helper.make_node("MatMul", ["f", "fwq"], ["y"], name="fc")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], inits)
    f = tmp_path / "gmax.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13),
                                                  helper.make_opsetid("qonnx.custom_op.general", 1)]), f)
    return f


@pytest.fixture
def rule():
    lowering_rule("ReduceMax")(global_max_pool)
    yield
    remove_rule(global_max_pool)


def _ops(g):
    return [lay.op for hw in g.hw_islands for lay in hw.layers]


def test_without_the_rule_the_op_runs_on_the_cpu(tmp_path):
    from hwgen.build import cpu_partitions

    g = compile_model(model(tmp_path))  # the ReduceMax, and the FC after it, in the CPU tail
    assert "Pool" not in _ops(g) and any("ReduceMax" in p["reason"] for p in cpu_partitions(g))


def test_a_rule_from_outside_hwgen_puts_the_op_in_hardware(tmp_path, rule):
    from hwgen.runtime.accelerator import Accelerator

    f = model(tmp_path)
    g = compile_model(f)
    assert g.single is not None and _ops(g) == ["Pad", "SWG", "MVAU", "Pool", "MVAU"]
    x = np.random.default_rng(1).standard_normal((16, 3, 8, 8)).astype(np.float32) * 2
    want = golden(f, x)
    np.testing.assert_array_equal(g.execute(x), want)
    write_build(g, tmp_path / "out", log=lambda *a: None)
    for b in ("reference", "cpu"):
        np.testing.assert_array_equal(Accelerator(tmp_path / "out", b).execute(x), want, err_msg=b)
