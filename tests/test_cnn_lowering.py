"""Convolutional networks lowered to hardware graphs (hwgen.transforms.lower_cnn): every committed CNN test model,
QONNX and QCDQ, runs through compile_model and the reference backend bit-exactly as qonnx runs it (on the
model's saved inputs and on random ones), with the hardware ops each model should give; the MNIST CNN keeps
qonnx's accuracy on all 10,000 test images; unsupported patterns are clear errors naming the node."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hwgen.build import compile_model
from hwgen.errors import UnsupportedModelError
from hwgen.graph import HwGraph
from hwgen.verify import golden
from tests.cnn_models import io_pair, model_path

# hardware ops per model (QONNX and QCDQ twins alike). The FC after a feature map stays in hardware when
# qonnx's float32 sum of it is exact (CNV: binary / power-of-two scales); otherwise the CPU tail runs it.
OPS = {
    "mnist_cnn_w4a4": {"SWG": 4, "MVAU": 2, "Pool": 2},
    "cnv_1w1a": {"SWG": 8, "MVAU": 9, "Pool": 2},
    "cnv_1w2a": {"SWG": 8, "MVAU": 9, "Pool": 2},
    "cnv_2w2a": {"SWG": 8, "MVAU": 9, "Pool": 2},
    "resnet_w4a4": {"Pad": 5, "SWG": 6, "MVAU": 6, "Duplicate": 2, "AddStreams": 2, "Thresholding": 1, "Pool": 1},
    "mobilenet_w4a4": {"Pad": 3, "SWG": 3, "MVAU": 3, "VVAU": 2, "Pool": 1},
    "conv1d_w4a4": {"Pad": 1, "SWG": 4, "MVAU": 3, "Pool": 1},
    "concat_pad_w4a4": {"Pad": 4, "SWG": 5, "MVAU": 4, "Duplicate": 1, "Concat": 1, "Upsample": 1, "Pool": 1},
}
# the QCDQ twins write the average pool's Trunc as QuantizeLinear, which rounds qonnx's float32 average: at a
# tie its result depends on the window's values, not only their integer sum, so the CPU tail runs the pool
OPS_QCDQ = {"resnet_w4a4": {**OPS["resnet_w4a4"]}, "mobilenet_w4a4": {**OPS["mobilenet_w4a4"]}}
for _ops in OPS_QCDQ.values():
    del _ops["Pool"]
FAST = ["resnet_w4a4_qcdq.onnx", "mnist_cnn_w4a4.onnx", "mnist_cnn_w4a4_qcdq.onnx", "resnet_w4a4.onnx", "mobilenet_w4a4.onnx",
        "mobilenet_w4a4_qcdq.onnx", "conv1d_w4a4.onnx", "conv1d_w4a4_qcdq.onnx", "concat_pad_w4a4.onnx",
        "concat_pad_w4a4_qcdq.onnx"]
SLOW = ["cnv_1w1a.onnx.gz", "cnv_1w2a.onnx.gz", "cnv_2w2a.onnx.gz"]


def _inputs(name, n_random=6, seed=0):
    x, _ = io_pair(name)
    rng = np.random.default_rng(seed)
    r = rng.standard_normal((n_random, *x.shape[1:])) * float(x.std()) + float(x.mean())
    return np.concatenate([x, r.astype(np.float32)])


def _check_model(name, tmp_path):
    p = model_path(name, tmp_path)
    g = compile_model(p)
    base = name.split(".")[0].removesuffix("_qcdq")
    ops = OPS_QCDQ.get(base, OPS[base]) if "_qcdq" in name else OPS[base]
    assert dict(Counter(lay.op for lay in g.layers)) == ops
    for op in ("MVAU", "VVAU", "SWG"):  # matrix layers named <op>_<k> in graph order (FOLD.json keys)
        assert [lay.name for lay in g.layers if lay.op == op] == [f"{op}_{k}" for k in range(OPS[base].get(op, 0))]
    x = _inputs(name)
    y = g.execute(x)
    want = golden(p, x)
    assert y.shape == want.shape
    np.testing.assert_array_equal(y, want)
    return g, p, x, y


@pytest.mark.parametrize("name", FAST)
def test_model_reference_bit_exact(name, tmp_path):
    _check_model(name, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_cnv_reference_bit_exact(name, tmp_path):
    _check_model(name, tmp_path)


def test_graph_saved_and_loaded(tmp_path):
    """hwgraph.json keeps the DAG (edges, Duplicate / AddStreams) and the NHWC head and tail."""
    g, p, x, y = _check_model("resnet_w4a4.onnx", tmp_path)
    g.save(tmp_path / "out")
    g2 = HwGraph.load(tmp_path / "out")
    assert [lay.name for lay in g2.layers] == [lay.name for lay in g.layers]
    np.testing.assert_array_equal(g2.execute(x), y)


def test_head_is_nhwc_and_fc_weights_follow_it(tmp_path):
    g, p, x, y = _check_model("conv1d_w4a4.onnx", tmp_path)
    assert g.head.nodes[-1].op_type == "Transpose"
    q = g.head_ints(x[:1])
    c, length = x.shape[1:]
    assert q.shape == (1, c * length)


# --- error cases -----------------------------------------------------------------------------------------------
def _conv_model(tmp_path, group=1, pads=(0, 0, 0, 0), ceil=False, zp=0.0, pool="MaxPool", axis=1):
    """x (1, 4, 6, 6) -> Quant -> Conv 3x3 -> Relu -> Quant -> pool -> Flatten -> MatMul."""
    rng = np.random.default_rng(0)
    cin = 4
    w = rng.integers(-3, 4, (4, cin // group, 3, 3)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.float32(0.5), "s"),
             numpy_helper.from_array(np.float32(zp), "z"), numpy_helper.from_array(np.float32(4), "b"),
             numpy_helper.from_array(np.float32(1.0), "ws"), numpy_helper.from_array(np.float32(0), "wz")]
    nodes = [helper.make_node("Quant", ["x", "s", "z", "b"], ["xq"], name="q_in", domain="qonnx.custom_op.general",
                              signed=1, narrow=0, rounding_mode="ROUND"),
             helper.make_node("Quant", ["w", "ws", "wz", "b"], ["wq"], name="q_w", domain="qonnx.custom_op.general",
                              signed=1, narrow=0, rounding_mode="ROUND"),
             helper.make_node("Conv", ["xq", "wq"], ["c"], name="the_conv", kernel_shape=[3, 3], group=group,
                              pads=list(pads)),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Quant", ["r", "s", "wz", "b"], ["a"], name="q_act", domain="qonnx.custom_op.general",
                              signed=0, narrow=0, rounding_mode="ROUND"),
             helper.make_node(pool, ["a"], ["p"], name="the_pool", kernel_shape=[2, 2], strides=[2, 2],
                              **({"ceil_mode": 1} if ceil else {})),
             helper.make_node("Flatten", ["p"], ["f"], name="flat")]
    oh = 6 + pads[0] + pads[2] - 2
    feats = 4 * ((oh - 2) // 2 + (1 if ceil and (oh - 2) % 2 else 0) + 1) ** 2
    inits.append(numpy_helper.from_array(rng.integers(-3, 4, (feats, 3)).astype(np.float32), "fw"))
    nodes += [helper.make_node("Quant", ["fw", "ws", "wz", "b"], ["fwq"], name="q_fw",
                               domain="qonnx.custom_op.general", signed=1, narrow=0, rounding_mode="ROUND"),
              helper.make_node("MatMul", ["f", "fwq"], ["y"], name="fc")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                helper.make_opsetid("qonnx.custom_op.general", 1)])
    f = tmp_path / "conv.onnx"
    onnx.save(m, f)
    return f


def test_small_conv_model_exact(tmp_path):
    f = _conv_model(tmp_path, pads=(1, 0, 1, 2))
    g = compile_model(f)
    x = np.random.default_rng(1).standard_normal((16, 4, 6, 6)).astype(np.float32) * 3
    np.testing.assert_array_equal(g.execute(x), golden(f, x))
    assert [lay.op for lay in g.layers][:3] == ["Pad", "SWG", "MVAU"]


def test_errors_name_the_node(tmp_path):
    with pytest.raises(UnsupportedModelError, match=r"the_conv.*group=2"):
        compile_model(_conv_model(tmp_path, group=2))
    with pytest.raises(UnsupportedModelError, match=r"the_conv.*padding value 0.0 is not a level"):
        compile_model(_conv_model(tmp_path, pads=(1, 1, 1, 1), zp=0.5))
    with pytest.raises(UnsupportedModelError, match=r"the_pool.*ceil_mode=1"):
        compile_model(_conv_model(tmp_path, ceil=True, pads=(0, 0, 1, 1)))
    with pytest.raises(UnsupportedModelError, match=r"the_pool.*followed by exactly one Trunc or Quant"):
        compile_model(_conv_model(tmp_path, pool="AveragePool"))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mnist_cnn_w4a4.onnx", "mnist_cnn_w4a4_qcdq.onnx"])
def test_mnist_cnn_all_test_images(name, tmp_path):
    """All 10,000 ../shared MNIST test images: the accuracy is qonnx's (tests/models/cnn/README.md: 99.02 % on
    all 10,000, 98.05 % on the 2,000 held out) and the logits are bit-exact on all but a handful of images: the
    thresholds are exact for the exact conv sums, while qonnx sums the float32 products in onnxruntime's order,
    which can round across a quantizer step (image 7083: one activation level of the first conv)."""
    from tests.conftest import load_mnist

    x, labels = load_mnist()
    p = model_path(name, tmp_path)
    g = compile_model(p)
    y = np.concatenate([g.execute(x[i:i + 2000]) for i in range(0, len(x), 2000)])
    want = np.concatenate([golden(p, x[i:i + 2000]) for i in range(0, len(x), 2000)])
    differ = int((y != want).any(axis=1).sum())
    assert differ <= 3, f"{differ} of 10,000 images differ from qonnx"
    assert np.array_equal(y.argmax(axis=1), want.argmax(axis=1))
    acc = float((y.argmax(axis=1) == labels).mean())
    held_out = float((y[8000:].argmax(axis=1) == labels[8000:]).mean())
    assert acc == float((want.argmax(axis=1) == labels).mean())
    assert (round(acc * 100, 2), round(held_out * 100, 2)) == (99.02, 98.05)
