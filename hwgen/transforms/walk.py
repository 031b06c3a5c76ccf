"""The lowering walk: every data-path node of the graph, in topological order, to hardware or to the CPU.

Per ONNX tensor the walk keeps a `Val` (hwgen.transforms.values): the integer point there (IntPoint: quantizer
levels; AccPoint: a matrix layer's accumulator; AddPoint: a residual Add's float sum), the float element-wise
nodes seen since (folded into the next quantizer's thresholds), the hardware stream carrying it (producer layer
and port; producer None: an island input), its stream layout (hwgen.transforms.layout) and a Pad not yet placed;
or `cpu`: a float tensor the CPU computes.

Each node is lowered by its op's rule (hwgen.transforms.rules). When no rule applies, or the rule finds the node
cannot run exactly in hardware (its error says why), the node runs on the CPU: the hardware values it reads leave
hardware there (`exits`), and its outputs are CPU tensors. A quantizer reading a CPU tensor starts hardware again
(`entries`: an island input; its head is the quantizer, as qonnx computes it). Which layers form which hardware
island, and what the CPU islands between them run, is decided afterwards (hwgen.transforms.partition).

A stream read by two hardware consumers (or by hardware and the CPU) gets a Duplicate. Layer names are
<kind>_<k> in graph order (FOLD.json keys).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from onnx import helper

from hwgen.cpu_partition import CpuPartition
from hwgen.errors import UnsupportedModelError, describe_node
from hwgen.frontend.load import MATMUL_OPS
from hwgen.graph import Edge
from hwgen.layers import Duplicate
from hwgen.onnx_eval import SubgraphEvaluator
from hwgen.transforms import layout
from hwgen.transforms import rules as R
from hwgen.frontend.input_types import annotated_grid
from hwgen.transforms.input_head import plan_head
from hwgen.transforms.points import IntPoint
from hwgen.transforms.rules.common import pad_layer
from hwgen.transforms.rules.joins import exact_sum
from hwgen.transforms.lowering import Lowering
from hwgen.transforms.values import Val

ENTRY_OPS = {"Quant", "BipolarQuant"}  # quantizers that may start hardware on a CPU tensor


class Retry(Exception):
    """The walk's result cannot be partitioned as it is: run `node` on the CPU (for `reason`) and walk again."""

    def __init__(self, node: str, reason: str, at_exit: bool = False):
        super().__init__(f"{node}: {reason}")
        self.node, self.reason = node, reason
        self.at_exit = at_exit  # a value leaving hardware is computed on the CPU (allowed by --hw-only at the tail)


@dataclass
class Entry:
    """An island input: the CPU tensor `tensor`, turned into the integer stream `point` by `head`."""

    tensor: str
    head: CpuPartition
    point: IntPoint
    shape: list
    first: bool = False  # the model's own input head (hwgen.transforms.input_head)


def cpu_val(shape) -> Val:
    return Val(None, None, list(shape or []), cpu=True)


class Walk(Lowering):
    def __init__(self, mw, path, input_dtype=None, forced: dict | None = None, memo: dict | None = None):
        super().__init__(mw, path, input_dtype)
        if memo is not None:  # thresholds computed by an earlier walk of the same lowering
            self.memo = memo
        self.forced = dict(forced or {})  # node name -> why it runs on the CPU (decided by partitioning)
        self.vals: dict[str, Val] = {}
        self.layers: list = []
        self.edges: list[Edge] = []
        self.counts: dict[str, int] = {}
        self._ranks: dict[str, int] = {}  # synthetic tensors (identity Gemm / Conv entries): their rank
        self.fused: set = set()  # matrix layers whose quantizer is folded in
        self.exact_sums: set = set()  # AddStreams giving the exact integer sum
        self.skip: set = set()  # nodes a rule lowered together with an earlier one
        self.entries: list[Entry] = []
        self.cpu: dict[str, str] = {}  # node name -> why it runs on the CPU
        self.cpu_layers: dict[str, str] = {}  # matrix layer name it would have in hardware -> its node (CPU)
        self.cpu_nodes: list = []
        self.exits: dict[str, Val] = {}  # tensor -> the hardware value the CPU reads
        self.head_plan = None
        self.head_error = None
        self.model_input = None

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

    def set_rank(self, tensor, rank):
        self._ranks[tensor] = rank

    def shape(self, tensor):
        return [int(d) for d in self.mw.get_tensor_shape(tensor)]

    def shape_or(self, t, default):
        s = self.mw.get_tensor_shape(t)
        return [int(d) for d in s] if s else default

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
        self.model_input = inp.name
        nodes = self.data_nodes()
        done = set()
        annotated_grid(self.mw.model, inp.name, self.path)  # a bad finn_datatype annotation is the user's to fix
        try:
            plan = plan_head(self, inp, nodes, self.input_dtype)
        except UnsupportedModelError as e:  # the input does not enter hardware the usual ways: the CPU takes it
            if self.input_dtype is not None:
                raise
            plan, self.head_error = None, self.reason_of(e)
        if plan is not None and any(n.name in self.forced for n in nodes[:plan.next_index]):
            plan = None
        if plan is not None:
            self.head_plan = plan
            head, point = plan.head, plan.point
            shape = self.shape(point.tensor)
            if layout.is_spatial(shape):  # the head hands the hardware NHWC frames
                head.append(helper.make_node("Transpose", [head.output], [f"{point.tensor}__hwgen_nhwc"],
                                             name="__hwgen_to_nhwc", perm=layout.to_channels_last(shape)))
                point.channels = shape[1]
            self.entries.append(Entry(inp.name, head, point, shape, first=True))
            self.vals[point.tensor] = Val(point, (None, 0), shape)
            done = {id(n) for n in nodes[:plan.next_index]}
        else:
            self.vals[inp.name] = cpu_val(self.shape_or(inp.name, []))
        for n in nodes:
            if id(n) in done or n.name in self.skip:
                continue
            self.visit(n)
        for o in self.g.output:
            v = self.val(o.name)
            if not v.cpu:
                self.exits.setdefault(o.name, v)
        return self

    def reason_of(self, e: Exception) -> str:
        return str(e).removeprefix(f"{self.path}: ")

    def val(self, t) -> Val:
        """The value of tensor t; one the walk did not lower (inside the input head) is a CPU tensor."""
        v = self.vals.get(t)
        return v if v is not None else cpu_val(self.shape_or(t, []))

    def data_inputs(self, n) -> list[str]:
        return [i for i in n.input if i and not self._is_const(i)]

    def visit(self, n):
        names = self.data_inputs(n)
        vs = [self.val(t) for t in names]
        if n.name in self.forced:
            if n.op_type in MATMUL_OPS:  # the name it has in hardware (a folding file may name it)
                self.cpu_layers[f"MVAU_{self.counts.get('MVAU', 0)}"] = n.name
            return self.to_cpu(n, names, vs, self.forced[n.name])
        if not vs:
            return self.to_cpu(n, names, vs, f"{describe_node(n)}: it has no data input")
        if any(v.cpu for v in vs):
            if n.op_type in ENTRY_OPS and len(vs) == 1:
                return self.enter(n, names[0])
            src = next(t for t, v in zip(names, vs) if v.cpu)
            if src == self.model_input and self.head_error:  # why the model's input does not enter hardware
                return self.to_cpu(n, names, vs, self.head_error)
            return self.to_cpu(n, names, vs, f"{describe_node(n)}: it reads {src!r}, a float tensor computed on "
                                             "the CPU")
        rule = R.find(self, n, vs)
        if rule is None:
            return self.to_cpu(n, names, vs, f"{describe_node(n)}: hwgen has no hardware for op {n.op_type} (no "
                                             "lowering rule)")
        mark = self.checkpoint()
        try:
            xs = vs if rule.reads_sum else [exact_sum(self, n, x) for x in vs]
            xs = xs if rule.merges_pad else [self.materialize(x, n) for x in xs]
            out = rule.fn(self, n, xs)
        except UnsupportedModelError as e:
            self.rollback(mark)
            if n.op_type in ENTRY_OPS and vs[0].chain and vs[0].chain[-1].name not in self.forced:
                # the float ops before this quantizer do not fold into thresholds: they run on the CPU and the
                # quantizer starts hardware again on their result
                raise Retry(vs[0].chain[-1].name, self.reason_of(e)) from None
            return self.to_cpu(n, names, vs, self.reason_of(e))
        if isinstance(out, dict):
            self.vals.update(out)
        else:
            self.vals[n.output[0]] = out

    def checkpoint(self):
        return (len(self.layers), len(self.edges), dict(self.counts), set(self.fused), set(self.exact_sums),
                set(self.skip), dict(self._ranks))

    def rollback(self, mark):
        nl, ne, counts, fused, sums, skip, ranks = mark
        del self.layers[nl:]
        del self.edges[ne:]
        self.counts, self.fused, self.exact_sums, self.skip, self._ranks = counts, fused, sums, skip, ranks

    # --- the CPU side ----------------------------------------------------------------------------------------
    def to_cpu(self, n, names, vs, reason):
        for t, v in zip(names, vs):
            if not v.cpu and v.src[0] is not None:  # hardware computes it: it leaves hardware here
                self.exits.setdefault(t, v)
        for o in n.output:
            if o:
                self.vals[o] = cpu_val(self.shape_or(o, []))
        self.cpu[n.name] = reason
        self.cpu_nodes.append(n)

    def enter(self, n, tensor):
        """Quantizer n reads CPU tensor `tensor`: an island input (its head: the quantizer, levels out)."""
        k = len(self.entries)
        pt = self.int_point(n)
        shape = self.shape(n.output[0])
        head = CpuPartition("head", [n], self.consts_for([n]), tensor, n.output[0], self.opset,
                            reason=f"quantizer {n.name!r} of a tensor computed on the CPU",
                            int_output={n.output[0]})
        if layout.is_spatial(shape):
            head.append(helper.make_node("Transpose", [n.output[0]], [f"{n.output[0]}__hwgen_nhwc"],
                                         name=f"__hwgen_to_nhwc_{k}", perm=layout.to_channels_last(shape)))
        pt.tensor = n.output[0]
        self.entries.append(Entry(tensor, head, pt, shape))
        self.vals[n.output[0]] = Val(pt, (None, k), shape)

    # --- Pad placement -----------------------------------------------------------------------------------------
    def place(self, v: Val, n) -> tuple:
        """The stream of `v` with its pending Pad placed in hardware."""
        return self.materialize(v, n).src

    def materialize(self, v: Val, n) -> Val:
        """`v` with its pending Pad placed in hardware (a Pad layer), for ops that cannot merge it."""
        if v.pad is None:
            return v
        (t, l, b, r), level = v.pad
        src = pad_layer(self, v, (t, l, b, r), level, n)
        s = list(v.shape)
        s[-1] += l + r
        if len(s) == 4:
            s[-2] += t + b
        return replace(v, src=src, pad=None, shape=s)

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
            e = self.entries[port]
            h, w, c = layout.hwc(e.shape)
            return e.point.dtype, (h, w), c
        lay = next(lay for lay in self.layers if lay.name == src)
        dt, _, _ = lay.out_port(port)
        n = lay.out_nhwc
        return dt, (int(n[1]), int(n[2])), int(n[3])

