"""Quantizers (Quant / BipolarQuant / Trunc) on a hardware value: the thresholds of the layer before them.

After a matrix layer's accumulator: that layer's thresholds (the float ops since its product - bias, BatchNorm,
scales, ReLU - evaluated by qonnx's own ops on every accumulator value, hwgen.transforms.thresholds).
After a residual Add's float sum: the AddStreams' thresholds (hwgen.transforms.rules.joins.fuse_add).
After pooled accumulators or quantizer levels: a Thresholding layer (re-quantization).
"""

from __future__ import annotations

import numpy as np

from hwgen.frontend.load import QUANT_OPS
from hwgen.layers import Thresholding
from hwgen.transforms import layout
from hwgen.transforms.points import AccPoint
from hwgen.transforms.rules.joins import fuse_add
from hwgen.transforms.rules.registry import lowering_rule
from hwgen.transforms.values import AddPoint, Val


@lowering_rule(*sorted(QUANT_OPS), merges_pad=False, reads_sum=True)
def quantize(w, n, vs):
    v = vs[0]
    chain = v.chain + [n]
    shape = w.shape(n.output[0])
    if isinstance(v.point, AddPoint):
        if v.layer.thresholds is not None or v.layer.name in w.exact_sums:
            raise w.err(n, f"the sum of {v.layer.name} feeds two quantizers (or a quantizer and another "
                           "op); hwgen folds one quantizer into a residual add.")
        return Val(fuse_add(w, v, n), v.src, shape)
    if isinstance(v.point, AccPoint) and v.layer is None:  # pooled accumulators: a Thresholding after the pool
        return threshold_acc(w, n, v, chain, shape)
    if isinstance(v.point, AccPoint):
        layer = v.layer
        if layer.thresholds is not None or layer.name in w.fused:
            raise w.err(n, f"the accumulator of {layer.name} feeds two quantizers; hwgen folds one "
                           "quantizer into a matrix layer.")
        layer, pt = w.fuse_thresholds(layer, v.point, chain)
        w.fused.add(layer.name)
        return Val(pt, v.src, shape, perm=v.perm)
    if v.perm is not None:
        raise w.err(n, "element-wise ops on a reordered (flattened) feature map before a quantizer are not "
                       "supported; quantize before the Flatten / Reshape / Transpose.")
    h, wd, _ = layout.hwc(v.shape)
    layer, pt = w.make_thresholding(v.point, chain, w.name("Thresholding"), num_vectors=h * wd,
                                    spatial=(h, wd) if layout.is_spatial(v.shape) else None)
    src = w.add(layer, w.place(v, n))
    return Val(pt, src, shape, perm=v.perm)


def threshold_acc(w, n, v, chain, shape):
    acc = v.point
    out_pt = w.int_point(n)
    g = w._chain_fn(acc.tensor, acc.to_float, acc.chain_prefix + chain, n)
    res = w._thresholds(g, acc.lo, acc.hi, out_pt, n, chain)
    if res.negate.any():
        raise w.err(n, "the float ops before this quantizer decrease with the pooled accumulator in channel "
                       f"{int(np.nonzero(res.negate)[0][0])}; quantize before the MaxPool.")
    dt = w.stream_info(*v.src)[0]
    h, wd, _ = layout.hwc(v.shape)
    layer = Thresholding(w.name("Thresholding"), dt, res.thresholds, out_pt.dtype, out_base=out_pt.lo,
                         num_vectors=h * wd, spatial=(h, wd) if layout.is_spatial(v.shape) else None,
                         onnx_nodes=[c.name for c in chain])
    return Val(out_pt, w.add(layer, v.src), shape)
