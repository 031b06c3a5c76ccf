"""Stream joins and re-layouts: the residual Add (AddStreams), Concat, nearest Resize / Upsample, Pad.

Add         of two quantized tensors: AddStreams; the next quantizer's thresholds are found by evaluating the
            float graph on every pair of input levels (exact), with integer multipliers for different scales.
Concat      on channels -> Concat; each output channel is one input channel, so the inputs' scales (per tensor
            or per channel, equal or not) become the output's per-channel scale exactly.
Resize / Upsample nearest by integer factors -> Upsample; Pad -> pending (placed or merged by its consumer).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hwgen.dtypes import DType, smallest_for_range
from hwgen.layers import AddStreams, Concat, Upsample
from hwgen.layers import conv_kernels as ck
from hwgen.onnx_eval import SubgraphEvaluator, attr
from hwgen.transforms import layout
from hwgen.transforms.points import IntPoint
from hwgen.transforms.rules.common import need_int, per_channel, spatial_of, zero_level
from hwgen.transforms.rules.registry import lowering_rule
from hwgen.transforms.values import AddPoint, Val

MAX_PAIRS = 1 << 17  # input level pairs of a residual Add evaluated exactly
MAX_MUL = 1 << 12  # largest integer multiplier tried for an Add of different scales


def _two_data_inputs(w, n, vs):
    return len(vs) == 2


@lowering_rule("Add", when=_two_data_inputs)
def add_streams(w, n, vs):
    a, b = vs
    need_int(w, n, a, "its first input")
    need_int(w, n, b, "its second input")
    if a.shape != b.shape:
        raise w.err(n, f"it adds tensors of shapes {a.shape} and {b.shape}; hwgen adds equal shapes only "
                       "(no broadcasting).")
    h, wd, c = layout.hwc(a.shape)
    srcs = [w.place(a, n), w.place(b, n)]
    lay = AddStreams(w.name("AddStreams"), a.point.dtype, b.point.dtype, DType(2, True), (h, wd), c,
                     onnx_nodes=[n.name])
    src = w.add(lay, *srcs)
    pt = AddPoint(n.output[0], n, a.point, b.point)
    return Val(pt, src, w.shape(n.output[0]), layer=lay)


def exact_sum(w, n, v: Val) -> Val:
    """A residual Add of two equally quantized tensors read by a hardware op other than a quantizer: the
    AddStreams outputs the integer sum (a_mul = b_mul = 1, no thresholds), an integer point of its own."""
    if not isinstance(v.point, AddPoint) or v.chain:
        return v
    a, b, lay = v.point.a, v.point.b, v.layer
    if not (a.scalar_params() and b.scalar_params() and np.array_equal(np.asarray(a.scale), np.asarray(b.scale))
            and not a.dtype.bipolar and not b.dtype.bipolar):
        raise w.err(n, f"it reads the sum of the residual Add {v.point.node.name!r}, whose inputs are "
                       "quantized with different scales; quantize the sum (an activation quantizer after "
                       "the Add) first.")
    if lay.thresholds is not None:
        raise w.err(n, f"the sum of {lay.name} is also quantized; hwgen gives a residual add one output.")
    lo, hi = lay.acc_range()
    lay.out_dtype = lay.acc_dtype()
    w.exact_sums.add(lay.name)
    zp = np.asarray(a.zp, dtype=np.float32) + np.asarray(b.zp, dtype=np.float32)
    pt = IntPoint(v.point.tensor, v.point.node.name, lay.out_dtype, int(lo), int(hi), zp, a.scale, lay.channels)
    return replace(v, point=pt)


def fuse_add(w, v, qnode):
    """The quantizer after a residual Add becomes the AddStreams' thresholds: qonnx's float ops are evaluated
    on every pair of input levels; integer multipliers (a_mul, b_mul) are accepted when the output level is
    a non-decreasing function of a * a_mul + b * b_mul alone (exact by construction)."""
    add, a, b = v.point.node, v.point.a, v.point.b
    lay = v.layer
    out_pt = w.int_point(qnode)
    la = np.arange(a.lo, a.hi + 1, dtype=np.int64)
    lb = np.arange(b.lo, b.hi + 1, dtype=np.int64)
    if la.size * lb.size > MAX_PAIRS:
        raise w.err(add, f"its inputs have {la.size} x {lb.size} level pairs, too many to check exactly "
                         f"(at most {MAX_PAIRS}); use narrower activation quantizers before the Add.")
    qa, qb = np.repeat(la, lb.size), np.tile(lb, la.size)
    c = lay.channels
    r = len(v.shape)
    ones = np.ones((1, c) + (1,) * (r - 2), dtype=np.int64)
    ins = [i for i in add.input if i and not w._is_const(i)]
    chain = [add] + v.chain + [qnode]
    ev = SubgraphEvaluator(chain, w.consts, w.opset, int_output={qnode.output[0]})
    out = qnode.output[0]
    va = a.dequant(qa.reshape((-1,) + (1,) * (r - 1)) * ones)
    vb = b.dequant(qb.reshape((-1,) + (1,) * (r - 1)) * ones)
    levels = np.asarray(ev.run({ins[0]: va, ins[1]: vb}, [out])[out]).reshape(qa.size, c).astype(np.int64)
    lvl_lo, lvl_hi = out_pt.lo, out_pt.hi
    if out_pt.dtype.bipolar:
        levels, lvl_lo, lvl_hi = (levels > 0).astype(np.int64), 0, 1
    same = (np.array_equal(np.asarray(a.scale), np.asarray(b.scale)) and a.scalar_params() and b.scalar_params())
    ratio = float(np.asarray(a.scale).ravel()[0]) / float(np.asarray(b.scale).ravel()[0])
    cands = [(1, 1)] if same else []
    cands += [(int(round(ratio * m)), m) for m in range(1, MAX_MUL + 1) if round(ratio * m) >= 1]
    for ma, mb in cands:
        acc = qa * ma + qb * mb
        order = np.argsort(acc, kind="stable")
        acc_s, lv = acc[order], levels[order]
        d_acc, d_lv = np.diff(acc_s)[:, None], np.diff(lv, axis=0)
        if np.all(d_lv >= 0) and np.all((d_acc > 0) | (d_lv == 0)):
            break
    else:
        raise w.err(add, f"the quantizer {qnode.name!r} after this Add of differently scaled inputs "
                         f"(scales {np.asarray(a.scale).ravel()[:4]} and {np.asarray(b.scale).ravel()[:4]}) is not "
                         f"a function of any integer combination a * m + b * n with m, n <= {MAX_MUL}; it cannot "
                         "be made exact in integers. Quantize both inputs with one (shared) quantizer.")
    lay.a_mul, lay.b_mul = ma, mb
    lo, hi = lay.acc_range()
    thr = np.empty((c, lvl_hi - lvl_lo), dtype=np.int64)
    for j, lvl in enumerate(range(lvl_lo + 1, lvl_hi + 1)):
        hit = lv >= lvl
        first = np.where(hit.any(axis=0), acc_s[np.argmax(hit, axis=0)], hi + 1)
        thr[:, j] = np.clip(first, lo, hi + 1)
    lay.thresholds = thr
    lay.out_dtype = out_pt.dtype
    lay.out_base = out_pt.lo
    lay.onnx_nodes += [m.name for m in v.chain + [qnode]]
    return out_pt


@lowering_rule("Concat")
def concat(w, n, vs):
    for v in vs:
        need_int(w, n, v, "an input")
    shape = vs[0].shape
    axis = int(attr(n, "axis", 1)) % len(shape)
    if axis != 1:
        raise w.err(n, f"Concat on axis {axis} is not supported; hwgen concatenates channels (axis 1).")
    if len({v.point.dtype.bipolar for v in vs}) > 1:
        raise w.err(n, "it mixes BIPOLAR and integer inputs.")
    p0 = vs[0].point
    chans = [layout.hwc(v.shape)[2] for v in vs]
    shared = all(np.array_equal(np.asarray(v.point.scale), np.asarray(p0.scale))
                 and np.array_equal(np.asarray(v.point.zp), np.asarray(p0.zp)) for v in vs) and p0.scalar_params()
    if shared:
        scale, zp = p0.scale, p0.zp
    else:  # each output channel is one input channel: the inputs' scales side by side, per channel
        shape_c = (1, sum(chans)) + (1,) * (len(shape) - 2)
        scale = np.concatenate([per_channel(v.point.scale, k) for v, k in zip(vs, chans)]).astype(
            np.result_type(*[np.asarray(v.point.scale).dtype for v in vs])).reshape(shape_c)
        zp = np.concatenate([per_channel(v.point.zp, k) for v, k in zip(vs, chans)]).astype(
            np.result_type(*[np.asarray(v.point.zp).dtype for v in vs])).reshape(shape_c)
    lo, hi = min(v.point.lo for v in vs), max(v.point.hi for v in vs)
    odt = p0.dtype if all(v.point.dtype == p0.dtype for v in vs) else smallest_for_range(lo, hi)
    h, wd, _ = layout.hwc(shape)
    srcs = [w.place(v, n) for v in vs]
    lay = Concat(w.name("Concat"), [v.point.dtype for v in vs], odt, (h, wd), chans, onnx_nodes=[n.name])
    src = w.add(lay, *srcs)
    pt = replace(p0, tensor=n.output[0], dtype=odt, lo=lo, hi=hi, channels=sum(chans), scale=scale, zp=zp,
                 node=p0.node if shared else n.name)
    return Val(pt, src, w.shape(n.output[0]))


@lowering_rule("Resize", "Upsample")
def upsample(w, n, vs):
    v = vs[0]
    need_int(w, n, v)
    h, wd, c = spatial_of(w, n, v)
    out_shape = w.shape(n.output[0])
    oh, ow, _ = layout.hwc(out_shape)
    if oh % h or ow % wd:
        raise w.err(n, f"it resizes {h}x{wd} to {oh}x{ow}, not by an integer factor.")
    fh, fw = oh // h, ow // wd
    x = np.arange(int(np.prod(v.shape)), dtype=np.float32).reshape(v.shape)
    try:
        y = SubgraphEvaluator([n], w.consts, w.opset).run({n.input[0]: x}, [n.output[0]])[n.output[0]]
    except Exception as e:
        raise w.err(n, f"cannot be evaluated ({type(e).__name__}).") from None
    want = np.repeat(np.repeat(x.reshape(1, c, h, wd), fh, axis=2), fw, axis=3).reshape(y.shape)
    if not np.array_equal(y, want):
        raise w.err(n, "it is not a nearest-neighbour upsampling (each pixel repeated by an integer "
                       "factor); hwgen maps Resize mode=nearest by integer factors only.")
    src = w.place(v, n)
    lay = Upsample(w.name("Upsample"), v.point.dtype, (h, wd), c, (fh, fw), onnx_nodes=[n.name])
    src = w.add(lay, src)
    return replace(v, point=replace(v.point, tensor=n.output[0]), src=src, shape=out_shape, pad=None)


@lowering_rule("Pad", merges_pad=True)
def pad_node(w, n, vs):
    v = vs[0]
    need_int(w, n, v)
    spatial_of(w, n, v)
    if attr(n, "mode", "constant") != "constant":
        raise w.err(n, f"Pad mode {attr(n, 'mode')!r} is not supported; only constant padding.")
    pads = attr(n, "pads") if len(n.input) < 2 or not n.input[1] else w.consts.get(n.input[1])
    if pads is None:
        raise w.err(n, "its pads are not constant.")
    if len(n.input) > 3 and n.input[3]:
        raise w.err(n, "Pad with axes is not supported; give pads for every axis.")
    value = 0.0
    if len(n.input) > 2 and n.input[2]:
        cv = w.consts.get(n.input[2])
        if cv is None:
            raise w.err(n, "its padding value is not constant.")
        value = float(np.asarray(cv).ravel()[0])
    pads = [int(p) for p in np.asarray(pads).ravel()]
    r = len(v.shape)
    begin, end = pads[:r], pads[r:]
    if begin[:2] != [0, 0] or end[:2] != [0, 0] or min(pads) < 0:
        raise w.err(n, "only non-negative padding of the spatial axes is supported.")
    tlbr = ck.onnx_pads(begin[2:] + end[2:], r - 2)
    level = zero_level(w, n, v.point, value)
    if v.pad is not None and v.pad[1] == level:
        tlbr = tuple(a + b for a, b in zip(tlbr, v.pad[0]))
    elif v.pad is not None:
        v = w.materialize(v, n)
    # the stream stays the unpadded one until a consumer places the padding (or merges it into its own)
    return replace(v, point=replace(v.point, tensor=n.output[0]), pad=(tlbr, level))
