"""Pools: MaxPool on quantizer levels or on accumulators, AveragePool / GlobalAveragePool followed by Trunc / Quant.

MaxPool     [Pad with the type's min] -> SWG -> Pool(max) on quantizer levels: max commutes with an increasing
            de-quantization (every scale positive; per-channel scales included: each output channel reads one
            input channel).
AveragePool -> Trunc / Quant: [Pad] -> SWG -> Pool(trunc_avg) (a whole-image pool needs no SWG).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from onnx import helper

from hwgen import quant as qnt
from hwgen.layers import Pool
from hwgen.onnx_eval import SubgraphEvaluator, attr
from hwgen.transforms.points import AccPoint
from hwgen.transforms.rules.common import ceil_check, is_pow2, need_int, spatial_of, window_attrs, windowed
from hwgen.transforms.rules.registry import lowering_rule
from hwgen.transforms.values import Val


@lowering_rule("MaxPool", merges_pad=True)
def max_pool(w, n, vs):
    v = vs[0]
    if isinstance(v.point, AccPoint) and v.layer is not None and v.perm is None and v.pad is None:
        return max_pool_acc(w, n, v)
    need_int(w, n, v)
    h, wd, c = spatial_of(w, n, v)
    pt = v.point
    if np.any(np.asarray(pt.scale) <= 0):
        raise w.err(n, "its input quantizer has a non-positive scale; max pooling commutes only with an "
                       "increasing de-quantization.")
    kernel, stride, dil, pads = window_attrs(w, n, v, len(v.shape))
    ceil_check(w, n, v, kernel, stride, dil, pads)
    dt = pt.dtype
    if not any(pads) and v.pad is None and kernel == (h, wd) and dil == (1, 1):
        src, ofm = v.src, (1, 1)
    else:
        src, ofm, _ = windowed(w, n, v, kernel, stride, dil, pads, dt.min, dt)
    pool = Pool(w.name("Pool"), dt, dt, ofm, kernel[0] * kernel[1], c, mode="max", onnx_nodes=[n.name])
    src = w.add(pool, src)
    return replace(v, point=replace(pt, tensor=n.output[0]), src=src, shape=w.shape(n.output[0]), pad=None)


def max_pool_acc(w, n, v):
    """MaxPool between a matrix layer and its quantizer: pooled on the accumulators, exact when the float ops
    before it are non-decreasing in the accumulator for every channel (max commutes with them); the
    quantizer becomes a Thresholding after the pool."""
    acc = v.point
    h, wd, c = spatial_of(w, n, v)
    nodes = acc.chain_prefix + v.chain
    if nodes:
        ev = SubgraphEvaluator(nodes, w.consts, w.opset)
        lo, hi = np.asarray(acc.lo, dtype=np.int64), np.asarray(acc.hi, dtype=np.int64)
        span = int((hi - lo).max()) + 1
        k = np.arange(min(span, 4097), dtype=np.int64)[:, None]
        a = np.minimum(lo + (k * (span - 1)) // max(min(span, 4097) - 1, 1), hi)
        r = w.rank(acc.tensor)
        f = ev.run({acc.tensor: acc.to_float(a).reshape(a.shape + (1,) * (r - 2))}, [n.input[0]])[n.input[0]]
        f = np.asarray(f, dtype=np.float64).reshape(a.shape[0], -1)
        bad = np.nonzero(~np.all(np.diff(f, axis=0) >= 0, axis=0))[0]
        if bad.size:
            raise w.err(n, f"it pools the float output of {', '.join(repr(x.name) for x in v.chain)}, "
                           f"which decreases with the accumulator in channel {int(bad[0])}; max pooling "
                           "commutes only with increasing ops. Quantize before the MaxPool.")
    dt = v.layer.out_dtype
    kernel, stride, dil, pads = window_attrs(w, n, v, len(v.shape))
    ceil_check(w, n, v, kernel, stride, dil, pads)
    if not any(pads) and kernel == (h, wd) and dil == (1, 1):
        src, ofm = v.src, (1, 1)
    else:
        src, ofm, _ = windowed(w, n, v, kernel, stride, dil, pads, dt.min, dt)
    pool = Pool(w.name("Pool"), dt, dt, ofm, kernel[0] * kernel[1], c, mode="max", onnx_nodes=[n.name])
    src = w.add(pool, src)
    ident = helper.make_node("Identity", [n.input[0]], [n.output[0]], name=f"{n.name}__hwgen_pooled")
    return replace(v, src=src, shape=w.shape(n.output[0]), chain=v.chain + [ident], layer=None, prev=None)


@lowering_rule("AveragePool", "GlobalAveragePool", merges_pad=True)
def avg_pool(w, n, vs):
    """-> {Trunc / Quant output: Val}: the pool and the quantizer after it are one Pool(trunc_avg) layer."""
    v = vs[0]
    need_int(w, n, v)
    h, wd, c = spatial_of(w, n, v)
    cons = [m for m in w.consumers.get(n.output[0], [])]
    if len(cons) != 1 or cons[0].op_type not in ("Trunc", "Quant"):
        raise w.err(n, "an average pool must be followed by exactly one Trunc or Quant (Brevitas' "
                       "TruncAvgPool / QuantAvgPool) to stay in integers.")
    q = cons[0]
    pt = v.point
    if not pt.scalar_params() or float(np.asarray(pt.zp).ravel()[0]) != 0:
        raise w.err(n, "its input needs a per-tensor quantizer with zero point 0.")
    if n.op_type == "GlobalAveragePool":
        kernel, stride, dil, pads = (h, wd), (1, 1), (1, 1), (0, 0, 0, 0)
    else:
        kernel, stride, dil, pads = window_attrs(w, n, v, len(v.shape))
        ceil_check(w, n, v, kernel, stride, dil, pads)
        if any(pads) and not attr(n, "count_include_pad", 0):
            raise w.err(n, "a padded average pool with count_include_pad=0 divides border windows by "
                           "fewer elements; only count_include_pad=1 is supported.")
    k = kernel[0] * kernel[1]
    s_in = float(np.asarray(pt.scale).ravel()[0])
    c_q = [w.consts.get(i) for i in q.input]
    mode = attr(q, "rounding_mode", "FLOOR" if q.op_type == "Trunc" else "ROUND").upper()
    signed, narrow = bool(attr(q, "signed", 1)), bool(attr(q, "narrow", 0))
    if any(x is None for x in c_q[1:]) or float(np.max(np.abs(c_q[2]))) != 0:
        raise w.err(q, "its parameters must be constants with zero point 0.")
    if q.op_type == "Trunc":
        p = qnt.trunc_params(c_q, mode)
        scale = float(np.asarray(p["scale"]).ravel()[0])
        if abs(scale * k - s_in) > 1e-6 * s_in:
            raise w.err(q, f"its scale {scale} is not the pool input's scale / window ({s_in} / {k}).")
        if p["version"] == 1:
            shift = int(p["in_bits"]) - int(p["out_bits"])
        else:
            shift = int(np.round(np.log2(float(np.asarray(p["out_scale"]).ravel()[0]) / scale)))
    else:
        s_out = float(np.asarray(c_q[1]).ravel()[0])
        ratio = s_out * k / s_in
        shift = int(np.round(np.log2(ratio)))
        if not all(is_pow2(f) for f in (s_in, s_out, k)) or k * max(abs(pt.lo), abs(pt.hi)) > (1 << 24):
            # qonnx rounds the float32 average (summed in some order, then divided): at a tie its result
            # depends on the window's values, not just their sum. The CPU computes it as qonnx does.
            raise w.err(n, "qonnx rounds this average pool's float32 mean (scales not powers of two, or sums "
                           "beyond float32's 24 bits): at a tie its result depends on the window's values, not "
                           "only their integer sum; the CPU computes it as qonnx does.")
        if abs(ratio - 2.0 ** shift) > 1e-5 * ratio:
            raise w.err(q, f"its scale {s_out} is not the average's scale ({s_in} / {k}) times a power of "
                           "two; hwgen maps an average pool as a window sum and a shift.")
    out_pt = w.int_point(q)
    if q.op_type == "Quant" and mode != "ROUND":
        raise w.err(q, f"rounding mode {mode} after an average pool is not supported.")
    if narrow and not signed:
        raise w.err(q, "an unsigned narrow-range quantizer after an average pool is not supported.")
    odt = out_pt.dtype
    if not any(pads) and v.pad is None and kernel == (h, wd):
        src, ofm = v.src, (1, 1)
    else:
        src, ofm, _ = windowed(w, n, v, kernel, stride, dil, pads, 0, pt.dtype)
    pool = Pool(w.name("Pool"), pt.dtype, odt, ofm, k, c, mode="trunc_avg", shift=shift,
                out_narrow=narrow and signed, rounding_mode=mode, onnx_nodes=[n.name, q.name])
    src = w.add(pool, src)
    w.skip.add(q.name)
    return {q.output[0]: Val(out_pt, src, w.shape(q.output[0]))}
