"""Matrix layers: MatMul / Gemm -> MVAU; Conv -> [Pad] -> SWG -> MVAU (groups 1) or VVAU (depthwise).

The accumulator point (hwgen.transforms.points.AccPoint) relates the hardware's integer sum to qonnx's float
output; bias and the float ops up to the next quantizer become that quantizer's thresholds. Per-channel input
scales: a depthwise conv's output channel c reads input channel c only, so its scale and zero point fold into
channel c's factor and offset exactly; a standard conv or a MatMul sums over input channels with different
scales, which no integer sum reproduces: such a node runs on the CPU.
"""

from __future__ import annotations

import numpy as np
from onnx import helper

from hwgen.dtypes import DType
from hwgen.frontend.load import MATMUL_OPS
from hwgen.layers import MVAU, VVAU
from hwgen.layers import conv_kernels as ck
from hwgen.onnx_eval import attr
from hwgen.transforms.input_head import first_layer_exactness
from hwgen.transforms.lowering import per_row
from hwgen.transforms.points import AccPoint
from hwgen.transforms.rules.common import need_int, per_channel, spatial_of, window_attrs, windowed, zero_level
from hwgen.transforms.rules.registry import lowering_rule
from hwgen.transforms.values import Val


@lowering_rule(*sorted(MATMUL_OPS))
def matmul(w, n, vs):
    v = vs[0]
    if not v.is_int:
        raise w.err(n, "it consumes an un-quantized float tensor (the output of "
                       f"{v.chain[-1].name if v.chain else 'a matrix layer'!r}). Insert an activation "
                       "quantizer between matrix layers.")
    if v.pad is not None:
        raise w.err(n, "a Pad before a MatMul/Gemm is not supported.")
    layer, acc, _ = w.make_mvau(n, v.point, w.name("MVAU"))
    if v.perm is not None:  # stream position i holds ONNX feature perm[i]
        layer.weights = layer.weights[:, v.perm]
    plan = w.head_plan
    if plan is not None and plan.grid is not None and v.src == (None, 0) and v.point is plan.point:
        # the first layer on a declared input type (--input-dtype): say whether qonnx's float32 sum is exact
        plan.head.explain += "; " + first_layer_exactness(layer, plan.point, acc.factor)
    src = w.add(layer, v.src)
    return Val(acc, src, w.shape(n.output[0]), layer=layer, prev=(v, n))


@lowering_rule("Conv", merges_pad=True)
def conv(w, n, vs):
    v = vs[0]
    need_int(w, n, v)
    h, wd, c = spatial_of(w, n, v)
    pt = v.point
    rank = len(v.shape)
    group = int(attr(n, "group", 1))
    wq = w.param_nodes.get(n.input[1])
    if wq is None or wq.op_type not in ("Quant", "BipolarQuant"):
        raise w.err(n, f"its weights {n.input[1]!r} are not quantized (no QONNX Quant / BipolarQuant on a "
                       "constant); hwgen maps only integer weights.")
    w_int, w_dt, w_scale = w.weight_ints(wq, n)
    o = int(w_int.shape[0])
    depthwise = group > 1 and group == c and o == c and w_int.shape[1] == 1
    if group > 1 and not depthwise:
        raise w.err(n, f"group={group} is neither 1 nor depthwise (group = channels = {c}, one output per "
                       "channel); hwgen maps standard and depthwise convolutions.")
    if not pt.scalar_params() and not depthwise:
        raise w.err(n, f"its input quantizer {pt.node!r} has a per-channel scale or zero point, and a standard "
                       "convolution sums over input channels: no integer sum reproduces it (a depthwise one "
                       "would fold it per channel).")
    s_w = per_row(np.asarray(w_scale).reshape(o, -1), o, n, w)
    kernel, stride, dil, pads = window_attrs(w, n, v, rank)
    level = zero_level(w, n, pt) if (any(pads) or (v.pad is not None)) else None
    if level is None:
        level = 0 if pt.dtype.bipolar else None
    if kernel == (1, 1) and stride == (1, 1) and not any(pads) and v.pad is None:
        src, ofm = v.src, (h, wd)  # a pointwise conv reads the pixels as they come: no window generator
    else:
        src, ofm, _ = windowed(w, n, v, kernel, stride, dil, pads, level, pt.dtype)
    name = w.name("VVAU" if depthwise else "MVAU")
    if not depthwise:
        wm = ck.conv_weights_to_window_order(w_int)
        layer = MVAU(name, pt.dtype, w_dt, wm, None, out_dtype=DType(2, True), num_vectors=ofm[0] * ofm[1],
                     spatial=ofm, onnx_nodes=[n.name])
    else:
        wm = ck.depthwise_weights(w_int)
        layer = VVAU(name, pt.dtype, w_dt, wm, None, out_dtype=DType(2, True), ofm=ofm, onnx_nodes=[n.name])
    lo, hi = layer.acc_range()
    layer.out_dtype = layer.acc_dtype()
    s_x, z_x = per_channel(pt.scale, o), per_channel(pt.zp, o)  # depthwise: output channel = input channel
    acc = AccPoint(tensor=n.output[0], factor=s_x * s_w, offset=z_x * wm.sum(axis=1), lo=lo, hi=hi)
    if len(n.input) > 2 and n.input[2]:
        # the bias as ONNX adds it: a 1x1 Conv with identity weights over the exact sum, plus the bias
        ident = f"__hwgen_identity_{name}"
        w.consts[ident] = np.eye(o, dtype=np.float32).reshape((o, o) + (1,) * (rank - 2))
        acc.tensor = f"__hwgen_acc_{name}"
        w.set_rank(acc.tensor, rank)
        acc.chain_prefix = [helper.make_node("Conv", [acc.tensor, ident, n.input[2]], [n.output[0]],
                                             name=n.name, kernel_shape=[1] * (rank - 2))]
    src = w.add(layer, src)
    return Val(acc, src, w.shape(n.output[0]), layer=layer, prev=(v, n))
