"""The CPU partitions compiled (see sw_fallback.backend's docstring): a monotone element-wise head as exact
per-element thresholds on the float32 order, an element-wise tail as a table per channel and integer value.
Each falls back to hwgen's evaluator when it does not apply."""

from __future__ import annotations

import numpy as np

from sw_fallback import head_kernels as HK
from sw_fallback import kernels as K
from sw_fallback.formats import Bits, Chw, CpuBackendError, Planes, convert, elem_type, int_type, is_int, pack_const, words
from sw_fallback.mlp import out_range

# element-wise ops whose float32 result is one correctly rounded IEEE operation (or exact): position independent
_LAYOUT = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"}
_MOVES = {"Transpose"}  # layout ops that move elements (a CNN head's NCHW -> NHWC): the head gathers first
_MONOTONE = {"Mul", "Div", "Add", "Sub", "Relu", "Clip", "Max", "Min", "Neg", "Quant", "BipolarQuant"}
_ELEMENTWISE_EXACT = _LAYOUT | _MONOTONE | {"Abs", "Floor", "Ceil", "Round", "Sign", "Cast", "Trunc"}
FLT_MAX = np.finfo(np.float32).max
HEAD_MAX_LEVELS = 4096  # input quantizers up to 12 bits get compiled thresholds
HEAD_INTERP_ROWS = 64  # distinct threshold rows (per-tensor / per-channel quantizers) that get the interpolated path
HEAD_FEW_T = 8  # at most this many thresholds per element: a vectorized count (head_levels_few), not the interpolation
TAIL_MAX_TABLE = 1 << 22  # entries of the tail lookup table


# ----------------------------------------------------------------------------------------------------------------
# CPU partitions


def _chain_reason(part, allowed: set, monotone: bool) -> str | None:
    """None if `part` is a chain of allowed element-wise nodes on one data tensor with constant other inputs."""
    consts = part.constants
    data = part.input
    for node in part.nodes:
        op = node.op_type
        if op not in allowed:
            return f"node {node.name or op} ({op}) is not a supported element-wise op"
        ins = list(node.input)
        dyn = [i for i in ins if i and i not in consts]
        if dyn != [data]:
            return f"node {node.name or op} ({op}) is not a single-input chain step"
        cvals = [np.asarray(consts[i]) for i in ins if i and i in consts]
        if op not in _LAYOUT and op != "Cast":
            for c in cvals:
                if c.dtype.kind == "f" and not np.all(np.isfinite(c)):
                    return f"node {node.name or op} ({op}) has a non-finite constant"
        if monotone:
            if op in ("Mul", "Div") and any(np.any(c == 0) for c in cvals):
                return f"node {node.name or op} ({op}) multiplies or divides by zero"
            if op == "Div" and ins[0] != data:
                return f"node {node.name or op}: constant / x is not monotone"
            if op in ("Quant", "BipolarQuant"):
                if ins[0] != data:
                    return f"node {node.name or op}: quantizer input is not the data"
                if not np.all(np.asarray(consts[ins[1]]) > 0):
                    return f"node {node.name or op}: quantizer scale not positive"
        elif op in ("Quant", "BipolarQuant", "Trunc") and ins[0] != data:
            return f"node {node.name or op}: quantizer input is not the data"
        if len(node.output) != 1:
            return f"node {node.name or op} has {len(node.output)} outputs"
        data = node.output[0]
    if data != part.output:
        return "the chain does not end at the partition output"
    return None


class CompiledHead:
    """Exact per-element thresholds on the float32 order for a monotone head (see the module docstring)."""

    def __init__(self, graph, fmt):
        """fmt: the format the first layer reads."""
        self.graph = graph
        self.mode = "evaluator"
        self.reason = ""
        head = graph.head
        fl = graph.input_node()
        self.in_dtype = fl.in_dtype
        self.shape = tuple(graph.input_shape[1:])
        self.F = int(np.prod(self.shape))
        self.lo, self.hi = int(fl.in_dtype.min), int(fl.in_dtype.max)
        self.fmt = fmt
        feats = fl.in_port(0)[2]
        r = _chain_reason(head, _MONOTONE | _LAYOUT | _MOVES, monotone=True) if head.nodes else "empty head"
        self.perm = None
        self.order = None  # fmt Chw: output element j is the stream's element order[j] (the tables are in that order)
        self.interp = None  # (padded rows, row_of, params) of the interpolated fast path (_search, head_kernels)
        self.proven = None  # head_kernels.proven_tables when every row is proven (head_levels_proven)
        if r is None and any(n.op_type in _MOVES for n in head.nodes):
            r = self._find_perm()
        if r is None and self.F != feats:
            r = f"head maps {self.F} input elements to {feats} features"
        if r is None and self.hi - self.lo > HEAD_MAX_LEVELS:
            r = f"{self.hi - self.lo + 1} input levels (more than {HEAD_MAX_LEVELS + 1})"
        if r is None:
            try:
                r = self._search()
            except Exception as e:  # an evaluator failure on probes: keep the evaluator for real inputs
                r = f"threshold search failed: {type(e).__name__}: {e}"
        self.mode = "thresholds" if r is None else "evaluator"
        self.reason = r or "monotone element-wise head: exact float32 thresholds"

    def _find_perm(self) -> str | None:
        """The element moves of the head's layout ops: output element j comes from input element perm[j]
        (the element-wise ops replaced by Identity, the chain run on the element indices)."""
        from onnx import helper

        from hwgen.onnx_eval import SubgraphEvaluator

        head, data, nodes = self.graph.head, self.graph.head.input, []
        for node in head.nodes:
            if node.op_type in _LAYOUT | _MOVES:
                nodes.append(node)
            else:
                nodes.append(helper.make_node("Identity", [data], [node.output[0]]))
            data = node.output[0]
        idx = np.arange(self.F, dtype=np.float64).reshape((1,) + self.shape)
        try:
            out = SubgraphEvaluator(nodes, head.constants, head.opset).run({head.input: idx}, [head.output])
            perm = np.asarray(out[head.output]).reshape(-1)
        except Exception as e:  # noqa: BLE001 (any evaluator failure: keep the evaluator)
            return f"layout of the head not found: {type(e).__name__}: {e}"
        if perm.size != self.F or not np.array_equal(np.sort(perm), np.arange(self.F)):
            return "the head's layout ops are not a permutation of the input"
        self.perm = np.ascontiguousarray(perm.astype(np.int64))
        return None

    def _levels(self, keys: np.ndarray) -> np.ndarray:
        """Head levels (P, F) per output element j for float keys (P, F) given to the input element feeding j."""
        if self.perm is not None:
            k = np.empty_like(keys)
            k[:, self.perm] = keys
            keys = k
        x = HK.keys_to_float(keys).reshape((keys.shape[0],) + self.shape)
        with np.errstate(all="ignore"):  # probes span the whole float range: overflow to +-inf is expected
            q = np.asarray(self.graph.head.run(x)).reshape(keys.shape[0], -1)
        if q.shape[1] != self.F or not self.in_dtype.allowed(q):
            raise CpuBackendError("head output on probes is not the first layer's integer levels")
        return q.astype(np.int64) if self.order is None else q[:, self.order].astype(np.int64)

    def _relayout(self, order) -> None:
        """The tables (per output element) in the order of a channel-planar first layer (formats.Chw): its
        element j is the stream's element order[j]. The input gather (perm) takes the order on: an NCHW model
        input read by a channel-planar layer needs no gather at all."""
        self.order = order
        self.thr = np.ascontiguousarray(self.thr[order])
        self.thrT = np.ascontiguousarray(self.thr.T)
        self.base, self.sgn = np.ascontiguousarray(self.base[order]), np.ascontiguousarray(self.sgn[order])
        perm = order if self.perm is None else self.perm[order]
        self.perm = None if np.array_equal(perm, np.arange(self.F)) else np.ascontiguousarray(perm, dtype=np.int64)

    def _search(self) -> str | None:
        F, lo, hi = self.F, self.lo, self.hi
        kmin, kmax = (int(k) for k in HK.float_keys(np.array([-FLT_MAX, FLT_MAX], dtype=np.float32)))
        ends = self._levels(np.array([[kmin] * F, [kmax] * F], dtype=np.int64))
        inc = ends[0] <= ends[1]
        ks = np.arange(lo + 1, hi + 1, dtype=np.int64)[:, None]  # (T, 1) level boundaries
        T = ks.shape[0]
        a = np.full((T, F), kmin, dtype=np.int64)  # P(a-1) false (or a = kmin)
        b = np.full((T, F), kmax + 1, dtype=np.int64)  # P(b) true (sentinel beyond the finite floats)
        while True:
            act = a < b
            if not act.any():
                break
            mid = np.where(act, (a + b) >> 1, a)
            mid = np.minimum(mid, kmax)
            lev = self._levels(mid)
            p = np.where(inc[None, :], lev >= ks, lev < ks)
            b = np.where(act & p, mid, b)
            a = np.where(act & ~p, mid + 1, a)
        self.thr = np.ascontiguousarray(np.sort(a.T, axis=1).astype(np.int32))  # (F, T) ascending keys
        self.thrT = np.ascontiguousarray(self.thr.T)
        self.base = np.where(inc, lo, hi).astype(np.int32)  # level = base + sgn * #passed
        self.sgn = np.where(inc, 1, -1).astype(np.int32)
        if isinstance(self.fmt, Chw):
            self._relayout(self.fmt.order())
        # check the compiled head against the evaluator at every boundary, just below it, and at random values
        rng = np.random.default_rng(0)
        probes = [self.thr.T.reshape(-1, F)[:256], (self.thr.T - 1).reshape(-1, F)[:256],
                  np.clip(self.thr.T + 1, kmin, kmax).reshape(-1, F)[:256],
                  HK.float_keys(rng.standard_normal((64, F)).astype(np.float32) * 4),
                  rng.integers(kmin, kmax + 1, (64, F))]
        keys = np.clip(np.concatenate(probes), kmin, kmax)
        want = self._levels(keys)
        self.mode = "thresholds"  # (tentatively: run() below takes the compiled path)
        rows, row_of = np.unique(self.thr, axis=0, return_inverse=True)
        self.interp = self.proven = None
        if rows.shape[0] <= HEAD_INTERP_ROWS:
            params = HK.interp_params(rows)
            # few thresholds: the interpolation only when proven (its one pass beats head_levels_few's T passes)
            if self.thrT.shape[0] > HEAD_FEW_T or np.all(params[:, 2] > 0):
                self.interp = (HK.padded_rows(rows), np.ascontiguousarray(row_of.reshape(-1), dtype=np.int32), params)
                perm = HK.NO_PERM if self.perm is None else self.perm
                self.proven = HK.proven_tables(perm, self.interp[1], params, self.base, self.sgn)
        # only the kernel run() uses for the first layer's format is compiled and checked here: a cold process
        # compiles no head kernel it does not run (each costs ~0.5 s of LLVM)
        if self.perm is not None:  # run() gathers the input by perm: give it the probes in input order
            keys_in = np.empty_like(keys)
            keys_in[:, self.perm] = keys
        else:
            keys_in = keys
        x = HK.keys_to_float(keys_in).reshape((keys.shape[0],) + self.shape)
        if self._agrees(x, want):
            return None
        if self.interp is not None:
            self.interp = self.proven = None
            if self._agrees(x, want):
                return None
        self.mode = "evaluator"
        return "compiled thresholds disagree with the evaluator (kept the evaluator)"

    def _agrees(self, x, want) -> bool:
        """run(x) in the first layer's format equals the evaluator's levels `want` (N, F) in that format."""
        fmt = self.fmt
        got = self.run(x, fmt, compiled_only=True)
        if got is None:
            return False
        if fmt == Bits(self.F):
            return np.array_equal(got, pack_const(want))
        if isinstance(fmt, Planes) and fmt.bits <= 4:
            u = (want - fmt.xmin) >> (fmt.ax // 2)
            planes = np.stack([pack_const(((u >> i) & 1) * 2 - 1) for i in range(fmt.bits)], axis=1)
            return np.array_equal(got, planes)
        return np.array_equal(np.asarray(got).reshape(want.shape).astype(np.int64), want)

    def run(self, x: np.ndarray, fmt=None, compiled_only=False):
        """x: float32 model input -> the first layer's input in `fmt` (default: its compute format).
        compiled_only: None instead of the evaluator's answer when the compiled path does not answer."""
        fmt = self.fmt if fmt is None else fmt
        n = x.shape[0]
        if self.mode == "thresholds" and is_int(fmt) and fmt != self.fmt and (elem_type(self.fmt) is not None
                                                                             or self.fmt == Bits(self.F)):
            # integers in another type (head_ints, the input range check): the layers' own head kernel, then
            # numpy (a cold process compiles no second specialization of it)
            out = self.run(x, self.fmt, compiled_only)
            if out is None:
                return None
            if is_int(self.fmt):
                return out.astype(fmt)
            if isinstance(self.fmt, Chw):
                return convert(out, self.fmt, fmt, self.F)
            bits = np.unpackbits(out.view(np.uint8), axis=1, bitorder="little")[:, :self.F]
            return (bits.astype(fmt) * 2 - 1).astype(fmt)
        if self.mode == "thresholds":
            xb = np.ascontiguousarray(x, dtype=np.float32).reshape(n, self.F).view(np.int32)
            et = elem_type(fmt) if fmt == self.fmt or is_int(fmt) else None  # (tables in its order)
            if self.interp is not None and et is not None:  # gathers by perm itself
                out = np.empty((n, self.F), dtype=et)
                perm = HK.NO_PERM if self.perm is None else self.perm
                bad = (HK.head_levels_proven(xb, perm, self.interp[0], *self.proven, out) if self.proven is not None
                       else HK.head_levels_interp(xb, perm, *self.interp, self.base, self.sgn, out))
                if bad == 0:
                    return out
                return None if compiled_only else convert(self.graph.head_ints(x), np.int64, fmt, self.F)
            if self.perm is not None:
                xb = np.ascontiguousarray(xb[:, self.perm])
            args = (xb, self.thrT, self.thr, self.base, self.sgn)
            if fmt == Bits(self.F):
                out = np.empty((n, words(self.F)), dtype=np.uint64)
                few = self.thrT.shape[0] <= HEAD_FEW_T
                bad = (HK.head_bits_few(xb, self.thrT, self.base, self.sgn, out) if few else K.head_bits(*args, out))
            elif isinstance(fmt, Planes) and fmt.bits <= 4:
                out = np.empty((n, fmt.bits, words(self.F)), dtype=np.uint64)
                bad = K.head_planes(*args, fmt.xmin, fmt.ax // 2, out)
            elif et is None:
                it = int_type(self.lo, self.hi)
                out = self.run(x, it, compiled_only)
                if out is None:
                    return None
                out, bad = convert(out, it, fmt, self.F), 0
            elif self.thrT.shape[0] <= HEAD_FEW_T:
                out = np.empty((n, self.F), dtype=et)
                bad = HK.head_levels_few(xb, self.thrT, self.base, self.sgn, out)
            else:
                out = np.empty((n, self.F), dtype=et)
                bad = K.head_levels(*args, out)
            if bad == 0:
                return out
        if compiled_only:
            return None
        q = self.graph.head_ints(x)  # the evaluator: exact behaviour on NaN / inf (or its error)
        return convert(q, np.int64, fmt, self.F)


class CompiledTail:
    """The tail as a table per channel and integer value, when it is element-wise (see the module docstring)."""

    def __init__(self, graph, last_layer, q_shape=None):
        """q_shape: the per-frame shape of the integer output the tail reads (default: (channels,))."""
        self.graph = graph
        self.mode = "evaluator"
        tail = graph.tail
        lo, hi = out_range(last_layer)
        self.C = last_layer.out_features
        r = _chain_reason(tail, _ELEMENTWISE_EXACT, monotone=False) if tail.nodes else None
        R = int((hi - lo).max(initial=0)) + 1
        if r is None and (last_layer.out_port(0)[2] != self.C or last_layer.n_outputs != 1):
            r = "last layer has several vectors per frame"
        if r is None and R * self.C > TAIL_MAX_TABLE:
            r = f"output range too wide for a table ({R} values x {self.C} channels)"
        if r is None:
            try:
                vals = np.minimum(lo[None, :] + np.arange(R)[:, None], hi[None, :]).astype(np.int64)
                self.q_shape = tuple(q_shape or (self.C,))
                y = np.asarray(tail.run(vals.reshape(R, *self.q_shape)))
                if y.shape[0] != R or y.size != R * self.C:
                    r = f"tail output shape {y.shape} is not element-wise"
                else:
                    self.out_shape = y.shape[1:]
                    self.lut = np.ascontiguousarray(y.reshape(R, self.C).T)
                    self.lo = np.ascontiguousarray(lo, dtype=np.int64)
                    rng = np.random.default_rng(1)
                    q = rng.integers(lo, hi + 1, (97, self.C)).reshape(97, *self.q_shape)
                    if not np.array_equal(self.run(q), np.asarray(tail.run(q)), equal_nan=y.dtype.kind == "f"):
                        r = "table disagrees with the evaluator (kept the evaluator)"
            except Exception as e:
                r = f"table build failed: {type(e).__name__}: {e}"
        if r is None:
            self.mode = "table"
        elif tail.nodes:  # a layout prefix (NHWC -> NCHW) as one gather, the nodes after it in their own sessions
            from sw_fallback.tail_layout import LayoutTail

            lt = LayoutTail(tail, q_shape or (last_layer.out_port(0)[2],), lo.min(initial=0), hi.max(initial=0))
            if lt.reason is None:
                self.mode, self.layout = "layout", lt
                r = ("layout ops as one gather, then " + (", ".join(n.op_type for n in lt.rest) or "nothing")
                     + " in the evaluator's onnxruntime sessions")
            else:
                r = f"{r}; {lt.reason}"
            self.reason = r
            return
        self.reason = r or "element-wise tail: exact table per channel and integer value"

    def run(self, q):
        out = np.empty((q.shape[0], self.C), dtype=self.lut.dtype)
        K.tail_lookup(np.ascontiguousarray(q).reshape(q.shape[0], self.C), self.lut, self.lo, out)
        return out.reshape((q.shape[0],) + self.out_shape)


