"""Convolutional networks lowered to hardware graphs (hwgen.transforms.rules): every committed CNN test model,
QONNX and QCDQ, runs through compile_model and the reference backend bit-exactly as qonnx runs it (on the
model's saved inputs and on random ones), with the hardware ops each model should give; the MNIST CNN keeps
qonnx's accuracy on all 10,000 test images; unsupported patterns are clear errors naming the node."""

from __future__ import annotations

import re
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
FAST = ["resnet_w4a4_qcdq.onnx", "mnist_cnn_w4a4.onnx", "mnist_cnn_w4a4_qcdq.onnx", "resnet_w4a4.onnx",
        "mobilenet_w4a4.onnx",
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


@pytest.mark.parametrize("name", ["resnet_w4a4.onnx", "concat_pad_w4a4.onnx", "mobilenet_w4a4_qcdq.onnx"])
def test_graph_saved_and_loaded(name, tmp_path):
    """hwgraph.json keeps the DAG (edges, Duplicate / AddStreams / Concat / VVAU ...) and the NHWC head and tail."""
    g, p, x, y = _check_model(name, tmp_path)
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
def _conv_model(tmp_path, group=1, pads=(0, 0, 0, 0), ceil=False, zp=0.0, pool="MaxPool", axis=1, strides=(1, 1),
                dilations=(1, 1), pool_first=False, neg_scale=False, pad_node=False, transpose=False,
                argmax=False):
    """x (1, 4, 9, 9) -> Quant -> Conv 3x3 (+ bias) -> Mul (per channel) -> Relu -> Quant -> pool 2x2 -> Flatten ->
    MatMul; pool_first: the pool right after the Mul (on the accumulator's float map)."""
    rng = np.random.default_rng(0)
    cin, size = 4, 9
    w = rng.integers(-3, 4, (4, cin // group, 3, 3)).astype(np.float32)
    mul = np.array([0.5, 1.5, -0.75 if neg_scale else 0.75, 2.0], np.float32).reshape(1, 4, 1, 1)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.float32(0.5), "s"),
             numpy_helper.from_array(np.float32(zp), "z"), numpy_helper.from_array(np.float32(4), "b"),
             numpy_helper.from_array(np.float32(1.0), "ws"), numpy_helper.from_array(np.float32(0), "wz"),
             numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "bias"),
             numpy_helper.from_array(mul, "mul")]
    q = dict(domain="qonnx.custom_op.general", narrow=0, rounding_mode="ROUND")
    pool_in = "m" if pool_first else "a"
    pool_node = helper.make_node(pool, ["padded" if pad_node else pool_in], ["p"], name="the_pool",
                                 kernel_shape=[2, 2], strides=[2, 2], **({"ceil_mode": 1} if ceil else {}))
    nodes = [helper.make_node("Quant", ["x", "s", "z", "b"], ["xq"], name="q_in", signed=1, **q),
             helper.make_node("Quant", ["w", "ws", "wz", "b"], ["wq"], name="q_w", signed=1, **q),
             helper.make_node("Conv", ["xq", "wq", "bias"], ["c"], name="the_conv", kernel_shape=[3, 3],
                              group=group, pads=list(pads), strides=list(strides), dilations=list(dilations)),
             helper.make_node("Mul", ["c", "mul"], ["m"], name="scale"),
             helper.make_node("Relu", ["p" if pool_first else "m"], ["r"], name="relu"),
             helper.make_node("Quant", ["r", "s", "wz", "b"], ["a"], name="q_act", signed=int(pad_node), **q)]
    if pad_node:  # an ONNX Pad (zeros) before the pool: a signed activation's 0 is not its min, so no merging
        inits.append(numpy_helper.from_array(np.array([0, 0, 1, 0, 0, 0, 0, 1], np.int64), "pads"))
        nodes.append(helper.make_node("Pad", ["a", "pads"], ["padded"], name="the_pad"))
        pads = (pads[0] + 1, pads[1], pads[2], pads[3] + 1)  # (for the feature count below)
    nodes += [pool_node] if not pool_first else []
    nodes = nodes[:4] + [pool_node] + nodes[4:] if pool_first else nodes
    flat_in = "a" if pool_first else "p"
    if transpose:  # NHWC flatten, as Keras exports it
        nodes.append(helper.make_node("Transpose", [flat_in], ["pt"], name="to_nhwc", perm=[0, 2, 3, 1]))
        flat_in = "pt"
    nodes.append(helper.make_node("Flatten", [flat_in], ["f"], name="flat"))
    oh = [(size + pads[i] + pads[i + 2] - dilations[i] * 2 - 1) // strides[i] + 1 for i in (0, 1)]
    ph = [(o - 2) // 2 + (1 if ceil and (o - 2) % 2 else 0) + 1 for o in oh]
    feats = 4 * ph[0] * ph[1]
    inits.append(numpy_helper.from_array(rng.integers(-3, 4, (feats, 3)).astype(np.float32), "fw"))
    nodes += [helper.make_node("Quant", ["fw", "ws", "wz", "b"], ["fwq"], name="q_fw", signed=1, **q),
              helper.make_node("MatMul", ["f", "fwq"], ["logits" if argmax else "y"], name="fc")]
    if argmax:
        nodes.append(helper.make_node("ArgMax", ["logits"], ["y"], name="argmax", axis=1, keepdims=1))
    out = helper.make_tensor_value_info("y", TensorProto.INT64 if argmax else TensorProto.FLOAT,
                                        [1, 1 if argmax else 3])
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                         [1, cin, size, size])], [out], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                helper.make_opsetid("qonnx.custom_op.general", 1)])
    f = tmp_path / "conv.onnx"
    onnx.save(m, f)
    return f


def _exact(f, n=32):
    g = compile_model(f)
    x = np.random.default_rng(1).standard_normal((n, 4, 9, 9)).astype(np.float32) * 3
    np.testing.assert_array_equal(g.execute(x), golden(f, x))
    return [lay.op for lay in g.layers]


@pytest.mark.parametrize("kw, ops", [
    (dict(pads=(1, 0, 1, 2)), ["Pad", "SWG", "MVAU", "SWG", "Pool", "MVAU"]),
    (dict(strides=(2, 1), dilations=(1, 2)), ["SWG", "MVAU", "SWG", "Pool", "MVAU"]),
    (dict(group=4, pads=(1, 1, 1, 1)), ["Pad", "SWG", "VVAU", "SWG", "Pool", "MVAU"]),
    (dict(pool_first=True), ["SWG", "MVAU", "SWG", "Pool", "Thresholding", "MVAU"]),
    (dict(zp=-2.0, pads=(2, 2, 0, 0)), ["Pad", "SWG", "MVAU", "SWG", "Pool", "MVAU"]),
    (dict(pad_node=True), ["SWG", "MVAU", "Pad", "SWG", "Pool", "MVAU"]),
    (dict(transpose=True), ["SWG", "MVAU", "SWG", "Pool", "MVAU"]),
    (dict(argmax=True), ["SWG", "MVAU", "SWG", "Pool", "MVAU", "LabelSelect"]),
])
def test_conv_variants_exact(tmp_path, kw, ops):
    assert _exact(_conv_model(tmp_path, **kw)) == ops


def cpu_reasons(g) -> str:
    from hwgen.build import cpu_partitions

    return "\n".join(p["reason"] for p in cpu_partitions(g))


def _on_cpu(f, match, n=24):
    """--hw-only refuses `f` naming the node and why; a plain build runs that node on the CPU (the reason in
    the report) and stays bit-exact with qonnx."""
    with pytest.raises(UnsupportedModelError, match=match):
        compile_model(f, hw_only=True)
    g = compile_model(f)
    assert re.search(match, cpu_reasons(g), re.S), cpu_reasons(g)
    x = np.random.default_rng(2).standard_normal((n, *g.input_shape[1:])).astype(np.float32) * 3
    np.testing.assert_array_equal(g.execute(x), golden(f, x))
    return g


def test_errors_name_the_node(tmp_path):
    _on_cpu(_conv_model(tmp_path, group=2), r"the_conv.*group=2")
    _on_cpu(_conv_model(tmp_path, pads=(1, 1, 1, 1), zp=0.5), r"the_conv.*padding value 0.0 is not .*level")
    _on_cpu(_conv_model(tmp_path, ceil=True), r"the_pool.*ceil_mode=1")
    _on_cpu(_conv_model(tmp_path, pool="AveragePool"), r"the_pool.*followed by exactly one Trunc or Quant")
    _on_cpu(_conv_model(tmp_path, pool_first=True, neg_scale=True), r"the_pool.*decreases .* channel 2.*Quantize "
            "before")


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


def _residual_model(tmp_path, sa=0.5, sb=0.5, after="quant"):
    """x (1, 2, 6, 6) -> Quant -> (Conv 3x3 pad 1 -> Relu -> Quant sa | Conv 1x1 -> Quant sb) -> Add -> (Relu ->
    Quant | MaxPool 2x2) -> Flatten -> MatMul."""
    rng = np.random.default_rng(3)
    q = dict(domain="qonnx.custom_op.general", narrow=0, rounding_mode="ROUND")
    c = {"s": 0.5, "sa": sa, "sb": sb, "so": 0.75, "z": 0.0, "b": 4.0, "one": 1.0}
    inits = [numpy_helper.from_array(np.float32(v), k) for k, v in c.items()]
    inits += [numpy_helper.from_array(rng.integers(-3, 4, (4, 2, 3, 3)).astype(np.float32), "wa"),
              numpy_helper.from_array(rng.integers(-3, 4, (4, 2, 1, 1)).astype(np.float32), "wb")]
    nodes = [helper.make_node("Quant", ["x", "s", "z", "b"], ["xq"], name="q_in", signed=1, **q),
             helper.make_node("Quant", ["wa", "one", "z", "b"], ["waq"], name="q_wa", signed=1, **q),
             helper.make_node("Quant", ["wb", "one", "z", "b"], ["wbq"], name="q_wb", signed=1, **q),
             helper.make_node("Conv", ["xq", "waq"], ["ca"], name="conv_a", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["ca"], ["ra"], name="relu_a"),
             helper.make_node("Quant", ["ra", "sa", "z", "b"], ["qa"], name="q_a", signed=0, **q),
             helper.make_node("Conv", ["xq", "wbq"], ["cb"], name="conv_b", kernel_shape=[1, 1]),
             helper.make_node("Quant", ["cb", "sb", "z", "b"], ["qb"], name="q_b", signed=1, **q),
             helper.make_node("Add", ["qa", "qb"], ["sum"], name="the_add")]
    if after == "quant":
        nodes += [helper.make_node("Relu", ["sum"], ["rs"], name="relu_s"),
                  helper.make_node("Quant", ["rs", "so", "z", "b"], ["h"], name="q_out", signed=0, **q)]
        feats = 4 * 36
    else:
        nodes += [helper.make_node("MaxPool", ["sum"], ["h"], name="pool", kernel_shape=[2, 2], strides=[2, 2])]
        feats = 4 * 9
    inits.append(numpy_helper.from_array(rng.integers(-3, 4, (feats, 5)).astype(np.float32), "fw"))
    nodes += [helper.make_node("Flatten", ["h"], ["f"], name="flat"),
              helper.make_node("Quant", ["fw", "one", "z", "b"], ["fwq"], name="q_fw", signed=1, **q),
              helper.make_node("MatMul", ["f", "fwq"], ["y"], name="fc")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                helper.make_opsetid("qonnx.custom_op.general", 1)])
    f = tmp_path / "residual.onnx"
    onnx.save(m, f)
    return f


@pytest.mark.parametrize("sa, sb, after, muls", [(0.5, 0.5, "quant", (1, 1)), (0.5, 0.375, "quant", (4, 3)),
                                                 (0.3, 0.7, "quant", None), (0.5, 0.5, "pool", (1, 1))])
def test_residual_add_exact(tmp_path, sa, sb, after, muls):
    f = _residual_model(tmp_path, sa, sb, after)
    g = compile_model(f)
    x = np.random.default_rng(2).standard_normal((64, 2, 6, 6)).astype(np.float32) * 4
    np.testing.assert_array_equal(g.execute(x), golden(f, x))
    add = next(lay for lay in g.layers if lay.op == "AddStreams")
    assert (add.thresholds is None) == (after == "pool")
    if muls:
        assert (add.a_mul, add.b_mul) == muls
    assert [lay.op for lay in g.layers].count("Duplicate") == 1


def _edited_concat_pad(tmp_path, edit):
    m = onnx.load(model_path("concat_pad_w4a4.onnx", tmp_path))
    edit(m)
    f = tmp_path / "edited.onnx"
    onnx.save(m, f)
    return f


def test_concat_and_resize_errors(tmp_path):
    def rescale(m):  # the Concat's second input quantizer gets a scale of its own
        q = next(n for n in m.graph.node if n.name == "/shared/act_quant/export_handler_2/Quant")
        m.graph.initializer.append(numpy_helper.from_array(np.float32(0.25), "other_scale"))
        q.input[1] = "other_scale"

    # each output channel of a Concat is one input channel: different scales become a per-channel scale
    g = compile_model(_edited_concat_pad(tmp_path, rescale))
    assert "Concat" in [lay.op for hw in g.hw_islands for lay in hw.layers]
    x = np.random.default_rng(3).standard_normal((16, *g.input_shape[1:])).astype(np.float32)
    np.testing.assert_array_equal(g.execute(x), golden(_edited_concat_pad(tmp_path, rescale), x))

    def linear(m):
        r = next(n for n in m.graph.node if n.op_type == "Resize")
        next(a for a in r.attribute if a.name == "mode").s = b"linear"

    _on_cpu(_edited_concat_pad(tmp_path, linear), r"/up/Resize.*not a nearest-neighbour upsampling")

    def reflect(m):
        p = next(n for n in m.graph.node if n.op_type == "Pad")
        next(a for a in p.attribute if a.name == "mode").s = b"reflect"

    _on_cpu(_edited_concat_pad(tmp_path, reflect), r"/pad/Pad.*only constant padding")


def test_cli_exit_2_on_unsupported_conv_with_hw_only(tmp_path, capsys, monkeypatch):
    from hwgen.cli import main

    f = _conv_model(tmp_path, group=2)
    monkeypatch.chdir(tmp_path)
    assert main(["build", "conv.onnx", "-o", "out", "--hw-only"]) == 2
    err = capsys.readouterr().err
    assert "the_conv" in err and "group=2" in err and "Traceback" not in err


@pytest.mark.parametrize("end", ["conv", "quant"])
def test_feature_map_output_back_to_nchw(tmp_path, end):
    """A model ending in a feature map: the tail turns the NHWC stream back into NCHW (accumulator entry with a
    bias, or quantizer levels)."""
    rng = np.random.default_rng(4)
    q = dict(domain="qonnx.custom_op.general", narrow=0, rounding_mode="ROUND")
    inits = [numpy_helper.from_array(np.float32(v), k) for k, v in {"s": 0.25, "z": 0.0, "b": 4.0}.items()]
    inits += [numpy_helper.from_array(rng.integers(-3, 4, (5, 3, 2, 3)).astype(np.float32), "w"),
              numpy_helper.from_array(rng.standard_normal(5).astype(np.float32), "bias"),
              numpy_helper.from_array(np.array([0.5, 0.25, 1, 2, 0.125], np.float32).reshape(5, 1, 1, 1), "ws")]
    nodes = [helper.make_node("Quant", ["x", "s", "z", "b"], ["xq"], name="q_in", signed=1, **q),
             helper.make_node("Quant", ["w", "ws", "z", "b"], ["wq"], name="q_w", signed=1, **q),
             helper.make_node("Conv", ["xq", "wq", "bias"], ["c" if end == "quant" else "y"], name="conv",
                              kernel_shape=[2, 3], pads=[0, 1, 1, 0])]
    if end == "quant":
        nodes.append(helper.make_node("Quant", ["c", "s", "z", "b"], ["y"], name="q_out", signed=1, **q))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 5, 7])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5, 5, 6])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                helper.make_opsetid("qonnx.custom_op.general", 1)])
    f = tmp_path / "fmap.onnx"
    onnx.save(m, f)
    g = compile_model(f)
    x = rng.standard_normal((16, 3, 5, 7)).astype(np.float32)
    np.testing.assert_array_equal(g.execute(x), golden(f, x))
    assert [lay.op for lay in g.layers] == ["Pad", "SWG", "MVAU"]


@pytest.mark.parametrize("pool, mode, ops", [
    ("GlobalAveragePool", "FLOOR", ["SWG", "MVAU", "Pool"]),
    ("AveragePool", "ROUND", ["SWG", "MVAU", "SWG", "Pool"]),
    ("AveragePool", "CEIL", ["SWG", "MVAU", "SWG", "Pool"]),
])
def test_trunc_average_pools(tmp_path, pool, mode, ops):
    """Conv -> Relu -> Quant -> (Global)AveragePool -> Trunc (QONNX v2, Brevitas' TruncAvgPool) -> FC (its scale
    0.3 / 4 is not a power of two: the CPU tail runs it)."""
    rng = np.random.default_rng(6)
    q = dict(domain="qonnx.custom_op.general", narrow=0, rounding_mode="ROUND")
    s, k = 0.3, (16 if pool == "GlobalAveragePool" else 4)
    c = {"s": s, "z": 0.0, "b": 4.0, "one": 1.0, "ts": s / k, "tib": 4.0 + np.log2(k), "tos": s / k * 4,
         "tob": 4.0}
    inits = [numpy_helper.from_array(np.float32(v), n) for n, v in c.items()]
    inits.append(numpy_helper.from_array(rng.integers(-3, 4, (6, 2, 3, 3)).astype(np.float32), "w"))
    nodes = [helper.make_node("Quant", ["x", "s", "z", "b"], ["xq"], name="q_in", signed=1, **q),
             helper.make_node("Quant", ["w", "one", "z", "b"], ["wq"], name="q_w", signed=1, **q),
             helper.make_node("Conv", ["xq", "wq"], ["cv"], name="conv", kernel_shape=[3, 3]),
             helper.make_node("Relu", ["cv"], ["r"], name="relu"),
             helper.make_node("Quant", ["r", "s", "z", "b"], ["a"], name="q_a", signed=0, **q),
             helper.make_node(pool, ["a"], ["p"], name="pool",
                              **({} if pool == "GlobalAveragePool" else {"kernel_shape": [2, 2], "strides": [2, 2]})),
             helper.make_node("Trunc", ["p", "ts", "z", "tib", "tos", "tob"], ["t"], name="trunc",
                              domain="qonnx.custom_op.general", rounding_mode=mode, signed=0, narrow=0),
             helper.make_node("Flatten", ["t"], ["f"], name="flat")]
    feats = 6 if pool == "GlobalAveragePool" else 6 * 4
    inits.append(numpy_helper.from_array(rng.integers(-3, 4, (feats, 3)).astype(np.float32), "fw"))
    nodes += [helper.make_node("Quant", ["fw", "one", "z", "b"], ["fwq"], name="q_fw", signed=1, **q),
              helper.make_node("MatMul", ["f", "fwq"], ["y"], name="fc")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                helper.make_opsetid("qonnx.custom_op.general", 2)])
    f = tmp_path / "avg.onnx"
    onnx.save(m, f)
    g = compile_model(f)
    x = rng.standard_normal((64, 2, 6, 6)).astype(np.float32) * 2
    np.testing.assert_array_equal(g.execute(x), golden(f, x))
    assert [lay.op for lay in g.layers] == ops
    pl = next(lay for lay in g.layers if lay.op == "Pool")
    assert (pl.mode, pl.shift, pl.rounding_mode) == ("trunc_avg", 2, mode)


def test_hwgen_build_writes_a_build_directory(tmp_path, monkeypatch):
    """`hwgen build` of the MNIST CNN from a fresh directory with relative paths: the build directory holds the
    DAG, it loads back and runs as compiled; summary.json lists the conv matrix layers as MVAU in graph order."""
    import json
    import shutil

    from hwgen.cli import main

    shutil.copy(model_path("mnist_cnn_w4a4.onnx", tmp_path), tmp_path / "m.onnx")
    monkeypatch.chdir(tmp_path)
    assert main(["build", "m.onnx", "-o", "out"]) == 0
    s = json.loads((tmp_path / "out" / "report" / "summary.json").read_text())
    assert [lay["name"] for lay in s["layers"] if lay["op"] == "MVAU"] == ["MVAU_0", "MVAU_1"]
    g = HwGraph.load(tmp_path / "out")
    x = _inputs("mnist_cnn_w4a4.onnx")
    np.testing.assert_array_equal(g.execute(x), golden(tmp_path / "m.onnx", x))
    assert main(["verify", "out", "-n", "24"]) == 0  # its inputs: uniform levels (no aiming through feature maps)
