"""The convolutional golden kernels (hwgen/layers/conv_kernels.py) against onnxruntime's Conv / MaxPool /
AveragePool / Concat / Resize and qonnx's Trunc, on random integer data held in float32 (exact: every sum here
stays far below 2**24)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from hwgen.layers import conv_kernels as ck


def _run_ort(node, inputs: dict, out_shape=None, initializers=()):
    """One ONNX node as a model, executed by onnxruntime. inputs: name -> float32 NCHW array."""
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, v.shape) for k, v in inputs.items()],
        [helper.make_tensor_value_info(node.output[0], TensorProto.FLOAT, out_shape)],
        initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {k: v.astype(np.float32) for k, v in inputs.items()})[0]


def nchw(x_nhwc):
    return np.ascontiguousarray(np.moveaxis(x_nhwc, -1, 1))


def nhwc(x_nchw):
    return np.ascontiguousarray(np.moveaxis(x_nchw, 1, -1))


def _ints(rng, shape, lo=-8, hi=8):
    return rng.integers(lo, hi, size=shape).astype(np.int64)


# (N, H, W, C, O, kernel, stride, dilation, pads (top, left, bottom, right), groups)
CONV_CASES = [
    (2, 5, 5, 3, 4, (3, 3), (1, 1), (1, 1), (0, 0, 0, 0), 1),
    (1, 7, 9, 2, 5, (3, 2), (2, 1), (1, 1), (1, 0, 1, 0), 1),      # non-square image and kernel, stride
    (1, 9, 8, 3, 2, (3, 3), (1, 2), (2, 2), (2, 1, 2, 1), 1),      # dilation
    (2, 6, 7, 4, 3, (2, 3), (2, 2), (1, 1), (0, 1, 1, 2), 1),      # asymmetric padding
    (1, 8, 8, 5, 5, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 5),      # depthwise
    (1, 9, 6, 4, 4, (3, 1), (2, 1), (2, 1), (0, 0, 1, 0), 4),      # depthwise, non-square, stride, dilation
    (1, 4, 4, 6, 7, (1, 1), (2, 2), (1, 1), (0, 0, 0, 0), 1),      # strided 1x1 (downsample shortcut)
    (1, 1, 20, 3, 4, (1, 5), (1, 2), (1, 3), (0, 2, 0, 1), 1),     # 1-D as H = 1
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[5]}s{c[6]}d{c[7]}p{c[8]}g{c[9]}")
@pytest.mark.parametrize("pad_value", [0, 3])
def test_conv_and_depthwise_match_onnxruntime(case, pad_value):
    n, h, w, c, o, k, s, d, pads, groups = case
    rng = np.random.default_rng(hash(case) % 2**32)
    x = _ints(rng, (n, h, w, c), 0 if pad_value else -8)
    wt = _ints(rng, (o, c // groups, *k), -4, 4)
    if pad_value:  # ONNX Conv pads with zeros: an explicit Pad node with the value, then an unpadded Conv
        xp = ck.pad(x, pads, pad_value)
        ref_in, ref_pads = xp, (0, 0, 0, 0)
    else:
        ref_in, ref_pads = x, pads
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=list(k), strides=list(s), dilations=list(d),
                            pads=[ref_pads[0], ref_pads[1], ref_pads[2], ref_pads[3]], group=groups)
    ref = nhwc(_run_ort(node, {"x": nchw(ref_in), "w": wt}))
    if groups == 1:
        got = ck.conv(x, wt, s, d, pads, pad_value)
    else:
        got = ck.depthwise_conv(x, wt, s, d, pads, pad_value)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, ref.astype(np.int64))


def test_conv_1d_matches_onnxruntime_conv1d():
    rng = np.random.default_rng(1)
    x = _ints(rng, (2, 23, 3))                    # (N, L, C)
    wt = _ints(rng, (4, 3, 3), -4, 4)             # (O, I, K)
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3], strides=[2], dilations=[4], pads=[1, 3])
    ref = np.moveaxis(_run_ort(node, {"x": np.moveaxis(x, -1, 1), "w": wt}), 1, -1)
    got = ck.as_1d(ck.conv(ck.as_2d(x), wt, (1, 2), (1, 4), ck.onnx_pads([1, 3], rank=1)))
    np.testing.assert_array_equal(got, ref.astype(np.int64))


def test_window_order_is_pixel_then_kernel_position_then_channel():
    # x[0, y, x, c] = 100*y + 10*x + c: every element names its position
    x = np.array([[[[100 * y + 10 * xx + c for c in range(2)] for xx in range(3)] for y in range(3)]])
    words = ck.sliding_window_stream(x, (2, 2), simd=1)
    first = words[:8, 0].tolist()  # output pixel (0, 0): (ky, kx) = (0,0), (0,1), (1,0), (1,1), channels inside
    assert first == [0, 1, 10, 11, 100, 101, 110, 111]
    assert words[8:16, 0].tolist() == [10, 11, 20, 21, 110, 111, 120, 121]  # next pixel (0, 1)
    assert ck.sliding_window_stream(x, (2, 2), simd=2).shape == (16, 2)
    with pytest.raises(ValueError):
        ck.sliding_window_stream(x, (2, 2), simd=3)


@pytest.mark.parametrize("k,s,d,pads", [((2, 2), (2, 2), (1, 1), (0, 0, 0, 0)),
                                        ((3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),
                                        ((3, 2), (1, 2), (2, 1), (0, 1, 1, 0)),
                                        ((1, 3), (1, 2), (1, 1), (0, 1, 0, 1))])
def test_max_pool_matches_onnxruntime(k, s, d, pads):
    rng = np.random.default_rng(2)
    x = _ints(rng, (2, 7, 8, 3), -20, 20)  # negatives: padding must never win
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=list(k), strides=list(s), dilations=list(d),
                            pads=list(pads))
    ref = nhwc(_run_ort(node, {"x": nchw(x)}))
    np.testing.assert_array_equal(ck.max_pool(x, k, s, d, pads), ref.astype(np.int64))


@pytest.mark.parametrize("k,s,pads", [((2, 2), (2, 2), (0, 0, 0, 0)), ((3, 3), (1, 2), (1, 0, 1, 1)),
                                      ((3, 2), None, (0, 0, 0, 0))])
def test_pool_sum_is_average_pool_times_window(k, s, pads):
    rng = np.random.default_rng(3)
    x = _ints(rng, (2, 7, 6, 4), 0, 16)
    node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=list(k), strides=list(s or k),
                            pads=list(pads), count_include_pad=1)
    ref = nhwc(_run_ort(node, {"x": nchw(x)})) * (k[0] * k[1])
    np.testing.assert_array_equal(ck.pool_sum(x, k, s, pads), np.rint(ref).astype(np.int64))
    gsum = ck.global_pool_sum(x)
    gnode = helper.make_node("GlobalAveragePool", ["x"], ["y"])
    np.testing.assert_array_equal(gsum, np.rint(nhwc(_run_ort(gnode, {"x": nchw(x)})) * 42).astype(np.int64))


@pytest.mark.parametrize("mode", ck.ROUNDING_MODES)
def test_shift_round_matches_qonnx_rounding(mode):
    from qonnx.custom_op.general.intquant import resolve_rounding_mode

    acc = np.arange(-70, 71, dtype=np.int64)
    for shift in (0, 1, 2, 3):
        ref = resolve_rounding_mode(mode)(acc.astype(np.float64) / 2**shift)
        np.testing.assert_array_equal(ck.shift_round(acc, shift, mode), ref.astype(np.int64), err_msg=f"{shift}")
    np.testing.assert_array_equal(ck.shift_round(acc, -2, mode), acc * 4)


def _qonnx_trunc_avg_pool(x_nchw, k, in_scale, in_bits, out_bits, signed, narrow, mode):
    """AveragePool -> Trunc as Brevitas' TruncAvgPool2d exports it, executed by qonnx (the golden)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.basic import qonnx_make_model

    kk = k[0] * k[1]
    acc_bits = in_bits + int(np.ceil(np.log2(kk)))
    consts = {"s": np.float32(in_scale / kk), "z": np.float32(0), "ib": np.float32(acc_bits),
              "os": np.float32(in_scale / kk * 2 ** (acc_bits - out_bits)), "ob": np.float32(out_bits)}
    oh, ow = x_nchw.shape[2] // k[0], x_nchw.shape[3] // k[1]
    out_shape = [x_nchw.shape[0], x_nchw.shape[1], oh, ow]
    nodes = [helper.make_node("AveragePool", ["x"], ["a"], kernel_shape=list(k), strides=list(k)),
             helper.make_node("Trunc", ["a", "s", "z", "ib", "os", "ob"], ["y"], domain="qonnx.custom_op.general",
                              rounding_mode=mode, signed=int(signed), narrow=int(narrow))]
    graph = helper.make_graph(
        nodes, "trunc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_nchw.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        initializer=[onnx.numpy_helper.from_array(np.asarray(v, np.float32), k_) for k_, v in consts.items()],
        value_info=[helper.make_tensor_value_info("a", TensorProto.FLOAT, out_shape)])
    model = ModelWrapper(qonnx_make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                                helper.make_opsetid("qonnx.custom_op.general", 2)]))
    y = execute_onnx(model, {"x": x_nchw.astype(np.float32) * np.float32(in_scale)})["y"]
    return y / consts["os"], acc_bits - out_bits


@pytest.mark.parametrize("mode", ["FLOOR", "ROUND", "CEIL"])
@pytest.mark.parametrize("k,in_bits,out_bits,signed", [((2, 2), 4, 4, False), ((4, 4), 4, 6, False),
                                                       ((2, 2), 3, 3, True), ((3, 3), 4, 4, False)])
def test_trunc_avg_pool_matches_qonnx_trunc(mode, k, in_bits, out_bits, signed):
    rng = np.random.default_rng(4)
    lo, hi = ck.int_range(in_bits, signed)
    x = rng.integers(lo, hi + 1, size=(3, 8, 9, 5)).astype(np.int64)
    x = x[:, : 8 // k[0] * k[0], : 9 // k[1] * k[1]]
    ref, shift = _qonnx_trunc_avg_pool(nchw(x), k, 0.37, in_bits, out_bits, signed, False, mode)
    got = ck.trunc_avg_pool(x, k, shift=shift, out_bits=out_bits, signed=signed, rounding_mode=mode)
    np.testing.assert_array_equal(got, np.rint(nhwc(ref)).astype(np.int64))


def test_concat_and_upsample_match_onnxruntime():
    rng = np.random.default_rng(5)
    a, b = _ints(rng, (2, 3, 5, 4)), _ints(rng, (2, 3, 5, 2))
    node = helper.make_node("Concat", ["a", "b"], ["y"], axis=1)
    ref = nhwc(_run_ort(node, {"a": nchw(a), "b": nchw(b)}))
    np.testing.assert_array_equal(ck.concat_channels([a, b]), ref.astype(np.int64))
    for f in [(2, 2), (3, 1), (2, 3)]:
        scales = onnx.numpy_helper.from_array(np.array([1, 1, *f], np.float32), "sc")
        node = helper.make_node("Resize", ["a", "", "sc"], ["y"], mode="nearest",
                                coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        ref = nhwc(_run_ort(node, {"a": nchw(a)}, initializers=[scales]))
        np.testing.assert_array_equal(ck.upsample_nearest(a, f), ref.astype(np.int64))


def test_add_streams_and_duplicate():
    rng = np.random.default_rng(6)
    a, b = _ints(rng, (2, 3, 3, 4)), _ints(rng, (2, 3, 3, 4))
    x, y = ck.duplicate(a)
    np.testing.assert_array_equal(x, a)
    np.testing.assert_array_equal(ck.add_streams(a, b), a + b)
    np.testing.assert_array_equal(ck.add_streams(a, b, 3, 2), 3 * a + 2 * b)
    thr = np.tile(np.array([[-4, 0, 4]]), (4, 1))
    np.testing.assert_array_equal(ck.add_streams(a, b, thresholds=thr), (a + b >= -4).astype(int)
                                  + (a + b >= 0) + (a + b >= 4))
    with pytest.raises(ValueError):
        ck.add_streams(a, b[..., :3])


def test_bad_parameters_raise():
    x = np.zeros((1, 3, 3, 2), np.int64)
    with pytest.raises(ValueError):
        ck.sliding_window(x, (5, 5))
    with pytest.raises(ValueError):
        ck.conv(x, np.zeros((2, 3, 1, 1)))
    with pytest.raises(ValueError):
        ck.shift_round(x, 1, "NEAREST")
    with pytest.raises(ValueError):
        ck.concat_channels([x, np.zeros((1, 3, 2, 2))])
