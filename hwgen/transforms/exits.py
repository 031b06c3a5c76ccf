"""Where values leave hardware: the tail that turns an island's output stream back into the ONNX tensor the CPU
(or the model's output) reads, computed as qonnx computes it.

An integer point leaves de-quantized ((q - zp) * scale, float32, as qonnx's Quant); an accumulator as
(acc - offset) * factor, then the float ops since its matrix layer (bias, BatchNorm, ...). That equals qonnx's
float32 MatMul / Conv only when qonnx's own sum is exact (`exact_acc`): otherwise the matrix node runs on the CPU
from its integer input instead (a Retry). A feature map leaves as NHWC frames, reshaped and transposed back to
NCHW first; a flattened one from its last NHWC form. A TopK / ArgMax at the model's output over values that are
one increasing function of the integers selects in hardware (LabelSelect).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from onnx import helper

from hwgen.cpu_partition import CpuPartition
from hwgen.errors import UnsupportedModelError
from hwgen.graph import Edge
from hwgen.transforms import layout
from hwgen.transforms.points import AccPoint, IntPoint
from hwgen.transforms.rules.common import is_pow2, per_channel
from hwgen.transforms.rules.joins import exact_sum
from hwgen.transforms.values import AddPoint
from hwgen.transforms.walk import Retry


@dataclass
class Exit:
    tensor: str  # the ONNX tensor the tail computes
    src: tuple  # (layer, port): the stream leaving hardware
    tail: CpuPartition


def exact_acc(layer, acc: AccPoint, x: IntPoint) -> bool:
    """Whether qonnx's float32 MatMul / Conv of the de-quantized input x equals the exact sum: input and weight
    scales powers of two (every de-quantized value and product exact), integer zero points, and every partial
    sum within float32's 24-bit mantissa (in units of the scales)."""
    c = np.asarray(acc.factor).size
    s_x = per_channel(x.scale, max(c, 1)) if np.asarray(x.scale).size > 1 else \
        np.full(1, float(np.asarray(x.scale, dtype=np.float64).ravel()[0]))
    s_w = np.asarray(acc.factor, dtype=np.float64).ravel() / np.resize(s_x, np.asarray(acc.factor).size)
    z = np.asarray(x.zp, dtype=np.float64).ravel()
    if not (all(is_pow2(f) for f in s_w) and all(is_pow2(f) for f in s_x) and np.all(z == np.round(z))):
        return False
    xmax = max(max(abs(x.lo - zz), abs(x.hi - zz)) for zz in (z if z.size else [0.0]))
    return int(np.abs(layer.weights).sum(axis=1).max()) * max(xmax, 1) <= (1 << 24)


def finish_exits(w) -> list[Exit]:
    """One Exit per tensor the CPU reads from hardware (and per hardware model output); adds their edges
    (dst None, dst_port = the exit's index)."""
    outs = {o.name for o in w.g.output}
    exits = []
    for t, v in list(w.exits.items()):
        ex = _exit(w, t, v, len(exits), t in outs)
        if ex is not None:
            exits.append(ex)
    return exits


def _exit(w, t, v, index, is_output):
    pt = v.point
    if isinstance(pt, AddPoint):
        try:
            v = exact_sum(w, pt.node, v)
        except UnsupportedModelError as e:
            raise Retry(pt.node.name, w.reason_of(e)) from None
        pt = v.point
    v = w.materialize(v, None)
    if v.src[0] is None:
        return None  # an island input itself: the CPU recomputes it (hwgen.transforms.partition)
    if isinstance(pt, AccPoint) and v.prev is not None and not exact_acc(v.layer, pt, v.prev[0].point):
        node = v.prev[1]
        raise Retry(node.name, f"{node.op_type} {node.name!r}: qonnx's float32 sum of this layer rounds where "
                               "the hardware's integer sum does not (scales not powers of two, or partial sums "
                               "beyond float32's 24 bits), and its float output is needed: the CPU computes it "
                               "from the integer input, as qonnx does", at_exit=True)
    if v.base is not None:  # a flattened feature map: the tail starts at its NHWC form
        tensor, shape, nodes = v.base
        v = replace(v, point=replace(pt, tensor=tensor), shape=shape, perm=None, chain=nodes + v.chain)
        pt = v.point
    if v.perm is not None:
        raise Retry(v.chain[-1].name if v.chain else t,
                    f"the tensor {t!r} is a reordered feature map, which the CPU reads only in its NCHW layout")
    chain = list(v.chain)
    if is_output and not layout.is_spatial(v.shape):
        selected = w.try_label_select(pt, chain, w.layers) if _last_layer(w, v) else None
        if selected is not None:
            layer, out_shape = selected
            layer.name = w.name("LabelSelect")
            src = w.add(layer, v.src)
            w.edges.append(Edge(src[0], src[1], None, index))
            tail = CpuPartition("tail", [], {}, t, t, w.opset, entry={"kind": "index", "shape": out_shape},
                                reason="none: top-k runs in hardware (label select); indices are only reshaped")
            return Exit(t, src, tail)
    w.edges.append(Edge(v.src[0], v.src[1], None, index))
    tail = w.make_tail(pt, chain, t)
    shape = entry_shape(w, v)
    if layout.is_spatial(shape):
        tail_from_nhwc(tail, shape)
    return Exit(t, v.src, tail)


def _last_layer(w, v) -> bool:
    return bool(w.layers) and v.src[0] == w.layers[-1].name


def entry_shape(w, v):
    """Shape of the tensor the tail starts from (a synthetic accumulator entry: its Conv / Gemm's output)."""
    pt = v.point
    t = pt.chain_prefix[-1].output[0] if isinstance(pt, AccPoint) and pt.chain_prefix else pt.tensor
    return w.shape_or(t, v.shape)


def tail_from_nhwc(tail: CpuPartition, shape):
    """The hardware output is an NHWC frame: de-quantize per stream element, then reshape and transpose it
    back to the ONNX layout before the tail's own nodes."""
    h, w, c = layout.hwc(shape)
    e = tail.entry
    for k in ("factor", "offset", "zp", "scale"):
        if k in e:
            a = np.asarray(e[k], dtype=np.asarray(e[k]).dtype)
            if a.size > 1:  # per channel, shaped (C,) or (1, C, 1, 1): repeat per pixel
                e[k] = np.tile(a.reshape(-1), h * w)
    flat = f"{tail.input}__hwgen_nhwc_flat"
    nhwc = f"{tail.input}__hwgen_nhwc"
    shape_c = f"{tail.input}__hwgen_nhwc_shape"
    tail.constants[shape_c] = np.array([1, h, w, c] if len(shape) == 4 else [1, w, c], dtype=np.int64)
    tail.prepend([helper.make_node("Reshape", [flat, shape_c], [nhwc], name="__hwgen_tail_reshape"),
                  helper.make_node("Transpose", [nhwc], [tail.input], name="__hwgen_from_nhwc",
                                   perm=layout.from_channels_last(shape))], flat)
