"""Helpers the lowering rules share: integer-input checks, padding levels, window attributes, [Pad] -> SWG."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hwgen.layers import Pad, SlidingWindow
from hwgen.layers import conv_kernels as ck
from hwgen.onnx_eval import attr
from hwgen.transforms import layout
from hwgen.transforms.points import IntPoint
from hwgen.transforms.values import AddPoint


def is_pow2(f) -> bool:
    f = float(f)
    return f > 0 and np.log2(f) == np.round(np.log2(f))


def need_int(w, n, v, what="its input"):
    """v must be quantizer levels in their NCHW layout (no float ops pending, not a flattened map)."""
    if isinstance(v.point, AddPoint):
        raise w.err(n, f"{what} is the float sum of a residual Add; quantize it (an activation quantizer "
                       "after the Add) before this node.")
    if not v.is_int:
        raise w.err(n, f"{what} is an un-quantized float tensor (after "
                       f"{v.chain[-1].name if v.chain else 'a matrix layer'!r}); insert an activation "
                       "quantizer before this node.")
    if v.perm is not None:
        raise w.err(n, f"{what} is a reordered (flattened / transposed) feature map; hwgen maps this op on "
                       "NCHW feature maps only.")


def spatial_of(w, n, v):
    if not layout.is_spatial(v.shape):
        raise w.err(n, f"it needs an NCHW (2-D) or NCL (1-D) feature map, its input has shape {v.shape}.")
    return layout.hwc(v.shape)


def zero_level(w, n, pt: IntPoint, value=0.0) -> int:
    """The integer level that de-quantizes to `value` (padding) in every channel, or an error."""
    zp = np.asarray(pt.zp, dtype=np.float64).ravel()
    s = np.asarray(pt.scale, dtype=np.float64).ravel()
    lvl = value / s + zp
    if pt.dtype.bipolar or not np.all(lvl == np.round(lvl)) or not np.all(lvl == lvl[0]) \
            or not pt.lo <= lvl[0] <= pt.hi:
        raise w.err(n, f"its padding value {value} is not one level of the input quantizer {pt.node!r} in every "
                       f"channel ({pt.dtype.name}, zero point {zp[:4].tolist()}, scale {s[:4].tolist()}); pad "
                       "with a value the quantizer represents (zero needs an integer zero point), or quantize the "
                       "input differently.")
    level = int(round(lvl[0]))
    shape = np.broadcast(np.asarray(pt.zp), np.asarray(pt.scale)).shape
    if not np.all(pt.dequant(np.full(shape, level)) == np.float32(value)):
        raise w.err(n, f"its padding value {value} is not exactly a level of the input quantizer {pt.node!r}.")
    return level


def pad_layer(w, v, pads, level, n):
    h, wd, c = layout.hwc(v.shape)
    lay = Pad(w.name("Pad"), v.point.dtype, (h, wd), c, pads, pad_value=level,
              onnx_nodes=[n.name] if n is not None else [])
    return w.add(lay, v.src)


def window_attrs(w, n, v, rank):
    kernel = attr(n, "kernel_shape")
    strides = attr(n, "strides", [1] * (rank - 2))
    dil = attr(n, "dilations", [1] * (rank - 2))
    pads = attr(n, "pads", [0] * (2 * (rank - 2)))
    auto = attr(n, "auto_pad", "NOTSET")
    if auto not in ("NOTSET", "VALID"):
        raise w.err(n, f"auto_pad={auto} is not supported; export with explicit pads.")
    if auto == "VALID":
        pads = [0] * (2 * (rank - 2))
    if kernel is None:
        raise w.err(n, "it has no kernel_shape attribute.")
    return ck.pair(kernel), ck.pair(strides), ck.pair(dil), ck.onnx_pads(pads, rank - 2)


def windowed(w, n, v, kernel, stride, dil, pads, level, dtype):
    """[Pad] -> SWG on the stream of v (merging a pending Pad node of the same level) -> (src, ofm, ifm)."""
    if v.pad is not None and v.pad[1] == level:
        pads = tuple(a + b for a, b in zip(pads, v.pad[0]))
    elif v.pad is not None:
        v = w.materialize(v, n)
    h, wd, c = layout.hwc(v.shape)
    src = v.src
    if any(pads):
        vv = replace(v, src=src, shape=[1, c, h, wd])
        src = pad_layer(w, vv, pads, level, n)
        h, wd = h + pads[0] + pads[2], wd + pads[1] + pads[3]
    try:
        swg = SlidingWindow(w.name("SWG"), dtype, (h, wd), c, kernel, stride, dil, onnx_nodes=[n.name])
    except ValueError as e:
        raise w.err(n, f"its window does not fit the input: {e}.") from None
    return w.add(swg, src), swg.ofm, (h, wd)


def ceil_check(w, n, v, kernel, stride, dil, pads):
    if not attr(n, "ceil_mode", 0):
        return
    h, wd, _ = layout.hwc(v.shape)
    for size, k, s, d, b, e in ((h, kernel[0], stride[0], dil[0], pads[0], pads[2]),
                                (wd, kernel[1], stride[1], dil[1], pads[1], pads[3])):
        span = d * (k - 1) + 1
        if (size + b + e - span) % s:
            raise w.err(n, "ceil_mode=1 with a partial last window is not supported; export with "
                           "ceil_mode=0 (or pad the input so the windows fit).")


def per_channel(a, c: int) -> np.ndarray:
    """A quantizer parameter (scalar or one value per channel, shaped (C,) or (1, C, 1, 1)) as (C,) float64."""
    a = np.asarray(a, dtype=np.float64)
    return np.broadcast_to(a.reshape(-1) if a.size > 1 else a.reshape(()), (c,)).copy()
