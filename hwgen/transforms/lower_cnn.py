"""Lower a quantized network with convolutions, pools and branches into a DAG of hardware layers.

The streamliner (hwgen.transforms.streamline) maps chains of MatMul / Gemm layers. A convolutional network is
a DAG over NCHW tensors; this walk visits its data-path nodes in topological order and keeps, per ONNX tensor,
a `Val`: the integer point there (IntPoint: quantizer levels; AccPoint: a matrix layer's accumulator), the
element-wise float nodes seen since that point (folded into the next quantizer's thresholds exactly as for a
MatMul), the hardware stream carrying it (producer layer and port; None: the accelerator input), its stream
layout (hwgen.transforms.layout) and a Pad not yet placed. The ops themselves are lowered by
hwgen.transforms.cnn_ops. A stream read by two hardware consumers gets a Duplicate. The CPU head ends with a
Transpose of the input quantizer's NCHW levels to the NHWC stream; the tail starts with the inverse.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from onnx import helper

from hwgen.cpu_partition import CpuPartition
from hwgen.errors import UnsupportedModelError
from hwgen.frontend.load import CNN_OPS, ELEMENTWISE_OPS, MATMUL_OPS, QUANT_OPS, SHAPE_OPS, TAIL_OPS
from hwgen.graph import Edge
from hwgen.layers import Duplicate, Thresholding
from hwgen.onnx_eval import SubgraphEvaluator
from hwgen.transforms import layout
from hwgen.transforms.cnn_ops import CnnOps, is_pow2
from hwgen.transforms.values import AddPoint, Val
from hwgen.transforms.input_head import plan_head
from hwgen.transforms.points import AccPoint, IntPoint
from hwgen.transforms.streamline import Streamliner

# ops that merge a preceding Pad node into their own padding (the others place it as a Pad layer first)
PAD_MERGING_OPS = {"Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Pad"}
# ops the CPU tail may run after an op hwgen leaves to it
CPU_TAIL_OPS = ELEMENTWISE_OPS | SHAPE_OPS | QUANT_OPS | MATMUL_OPS | TAIL_OPS | {"AveragePool", "GlobalAveragePool",
                                                                                  "MaxPool"}


def needs_dag(sl: Streamliner) -> bool:
    """True when the chain streamliner cannot map the graph: CNN ops in hardware or a branching data path."""
    nodes = [n for n in sl.g.node if n.output[0] not in sl.param_nodes]
    if any(n.op_type in CNN_OPS - {"Conv"} for n in nodes):
        return True
    for n in nodes:
        if sum(1 for c in sl.consumers.get(n.output[0], []) if c.output[0] not in sl.param_nodes) > 1:
            return True
        data = [i for i in n.input if i and not sl._is_const(i)]
        if len(data) > 1:
            return True
    # a Conv after a quantizer is hardware (a Conv fed by the float input runs in the CPU head)
    for n in nodes:
        if n.op_type == "Conv" and _has_quantizer_above(sl, n.input[0]):
            return True
    return False


def _has_quantizer_above(sl, t) -> bool:
    seen, todo = set(), [t]
    while todo:
        t = todo.pop()
        p = sl.producer.get(t)
        if p is None or t in seen:
            continue
        seen.add(t)
        if p.op_type in QUANT_OPS:
            return True
        todo += [i for i in p.input if i and not sl._is_const(i)]
    return False


class DagStreamliner(CnnOps, Streamliner):
    def __init__(self, mw, path, input_dtype=None):
        super().__init__(mw, path, input_dtype)
        self.vals: dict[str, Val] = {}
        self.layers: list = []
        self.edges: list[Edge] = []
        self.counts: dict[str, int] = {}
        self._ranks: dict[str, int] = {}  # synthetic tensors (identity Gemm / Conv entries): their rank

    # --- naming and wiring -----------------------------------------------------------------------------------
    def name(self, op):
        k = self.counts.get(op, 0)
        self.counts[op] = k + 1
        return self.namer(f"{op}_{k}")

    def add(self, layer, *srcs) -> tuple:
        """Append a layer fed by streams `srcs` (port order); -> its output stream."""
        self.layers.append(layer)
        for port, s in enumerate(srcs):
            self.edges.append(Edge(s[0], s[1], layer.name, port))
        return (layer.name, 0)

    def rank(self, tensor):
        if tensor in self._ranks:
            return self._ranks[tensor]
        s = self.mw.get_tensor_shape(tensor)
        return len(s) if s else 2

    def shape(self, tensor):
        return [int(d) for d in self.mw.get_tensor_shape(tensor)]

    # --- integer points of spatial tensors: channels on axis 1 -------------------------------------------------
    def int_point(self, n) -> IntPoint:
        pt = super().int_point(n)
        s = self.mw.get_tensor_shape(n.output[0]) or [1]
        if layout.is_spatial(s):
            pt.channels = int(s[1])
        return pt

    def _chain_fn(self, entry_tensor, entry_values, nodes, out_point_node):
        """g(acc) for a (K, C) array, with the channels on axis 1 of a rank-r tensor (K, C, 1, 1) for spatial
        tensors, as the ONNX nodes expect them."""
        ev = SubgraphEvaluator(nodes, self.consts, self.opset, int_output={out_point_node.output[0]})
        out = out_point_node.output[0]
        r = self.rank(entry_tensor)
        per_element = isinstance(getattr(entry_values, "__self__", None), IntPoint)

        def g(a):
            a = np.asarray(a)
            k = a.shape[0]
            if per_element:  # de-quantization parameters are shaped like the tensor: (1, C, 1, 1)
                v = entry_values(a.reshape(a.shape + (1,) * (r - 2)))
            else:
                v = np.asarray(entry_values(a)).reshape(a.shape + (1,) * (r - 2))
            res = np.asarray(ev.run({entry_tensor: v}, [out])[out])
            return res.reshape(k, -1)

        return g

    # --- the walk --------------------------------------------------------------------------------------------
    def data_nodes(self):
        return [n for n in self.g.node if n.output[0] not in self.param_nodes]

    def run(self):
        inits = {i.name for i in self.g.initializer}
        inp = [i for i in self.g.input if i.name not in inits][0]
        nodes = self.data_nodes()
        plan = plan_head(self, inp, nodes, self.input_dtype)
        head, point = plan.head, plan.point
        shape = self.shape(point.tensor)
        if layout.is_spatial(shape):  # the head hands the hardware NHWC frames
            nhwc = f"{point.tensor}__hwgen_nhwc"
            head.nodes.append(helper.make_node("Transpose", [head.output], [nhwc], name="__hwgen_to_nhwc",
                                               perm=layout.to_channels_last(shape)))
            head.output = nhwc
            head._ev = None
            point.channels = shape[1]
        self.vals[point.tensor] = Val(point, (None, 0), shape)
        self.first_dtype = point.dtype
        self.input_hwc = layout.hwc(shape)
        done = {id(n) for n in nodes[:plan.next_index]}
        self.skip: set = set()
        for n in nodes:
            if id(n) in done or n.name in self.skip:
                continue
            self.visit(n)
        out = self.g.output[0].name
        if out not in self.vals:
            raise UnsupportedModelError(f"{self.path}: the graph output {out!r} is not computed from the quantized "
                                        "data path; there is nothing to put in hardware.")
        v = self.vals[out]
        if not self.layers:
            raise UnsupportedModelError(f"{self.path}: no quantized Conv/MatMul/Gemm found; nothing to put in "
                                        "hardware.")
        tail = self.finish_tail(v)
        self.insert_duplicates()
        return head, self.layers, tail, self.edges

    def inputs(self, n):
        vs = []
        for i in n.input:
            if not i or self._is_const(i):
                continue
            if i not in self.vals:
                raise self.err(n, f"its input {i!r} is not computed from the model's quantized input; hwgen needs "
                                  "constant weights and parameters (make them initializers).")
            vs.append(self.vals[i])
        return vs

    def visit(self, n):
        op = n.op_type
        vs = self.inputs(n)
        if not vs:
            raise self.err(n, "it has no data input.")
        v = vs[0]
        out = n.output[0]
        if any(x.cpu for x in vs):
            if len(vs) > 1 or op not in CPU_TAIL_OPS:
                first = next(x for x in vs if x.cpu).chain[0]
                raise self.err(n, f"it follows {first.name!r}, which hwgen cannot compute exactly in integers and "
                                  "leaves to the CPU tail; only element-wise, shape, pooling and final matrix ops "
                                  "may follow it.")
            self.vals[out] = replace(v, chain=v.chain + [n], shape=self.shape_or(out, v.shape))
            return
        if op not in QUANT_OPS | ELEMENTWISE_OPS | TAIL_OPS | SHAPE_OPS:
            vs = [self.exact_sum(n, x) for x in vs]
        if op not in PAD_MERGING_OPS:
            vs = [self.materialize(x, n) for x in vs]
        v = vs[0]
        if op in QUANT_OPS:
            self.vals[out] = self.quantize(n, v)
        elif op == "Add" and len(vs) == 2:
            self.vals[out] = self.add_streams(n, vs[0], vs[1])
        elif op in ELEMENTWISE_OPS or op in TAIL_OPS:
            if len(vs) > 1:
                raise self.err(n, "an element-wise op of two data tensors is only supported as a residual Add of "
                                  "two quantized tensors.")
            self.vals[out] = replace(v, chain=v.chain + [n], shape=self.shape_or(out, v.shape))
        elif op in SHAPE_OPS:
            new_shape = self.shape(out)
            perm = layout.after_shape_op(n, v.perm, v.shape, new_shape)
            nv = replace(v, chain=v.chain + [n] if v.chain else [], shape=new_shape, perm=perm)
            if v.is_int:
                nv.point = replace(v.point, tensor=out)
                base = v.base or (v.point.tensor, v.shape, [])
                nv.base = None if perm is None else (base[0], base[1], base[2] + [n])
            self.vals[out] = nv
        elif op in MATMUL_OPS:
            self.vals[out] = self.matmul(n, v)
        elif op == "Conv":
            self.vals[out] = self.conv(n, v)
        elif op == "MaxPool":
            self.vals[out] = self.max_pool(n, v)
        elif op in ("AveragePool", "GlobalAveragePool"):
            q, val = self.avg_pool(n, v)
            self.skip.add(q.name)
            self.vals[q.output[0]] = val
        elif op == "Concat":
            self.vals[out] = self.concat(n, vs)
        elif op in ("Resize", "Upsample"):
            self.vals[out] = self.upsample(n, v)
        elif op == "Pad":
            self.vals[out] = self.pad_node(n, v)
        else:
            raise self.err(n, f"op {op} cannot be mapped here.")

    def shape_or(self, t, default):
        s = self.mw.get_tensor_shape(t)
        return [int(d) for d in s] if s else default

    # --- quantizers: thresholds ------------------------------------------------------------------------------
    def quantize(self, n, v: Val) -> Val:
        chain = v.chain + [n]
        shape = self.shape(n.output[0])
        if isinstance(v.point, AddPoint):
            if v.layer.thresholds is not None or getattr(v.layer, "_hwgen_exact", False):
                raise self.err(n, f"the sum of {v.layer.name} feeds two quantizers (or a quantizer and another "
                                  "op); hwgen folds one quantizer into a residual add.")
            return Val(self.fuse_add(v, n), v.src, shape)
        if isinstance(v.point, AccPoint) and v.layer is None:  # pooled accumulators: a Thresholding after the pool
            return self.threshold_acc(n, v, chain, shape)
        if isinstance(v.point, AccPoint):
            layer = v.layer
            if layer.thresholds is not None or getattr(layer, "_hwgen_fused", False):
                raise self.err(n, f"the accumulator of {layer.name} feeds two quantizers; hwgen folds one "
                                  "quantizer into a matrix layer.")
            layer, pt = self.fuse_thresholds(layer, v.point, chain)
            layer._hwgen_fused = True
            return Val(pt, v.src, shape, perm=v.perm)
        if v.perm is not None:
            raise self.err(n, "element-wise ops on a reordered (flattened) feature map before a quantizer are not "
                              "supported; quantize before the Flatten / Reshape / Transpose.")
        nm = self.name("Thresholding")
        layer, pt = self.make_thresholding(v.point, chain, 100000 + len(self.layers))
        layer.name = nm
        layer.num_vectors = int(np.prod(layout.hwc(v.shape)[:2]))
        if layout.is_spatial(v.shape):
            layer._spatial = layout.hwc(v.shape)[:2]
        src = self.add(layer, self.place(v, n))
        return Val(pt, src, shape, perm=v.perm)

    def threshold_acc(self, n, v, chain, shape):
        acc = v.point
        out_pt = self.int_point(n)
        g = self._chain_fn(acc.tensor, acc.to_float, acc.chain_prefix + chain, n)
        res = self._thresholds(g, acc.lo, acc.hi, out_pt, n, chain)
        if res.negate.any():
            raise self.err(n, "the float ops before this quantizer decrease with the pooled accumulator in channel "
                              f"{int(np.nonzero(res.negate)[0][0])}; quantize before the MaxPool.")
        dt = self.stream_info(*v.src)[0]
        h, w, _ = layout.hwc(v.shape)
        layer = Thresholding(self.name("Thresholding"), dt, res.thresholds, out_pt.dtype, out_base=out_pt.lo,
                             num_vectors=h * w, spatial=(h, w) if layout.is_spatial(v.shape) else None,
                             onnx_nodes=[c.name for c in chain])
        return Val(out_pt, self.add(layer, v.src), shape)

    def exact_sum(self, n, v: Val) -> Val:
        """A residual Add of two equally quantized tensors read by a hardware op other than a quantizer: the
        AddStreams outputs the integer sum (a_mul = b_mul = 1, no thresholds), an integer point of its own."""
        if not isinstance(v.point, AddPoint) or v.chain:
            return v
        a, b, lay = v.point.a, v.point.b, v.layer
        if not (a.scalar_params() and b.scalar_params() and np.array_equal(np.asarray(a.scale), np.asarray(b.scale))
                and not a.dtype.bipolar and not b.dtype.bipolar):
            raise self.err(n, f"it reads the sum of the residual Add {v.point.node.name!r}, whose inputs are "
                              "quantized with different scales; quantize the sum (an activation quantizer after "
                              "the Add) first.")
        if lay.thresholds is not None:
            raise self.err(n, f"the sum of {lay.name} is also quantized; hwgen gives a residual add one output.")
        lo, hi = lay.acc_range()
        lay.out_dtype = lay.acc_dtype()
        lay._hwgen_exact = True
        zp = np.asarray(a.zp, dtype=np.float32) + np.asarray(b.zp, dtype=np.float32)
        pt = IntPoint(v.point.tensor, v.point.node.name, lay.out_dtype, int(lo), int(hi), zp, a.scale, lay.channels)
        return replace(v, point=pt)

    def place(self, v: Val, n) -> tuple:
        """The stream of `v` with its pending Pad placed in hardware."""
        return self.materialize(v, n).src

    def materialize(self, v: Val, n) -> Val:
        """`v` with its pending Pad placed in hardware (a Pad layer), for ops that cannot merge it."""
        if v.pad is None:
            return v
        (t, l, b, r), level = v.pad
        src = self.pad_layer(v, (t, l, b, r), level, n)
        s = list(v.shape)
        s[-1] += l + r
        if len(s) == 4:
            s[-2] += t + b
        return replace(v, src=src, pad=None, shape=s)

    # --- the tail ----------------------------------------------------------------------------------------------
    def finish_tail(self, v: Val):
        out = self.g.output[0].name
        pt = v.point
        if isinstance(pt, AddPoint):
            v = self.exact_sum(pt.node, v)
            pt = v.point
        v = self.materialize(v, None)
        if isinstance(pt, AccPoint) and v.prev is not None and not exact_fc(v.layer, pt, v.prev[0].point):
            # qonnx's float32 sum of this last FC rounds where the hardware's integer sum does not: the tail
            # runs it as qonnx does, from the integer features the hardware delivers
            prev, node = v.prev
            self.layers.remove(v.layer)
            self.edges = [e for e in self.edges if e.dst != v.layer.name]
            v = replace(prev, chain=prev.chain + [node] + v.chain)
            pt = v.point
        if v.base is not None:  # a flattened feature map: the tail starts at its NHWC form
            tensor, shape, nodes = v.base
            v = replace(v, point=replace(pt, tensor=tensor), shape=shape, perm=None, chain=nodes + v.chain)
            pt = v.point
        tail_nodes = list(v.chain)
        last = self.layers[-1]
        if v.src[0] == last.name and v.perm is None and not layout.is_spatial(v.shape):
            selected = self.try_label_select(pt, tail_nodes, self.layers)
            if selected is not None:
                layer, out_shape = selected
                layer.name = self.name("LabelSelect")
                src = self.add(layer, v.src)
                self.edges.append(Edge(src[0], src[1], None, 0))
                return CpuPartition("tail", [], {}, out, out, self.opset,
                                    entry={"kind": "index", "shape": out_shape},
                                    reason="none: top-k runs in hardware (label select); indices are only reshaped")
        self.edges.append(Edge(v.src[0], v.src[1], None, 0))
        entry_shape = self.entry_shape(v)
        if v.perm is not None:
            raise UnsupportedModelError(f"{self.path}: the graph output {out!r} is a reordered feature map; hwgen "
                                        "returns feature maps only in their NCHW layout.")
        tail = self.make_tail(pt, tail_nodes)
        if layout.is_spatial(entry_shape):
            self.tail_from_nhwc(tail, entry_shape)
        return tail

    def entry_shape(self, v: Val):
        """Shape of the tensor the tail starts from (a synthetic accumulator entry: its Conv / Gemm's output)."""
        pt = v.point
        t = pt.chain_prefix[-1].output[0] if isinstance(pt, AccPoint) and pt.chain_prefix else pt.tensor
        return self.shape_or(t, v.shape)

    def tail_from_nhwc(self, tail: CpuPartition, shape):
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
        pre = [helper.make_node("Reshape", [flat, shape_c], [nhwc], name="__hwgen_tail_reshape"),
               helper.make_node("Transpose", [nhwc], [tail.input], name="__hwgen_from_nhwc",
                                perm=layout.from_channels_last(shape))]
        tail.nodes = pre + list(tail.nodes)
        tail.input = flat
        tail._ev = None

    # --- Duplicate where a stream has several consumers ----------------------------------------------------------
    def insert_duplicates(self):
        by_src: dict = {}
        for e in self.edges:
            by_src.setdefault((e.src, e.src_port), []).append(e)
        for (src, port), es in by_src.items():
            if len(es) < 2:
                continue
            dtype, hw, ch = self.stream_info(src, port)
            dup = Duplicate(self.name("Duplicate"), dtype, hw, ch, n_outputs=len(es))
            pos = 0 if src is None else next(i for i, lay in enumerate(self.layers) if lay.name == src) + 1
            self.layers.insert(pos, dup)
            for k, e in enumerate(es):
                self.edges[self.edges.index(e)] = Edge(dup.name, k, e.dst, e.dst_port)
            self.edges.append(Edge(src, port, dup.name, 0))

    def stream_info(self, src, port):
        if src is None:
            h, w, c = self.input_hwc
            return self.first_dtype, (h, w), c
        lay = next(lay for lay in self.layers if lay.name == src)
        dt, _, _ = lay.out_port(port)
        n = lay.out_nhwc
        return dt, (int(n[1]), int(n[2])), int(n[3])


def exact_fc(layer, acc: AccPoint, x: IntPoint) -> bool:
    """Whether qonnx's float32 MatMul/Gemm of the de-quantized input x equals the exact sum: input and weight
    scales powers of two (every de-quantized value and product exact), an integer zero point, and every partial
    sum within float32's 24-bit mantissa (in units of the scales)."""
    s_x = float(np.asarray(x.scale, dtype=np.float64).ravel()[0])
    s_w = np.asarray(acc.factor, dtype=np.float64) / s_x
    z = float(np.asarray(x.zp, dtype=np.float64).ravel()[0])
    if not (all(is_pow2(f) for f in s_w.ravel()) and is_pow2(s_x) and z == round(z)):
        return False
    xmax = max(abs(x.lo - z), abs(x.hi - z))
    return int(np.abs(layer.weights).sum(axis=1).max()) * max(xmax, 1) <= (1 << 24)


def lower_graph(mw, path, input_dtype=None):
    """Streamline a model: -> (head, layers, tail, edges). Chains of matrix layers (MLPs) go through the chain
    streamliner (edges None: the layers in a chain), everything else through the DAG walk."""
    sl = Streamliner(mw, path, input_dtype)
    if not needs_dag(sl):
        head, layers, tail = sl.run()
        return head, layers, tail, None
    return DagStreamliner(mw, path, input_dtype).run()


__all__ = ["DagStreamliner", "exact_fc", "lower_graph", "needs_dag"]
