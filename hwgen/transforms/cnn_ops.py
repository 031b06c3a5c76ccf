"""The convolutional ops of hwgen.transforms.lower_cnn, one method each (a mixin of DagStreamliner).

Conv        [Pad] -> SWG -> MVAU (groups 1) or VVAU (depthwise), accumulator point; bias and the float ops up
            to the next quantizer become thresholds (as for a MatMul). Padding is the level de-quantizing to 0.0.
MaxPool     [Pad with the type's min] -> SWG -> Pool(max) on quantizer levels (max commutes with an increasing
            de-quantization; scales are positive).
AveragePool -> Trunc / Quant: [Pad] -> SWG -> Pool(trunc_avg) (a whole-image pool needs no SWG).
Add         of two quantized tensors: AddStreams; the next quantizer's thresholds are found by evaluating the
            float graph on every pair of input levels (exact), with integer multipliers for different scales.
Concat      on channels -> Concat; Resize / Upsample nearest by integer factors -> Upsample; Pad -> pending.
MatMul/Gemm an MVAU reading its input through the stream layout (NCHW-flatten weights in NHWC order).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from onnx import helper

from hwgen import quant as qnt
from hwgen.dtypes import DType, smallest_for_range
from hwgen.layers import MVAU, VVAU, AddStreams, Concat, Pad, Pool, SlidingWindow, Upsample
from hwgen.layers import conv_kernels as ck
from hwgen.onnx_eval import SubgraphEvaluator, attr
from hwgen.transforms import layout
from hwgen.transforms.points import AccPoint, IntPoint
from hwgen.transforms.streamline import per_row

MAX_PAIRS = 1 << 17  # input level pairs of a residual Add evaluated exactly
MAX_MUL = 1 << 12  # largest integer multiplier tried for an Add of different scales


@dataclass
class AddPoint:
    """The float sum of two quantized tensors, awaiting the quantizer that becomes the AddStreams' thresholds."""

    tensor: str
    node: object  # the Add node
    a: IntPoint
    b: IntPoint


def _pow2(f) -> bool:
    f = float(f)
    return f > 0 and np.log2(f) == np.round(np.log2(f))


class CnnOps:
    # --- helpers -----------------------------------------------------------------------------------------------
    def need_int(self, n, v, what="its input"):
        if isinstance(v.point, AddPoint):
            raise self.err(n, f"{what} is the float sum of a residual Add; quantize it (an activation quantizer "
                              "after the Add) before this node.")
        if not v.is_int:
            raise self.err(n, f"{what} is an un-quantized float tensor (after "
                              f"{v.chain[-1].name if v.chain else 'a matrix layer'!r}); insert an activation "
                              "quantizer before this node.")
        if v.perm is not None:
            raise self.err(n, f"{what} is a reordered (flattened / transposed) feature map; hwgen maps this op on "
                              "NCHW feature maps only.")

    def spatial_of(self, n, v):
        if not layout.is_spatial(v.shape):
            raise self.err(n, f"it needs an NCHW (2-D) or NCL (1-D) feature map, its input has shape {v.shape}.")
        return layout.hwc(v.shape)

    def zero_level(self, n, pt: IntPoint, value=0.0) -> int:
        """The integer level that de-quantizes to `value` (padding), or an error."""
        if not pt.scalar_params():
            raise self.err(n, "its input has per-channel quantization; padding needs one level for all channels.")
        z = float(np.asarray(pt.zp).ravel()[0])
        s = float(np.asarray(pt.scale).ravel()[0])
        lvl = value / s + z
        if pt.dtype.bipolar or lvl != np.round(lvl) or not pt.lo <= lvl <= pt.hi or \
                pt.dequant(np.array([round(lvl)]))[0] != np.float32(value):
            raise self.err(n, f"its padding value {value} is not a level of the input quantizer {pt.node!r} "
                              f"({pt.dtype.name}, zero point {z}, scale {s}); pad with a value the quantizer "
                              "represents (zero needs an integer zero point), or quantize the input differently.")
        return int(round(lvl))

    def pad_layer(self, v, pads, level, n):
        h, w, c = layout.hwc(v.shape)
        lay = Pad(self.name("Pad"), v.point.dtype, (h, w), c, pads, pad_value=level,
                  onnx_nodes=[n.name] if n is not None else [])
        return self.add(lay, v.src)

    def window_attrs(self, n, v, rank):
        kernel = attr(n, "kernel_shape")
        strides = attr(n, "strides", [1] * (rank - 2))
        dil = attr(n, "dilations", [1] * (rank - 2))
        pads = attr(n, "pads", [0] * (2 * (rank - 2)))
        auto = attr(n, "auto_pad", "NOTSET")
        if auto not in ("NOTSET", "VALID"):
            raise self.err(n, f"auto_pad={auto} is not supported; export with explicit pads.")
        if auto == "VALID":
            pads = [0] * (2 * (rank - 2))
        return ck.pair(kernel), ck.pair(strides), ck.pair(dil), ck.onnx_pads(pads, rank - 2)

    def windowed(self, n, v, kernel, stride, dil, pads, level, dtype):
        """[Pad] -> SWG on the stream of v (merging a pending Pad node of the same level) -> (src, ofm, ifm)."""
        h, w, c = layout.hwc(v.shape)
        src = v.src
        if v.pad is not None and v.pad[1] == level:
            pads = tuple(a + b for a, b in zip(pads, v.pad[0]))
        elif v.pad is not None:
            src = self.pad_layer(v, v.pad[0], v.pad[1], n)
            h, w = h + v.pad[0][0] + v.pad[0][2], w + v.pad[0][1] + v.pad[0][3]
        if any(pads):
            vv = replace(v, src=src, shape=[1, c, h, w])
            src = self.pad_layer(vv, pads, level, n)
            h, w = h + pads[0] + pads[2], w + pads[1] + pads[3]
        try:
            swg = SlidingWindow(self.name("SWG"), dtype, (h, w), c, kernel, stride, dil, onnx_nodes=[n.name])
        except ValueError as e:
            raise self.err(n, f"its window does not fit the input: {e}.") from None
        return self.add(swg, src), swg.ofm, (h, w)

    # --- matrix layers ----------------------------------------------------------------------------------------
    def matmul(self, n, v):
        if not v.is_int:
            raise self.err(n, "it consumes an un-quantized float tensor (the output of "
                              f"{v.chain[-1].name if v.chain else 'a matrix layer'!r}). Insert an activation "
                              "quantizer between matrix layers.")
        if v.pad is not None:
            raise self.err(n, "a Pad before a MatMul/Gemm is not supported.")
        nm = self.name("MVAU")
        layer, acc, _ = self.make_mvau(n, v.point, 100000 + len(self.layers))
        layer.name = nm
        if v.perm is not None:  # stream position i holds ONNX feature perm[i]
            layer.weights = layer.weights[:, v.perm]
        src = self.add(layer, v.src)
        from hwgen.transforms.lower_cnn import Val

        return Val(acc, src, self.shape(n.output[0]), layer=layer, prev=(v, n))

    def conv(self, n, v):
        from hwgen.transforms.lower_cnn import Val

        self.need_int(n, v)
        h, w, c = self.spatial_of(n, v)
        pt = v.point
        rank = len(v.shape)
        if not pt.scalar_params():
            raise self.err(n, f"its input quantizer {pt.node!r} has a per-channel scale or zero point; a Conv "
                              "input needs one scale and zero point (per-tensor) to be folded.")
        wq = self.param_nodes.get(n.input[1])
        if wq is None or wq.op_type not in ("Quant", "BipolarQuant"):
            raise self.err(n, f"its weights {n.input[1]!r} are not quantized (no QONNX Quant / BipolarQuant on a "
                              "constant); hwgen maps only integer weights.")
        w_int, w_dt, w_scale = self.weight_ints(wq, n)
        o = int(w_int.shape[0])
        s_w = per_row(np.asarray(w_scale).reshape(o, -1), o, n, self)
        kernel, stride, dil, pads = self.window_attrs(n, v, rank)
        group = int(attr(n, "group", 1))
        level = self.zero_level(n, pt) if (any(pads) or (v.pad is not None)) else None
        if level is None:
            level = 0 if pt.dtype.bipolar else None
        if kernel == (1, 1) and stride == (1, 1) and not any(pads) and v.pad is None:
            src, ofm = v.src, (h, w)  # a pointwise conv reads the pixels as they come: no window generator
        else:
            src, ofm, _ = self.windowed(n, v, kernel, stride, dil, pads, level, pt.dtype)
        name = self.name("VVAU" if group > 1 else "MVAU")
        if group == 1:
            wm = ck.conv_weights_to_window_order(w_int)
            layer = MVAU(name, pt.dtype, w_dt, wm, None, out_dtype=DType(2, True), num_vectors=ofm[0] * ofm[1],
                         spatial=ofm, onnx_nodes=[n.name])
        elif group == c and o == c and w_int.shape[1] == 1:
            wm = ck.depthwise_weights(w_int)
            layer = VVAU(name, pt.dtype, w_dt, wm, None, out_dtype=DType(2, True), ofm=ofm, onnx_nodes=[n.name])
        else:
            raise self.err(n, f"group={group} is neither 1 nor depthwise (group = channels = {c}, one output per "
                              "channel); hwgen maps standard and depthwise convolutions.")
        lo, hi = layer.acc_range()
        layer.out_dtype = layer.acc_dtype()
        s_x = float(np.asarray(pt.scale, dtype=np.float64).ravel()[0])
        z_x = float(np.asarray(pt.zp, dtype=np.float64).ravel()[0])
        acc = AccPoint(tensor=n.output[0], factor=s_x * s_w, offset=z_x * wm.sum(axis=1), lo=lo, hi=hi)
        if len(n.input) > 2 and n.input[2]:
            # the bias as ONNX adds it: a 1x1 Conv with identity weights over the exact sum, plus the bias
            ident = f"__hwgen_identity_{name}"
            self.consts[ident] = np.eye(o, dtype=np.float32).reshape((o, o) + (1,) * (rank - 2))
            acc.tensor = f"__hwgen_acc_{name}"
            self._ranks[acc.tensor] = rank
            acc.chain_prefix = [helper.make_node("Conv", [acc.tensor, ident, n.input[2]], [n.output[0]],
                                                 name=n.name, kernel_shape=[1] * (rank - 2))]
        src = self.add(layer, src)
        return Val(acc, src, self.shape(n.output[0]), layer=layer)

    # --- pools ---------------------------------------------------------------------------------------------------
    def _ceil_check(self, n, v, kernel, stride, dil, pads):
        if not attr(n, "ceil_mode", 0):
            return
        h, w, _ = layout.hwc(v.shape)
        for size, k, s, d, b, e in ((h, kernel[0], stride[0], dil[0], pads[0], pads[2]),
                                    (w, kernel[1], stride[1], dil[1], pads[1], pads[3])):
            span = d * (k - 1) + 1
            if (size + b + e - span) % s:
                raise self.err(n, "ceil_mode=1 with a partial last window is not supported; export with "
                                  "ceil_mode=0 (or pad the input so the windows fit).")

    def max_pool(self, n, v):
        self.need_int(n, v)
        h, w, c = self.spatial_of(n, v)
        pt = v.point
        if np.any(np.asarray(pt.scale) <= 0):
            raise self.err(n, "its input quantizer has a non-positive scale; max pooling commutes only with an "
                              "increasing de-quantization.")
        kernel, stride, dil, pads = self.window_attrs(n, v, len(v.shape))
        self._ceil_check(n, v, kernel, stride, dil, pads)
        dt = pt.dtype
        if not any(pads) and v.pad is None and kernel == (h, w) and dil == (1, 1):
            src, ofm = v.src, (1, 1)
        else:
            src, ofm, _ = self.windowed(n, v, kernel, stride, dil, pads, dt.min, dt)
        pool = Pool(self.name("Pool"), dt, dt, ofm, kernel[0] * kernel[1], c, mode="max", onnx_nodes=[n.name])
        src = self.add(pool, src)
        return replace(v, point=replace(pt, tensor=n.output[0]), src=src, shape=self.shape(n.output[0]), pad=None)

    def avg_pool(self, n, v):
        from hwgen.transforms.lower_cnn import Val

        self.need_int(n, v)
        h, w, c = self.spatial_of(n, v)
        cons = [m for m in self.consumers.get(n.output[0], [])]
        if len(cons) != 1 or cons[0].op_type not in ("Trunc", "Quant"):
            raise self.err(n, "an average pool must be followed by exactly one Trunc or Quant (Brevitas' "
                              "TruncAvgPool / QuantAvgPool) to stay in integers.")
        q = cons[0]
        pt = v.point
        if not pt.scalar_params() or float(np.asarray(pt.zp).ravel()[0]) != 0:
            raise self.err(n, "its input needs a per-tensor quantizer with zero point 0.")
        if n.op_type == "GlobalAveragePool":
            kernel, stride, dil, pads = (h, w), (1, 1), (1, 1), (0, 0, 0, 0)
        else:
            kernel, stride, dil, pads = self.window_attrs(n, v, len(v.shape))
            self._ceil_check(n, v, kernel, stride, dil, pads)
            if any(pads) and not attr(n, "count_include_pad", 0):
                raise self.err(n, "a padded average pool with count_include_pad=0 divides border windows by "
                                  "fewer elements; only count_include_pad=1 is supported.")
        k = kernel[0] * kernel[1]
        s_in = float(np.asarray(pt.scale).ravel()[0])
        c_q = [self.consts.get(i) for i in q.input]
        mode = attr(q, "rounding_mode", "FLOOR" if q.op_type == "Trunc" else "ROUND").upper()
        signed, narrow = bool(attr(q, "signed", 1)), bool(attr(q, "narrow", 0))
        if any(x is None for x in c_q[1:]) or float(np.max(np.abs(c_q[2]))) != 0:
            raise self.err(q, "its parameters must be constants with zero point 0.")
        if q.op_type == "Trunc":
            p = qnt.trunc_params(c_q, mode)
            scale = float(np.asarray(p["scale"]).ravel()[0])
            if abs(scale * k - s_in) > 1e-6 * s_in:
                raise self.err(q, f"its scale {scale} is not the pool input's scale / window ({s_in} / {k}).")
            if p["version"] == 1:
                shift = int(p["in_bits"]) - int(p["out_bits"])
            else:
                shift = int(np.round(np.log2(float(np.asarray(p["out_scale"]).ravel()[0]) / scale)))
            bits = int(np.asarray(p["out_bits"]).ravel()[0])
        else:
            s_out, bits = float(np.asarray(c_q[1]).ravel()[0]), int(np.asarray(c_q[3]).ravel()[0])
            ratio = s_out * k / s_in
            shift = int(np.round(np.log2(ratio)))
            if not all(_pow2(f) for f in (s_in, s_out, k)) or k * max(abs(pt.lo), abs(pt.hi)) > (1 << 24):
                # qonnx rounds the float32 average (summed in some order, then divided): at a tie its result
                # depends on the window's values, not just their sum. The CPU tail computes it as qonnx does.
                return q, replace(v, chain=[n, q], cpu=True, shape=self.shape(q.output[0]))
            if abs(ratio - 2.0 ** shift) > 1e-5 * ratio:
                raise self.err(q, f"its scale {s_out} is not the average's scale ({s_in} / {k}) times a power of "
                                  "two; hwgen maps an average pool as a window sum and a shift.")
        out_pt = self.int_point(q)
        if q.op_type == "Quant" and mode != "ROUND":
            raise self.err(q, f"rounding mode {mode} after an average pool is not supported.")
        odt = out_pt.dtype
        if not any(pads) and v.pad is None and kernel == (h, w):
            src, ofm = v.src, (1, 1)
        else:
            src, ofm, _ = self.windowed(n, v, kernel, stride, dil, pads, 0, pt.dtype)
        pool = Pool(self.name("Pool"), pt.dtype, odt, ofm, k, c, mode="trunc_avg", shift=shift,
                    out_narrow=narrow and signed, rounding_mode=mode, onnx_nodes=[n.name, q.name])
        if narrow and not signed:
            raise self.err(q, "an unsigned narrow-range quantizer after an average pool is not supported.")
        src = self.add(pool, src)
        return q, Val(out_pt, src, self.shape(q.output[0]))

    # --- joins and reshapes ----------------------------------------------------------------------------------------
    def concat(self, n, vs):
        for v in vs:
            self.need_int(n, v, "an input")
        shape = vs[0].shape
        axis = int(attr(n, "axis", 1)) % len(shape)
        if axis != 1:
            raise self.err(n, f"Concat on axis {axis} is not supported; hwgen concatenates channels (axis 1).")
        p0 = vs[0].point
        for v in vs[1:]:
            if not (np.array_equal(np.asarray(v.point.scale), np.asarray(p0.scale))
                    and np.array_equal(np.asarray(v.point.zp), np.asarray(p0.zp)) and p0.scalar_params()):
                raise self.err(n, f"its inputs are quantized differently ({p0.node!r} and {v.point.node!r}); "
                                  "a Concat in integers needs one per-tensor scale and zero point on all inputs "
                                  "(share the quantizer).")
        if len({v.point.dtype.bipolar for v in vs}) > 1:
            raise self.err(n, "it mixes BIPOLAR and integer inputs.")
        lo, hi = min(v.point.lo for v in vs), max(v.point.hi for v in vs)
        odt = p0.dtype if all(v.point.dtype == p0.dtype for v in vs) else smallest_for_range(lo, hi)
        h, w, _ = layout.hwc(shape)
        chans = [layout.hwc(v.shape)[2] for v in vs]
        srcs = [self.place(v, n) for v in vs]
        lay = Concat(self.name("Concat"), [v.point.dtype for v in vs], odt, (h, w), chans, onnx_nodes=[n.name])
        src = self.add(lay, *srcs)
        pt = replace(p0, tensor=n.output[0], dtype=odt, lo=lo, hi=hi, channels=sum(chans))
        from hwgen.transforms.lower_cnn import Val

        return Val(pt, src, self.shape(n.output[0]))

    def upsample(self, n, v):
        self.need_int(n, v)
        h, w, c = self.spatial_of(n, v)
        out_shape = self.shape(n.output[0])
        oh, ow, _ = layout.hwc(out_shape)
        if oh % h or ow % w:
            raise self.err(n, f"it resizes {h}x{w} to {oh}x{ow}, not by an integer factor.")
        fh, fw = oh // h, ow // w
        x = np.arange(int(np.prod(v.shape)), dtype=np.float32).reshape(v.shape)
        try:
            y = SubgraphEvaluator([n], self.consts, self.opset).run({n.input[0]: x}, [n.output[0]])[n.output[0]]
        except Exception as e:
            raise self.err(n, f"cannot be evaluated ({type(e).__name__}).") from None
        want = np.repeat(np.repeat(x.reshape(1, c, h, w), fh, axis=2), fw, axis=3).reshape(y.shape)
        if not np.array_equal(y, want):
            raise self.err(n, "it is not a nearest-neighbour upsampling (each pixel repeated by an integer "
                              "factor); hwgen maps Resize mode=nearest by integer factors only.")
        src = self.place(v, n)
        lay = Upsample(self.name("Upsample"), v.point.dtype, (h, w), c, (fh, fw), onnx_nodes=[n.name])
        src = self.add(lay, src)
        return replace(v, point=replace(v.point, tensor=n.output[0]), src=src, shape=out_shape, pad=None)

    def pad_node(self, n, v):
        self.need_int(n, v)
        self.spatial_of(n, v)
        if attr(n, "mode", "constant") != "constant":
            raise self.err(n, f"Pad mode {attr(n, 'mode')!r} is not supported; only constant padding.")
        pads = attr(n, "pads") if len(n.input) < 2 or not n.input[1] else self.consts.get(n.input[1])
        if pads is None:
            raise self.err(n, "its pads are not constant.")
        if len(n.input) > 3 and n.input[3]:
            raise self.err(n, "Pad with axes is not supported; give pads for every axis.")
        value = 0.0
        if len(n.input) > 2 and n.input[2]:
            cv = self.consts.get(n.input[2])
            if cv is None:
                raise self.err(n, "its padding value is not constant.")
            value = float(np.asarray(cv).ravel()[0])
        pads = [int(p) for p in np.asarray(pads).ravel()]
        r = len(v.shape)
        begin, end = pads[:r], pads[r:]
        if begin[:2] != [0, 0] or end[:2] != [0, 0] or min(pads) < 0:
            raise self.err(n, "only non-negative padding of the spatial axes is supported.")
        tlbr = ck.onnx_pads(begin[2:] + end[2:], r - 2)
        level = self.zero_level(n, v.point, value)
        if v.pad is not None and v.pad[1] == level:
            tlbr = tuple(a + b for a, b in zip(tlbr, v.pad[0]))
        elif v.pad is not None:
            v = replace(v, src=self.place(v, n), pad=None, shape=self.shape(n.input[0]))
        # the stream stays the unpadded one until a consumer places the padding (or merges it into its own)
        return replace(v, point=replace(v.point, tensor=n.output[0]), pad=(tlbr, level))

    # --- residual Add --------------------------------------------------------------------------------------------
    def add_streams(self, n, a, b):
        from hwgen.transforms.lower_cnn import Val

        self.need_int(n, a, "its first input")
        self.need_int(n, b, "its second input")
        if a.shape != b.shape:
            raise self.err(n, f"it adds tensors of shapes {a.shape} and {b.shape}; hwgen adds equal shapes only "
                              "(no broadcasting).")
        h, w, c = layout.hwc(a.shape)
        srcs = [self.place(a, n), self.place(b, n)]
        lay = AddStreams(self.name("AddStreams"), a.point.dtype, b.point.dtype, DType(2, True), (h, w), c,
                         onnx_nodes=[n.name])
        if layout.is_spatial(a.shape):
            lay._spatial = (h, w)
        src = self.add(lay, *srcs)
        pt = AddPoint(n.output[0], n, a.point, b.point)
        return Val(pt, src, self.shape(n.output[0]), layer=lay)

    def fuse_add(self, v, qnode):
        """The quantizer after a residual Add becomes the AddStreams' thresholds: qonnx's float ops are evaluated
        on every pair of input levels; integer multipliers (a_mul, b_mul) are accepted when the output level is
        a non-decreasing function of a * a_mul + b * b_mul alone (exact by construction)."""
        add, a, b = v.point.node, v.point.a, v.point.b
        lay = v.layer
        out_pt = self.int_point(qnode)
        la = np.arange(a.lo, a.hi + 1, dtype=np.int64)
        lb = np.arange(b.lo, b.hi + 1, dtype=np.int64)
        if la.size * lb.size > MAX_PAIRS:
            raise self.err(add, f"its inputs have {la.size} x {lb.size} level pairs, too many to check exactly "
                                f"(at most {MAX_PAIRS}); use narrower activation quantizers before the Add.")
        qa, qb = np.repeat(la, lb.size), np.tile(lb, la.size)
        c = lay.channels
        r = len(v.shape)
        ones = np.ones((1, c) + (1,) * (r - 2), dtype=np.int64)
        ins = [i for i in add.input if i and not self._is_const(i)]
        chain = [add] + v.chain + [qnode]
        ev = SubgraphEvaluator(chain, self.consts, self.opset, int_output={qnode.output[0]})
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
            raise self.err(add, f"the quantizer {qnode.name!r} after this Add of differently scaled inputs "
                                f"(scales {a.scale} and {b.scale}) is not a function of any integer combination "
                                f"a * m + b * n with m, n <= {MAX_MUL}; it cannot be made exact in integers. "
                                "Quantize both inputs with one (shared) quantizer.")
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
