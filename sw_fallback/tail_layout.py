"""A tail that starts with layout ops (a CNN's NHWC -> NCHW Reshape / Transpose / Flatten before its Gemm), run
without going through the evaluator node by node.

The layout prefix only moves elements: it is one gather by a permutation, found once by running the prefix on the
element indices through hwgen's evaluator. What follows it (e.g. the Gemm) runs in the very onnxruntime
sessions the evaluator builds for those nodes (same single-node models, same session options, the node's
constants fed as inputs, as qonnx does), called directly with the constants bound once: one session call per
remaining node, no per-call dictionaries of every constant. The arithmetic is the evaluator's, so the result is
too; it is checked against the evaluator at construction on random frames (and the caller keeps the evaluator
when this plan does not apply). A one-row call of a one-Gemm tail skips the session: sw_fallback.gemm_m1 replays
the kernel onnxruntime runs for it, once it matched the session bit for bit here.
"""

from __future__ import annotations

import numpy as np

from sw_fallback.gemm_m1 import check_m1, gemm_m1_transb, m1_operands

LUT_MAX = 1 << 16  # integer range of the last layer's output for which the entry is a table

LAYOUT_OPS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Transpose"}


class LayoutTail:
    """tail: the CpuPartition; q_shape: the per-frame shape of the integer output it reads. `reason` is None when
    the plan applies, else why not."""

    def __init__(self, tail, q_shape, lo, hi):
        self.tail, self.q_shape = tail, tuple(int(d) for d in q_shape)
        lo, hi = int(lo), int(hi)
        self.reason = self._plan(tail, self.q_shape, lo, hi)
        if self.reason is None:
            self.reason = self._check(lo, hi)

    def _plan(self, tail, q_shape, lo, hi) -> str | None:
        from hwgen.evaluator import QONNX_OPS
        from hwgen.onnx_eval import SubgraphEvaluator

        consts, data = tail.constants, tail.input
        nodes = list(tail.nodes)
        k = 0
        while k < len(nodes) and nodes[k].op_type in LAYOUT_OPS:
            n = nodes[k]
            if [i for i in n.input if i and i not in consts] != [data] or n.input[0] != data or len(n.output) != 1:
                return f"layout node {n.name or n.op_type} is not a single-input chain step"
            data = n.output[0]
            k += 1
        self.rest = nodes[k:]
        self.mid = data  # the tensor the layout prefix ends at
        for n in self.rest:
            if n.op_type in QONNX_OPS or n.op_type == "Reshape" or n.domain not in ("", "ai.onnx"):
                return f"node {n.name or n.op_type} ({n.op_type}) after the layout ops is not a plain onnxruntime node"
        f = int(np.prod(q_shape))
        idx = np.arange(f, dtype=np.float64).reshape((1,) + q_shape)
        try:
            out = SubgraphEvaluator(nodes[:k], consts, tail.opset).run({tail.input: idx}, [data])[data]
        except Exception as e:  # noqa: BLE001 (any evaluator failure: keep the evaluator)
            return f"layout of the tail not found: {type(e).__name__}: {e}"
        out = np.asarray(out)
        perm = out.reshape(-1)
        if out.shape[:1] != (1,) or perm.size != f or not np.array_equal(np.sort(perm), np.arange(f)):
            return "the tail's layout ops are not a per-frame permutation"
        self.perm = np.ascontiguousarray(perm.astype(np.intp))
        self.identity = bool(np.array_equal(self.perm, np.arange(f)))
        self.mid_shape = out.shape[1:]
        self.ev = SubgraphEvaluator(self.rest, consts, tail.opset) if self.rest else None
        # per remaining node: its inputs as ("data", name) / ("const", array), its outputs
        self.steps = []
        for n in self.rest:
            ins = [("const", np.asarray(consts[i])) if i in consts else ("data", i) for i in n.input if i]
            self.steps.append((n, ins, [o for o in n.output if o]))
        self.sessions = {}
        self._one_node = None  # the one-node tail's direct call (finish sets it on its first run)
        # the entry (integer -> float32, scalar zero point / scale) as one table over the integer range, applied
        # with the gather in one compiled pass
        self.lut = None
        e = tail.entry
        if e.get("kind") in ("int", "acc") and all(np.size(v) == 1 for k, v in e.items() if k != "kind") \
                and 0 <= hi - lo <= LUT_MAX:
            lut = np.asarray(tail.entry_values(np.arange(lo, hi + 1, dtype=np.int64).reshape(-1, 1))).reshape(-1)
            if lut.dtype == np.float32 and lut.size == hi - lo + 1:
                self.lut, self.lut_lo = np.ascontiguousarray(lut), int(lo)
        return None

    def _session(self, idx, node, arrays):
        """The evaluator's session for this node and these input dtypes (built by the evaluator itself)."""
        key = (idx, tuple(a.dtype.str for a in arrays))
        s = self.sessions.get(key)
        if s is None:
            self.ev._run_ort(idx, self.ev.nodes[idx], arrays)  # builds and caches the session, as the evaluator
            sess = self.ev._sessions[key]
            outs = [o.name for o in sess.get_outputs()]
            # the session's own run without its Python-side checks (feeds built here, always numpy arrays)
            inner = getattr(sess, "_sess", None)
            run = (lambda feed, _r=inner.run, _o=outs: _r(_o, feed, None)) if inner is not None else \
                (lambda feed, _r=sess.run: _r(None, feed))
            s = self.sessions[key] = (run, [i for i in node.input if i])
        return s

    def run(self, q: np.ndarray) -> np.ndarray:
        n = q.shape[0]
        if self.lut is not None and q.dtype.kind in "iu":
            from sw_fallback import head_kernels as HK

            v = np.empty((n, self.perm.shape[0]), dtype=np.float32)
            HK.gather_lut(np.ascontiguousarray(q).reshape(n, -1), self.perm, self.lut, self.lut_lo, v)
        else:
            v = self.tail.entry_values(q).reshape(n, -1)
            if not self.identity:
                v = v[:, self.perm]  # (a copy: contiguous, as the evaluator's layout ops leave it)
        return self.finish(v)

    def finish(self, v: np.ndarray) -> np.ndarray:
        """The gathered float values (N, F) (entry and layout done) -> the tail's output."""
        n = v.shape[0]
        v = v.reshape((n,) + self.mid_shape)
        if not self.steps:
            return v
        fast = self._one_node
        if fast and v.dtype == fast[0]:  # batch-1 calls: the usual one Gemm without the loop below
            _, run, feed, name, m1 = fast
            if n == 1 and m1 is not None:  # onnxruntime's own one-row kernel, replayed (gemm_m1)
                out = np.empty((1, m1[0].shape[0]), dtype=np.float32)
                gemm_m1_transb(v[0], m1[0], m1[1], out[0])
                return out
            feed = dict(feed)
            feed[name] = v
            return run(feed)[0]
        ctx = {self.mid: v}
        for idx, (node, ins, outs) in enumerate(self.steps):
            arrays = [a if kind == "const" else ctx[a] for kind, a in ins]
            run, names = self._session(idx, node, arrays)
            res = run(dict(zip(names, arrays)))
            for name, val in zip(outs, res):
                ctx[name] = val
        if len(self.steps) == 1 and self._one_node is None:
            self._one_node = self._single_step(v.dtype)
        return ctx[self.tail.output]

    def m1(self):
        """(B, c) of the one-node Gemm tail when a one-row call runs gemm_m1 (checked against its session), else
        None. (Known once finish ran: _check runs it at construction.)"""
        fast = self._one_node
        return fast[4] if fast else None

    def _single_step(self, dtype):
        """(dtype, run, feed of the constants, the data input's name, the gemm_m1 operands or None) when the tail
        is one node reading the gathered values once and writing the output (its session exists: finish ran it
        once), else False."""
        node, ins, outs = self.steps[0]
        data = [k for k, (kind, a) in enumerate(ins) if kind == "data"]
        if outs != [self.tail.output] or len(data) != 1 or ins[data[0]][1] != self.mid:
            return False
        arrays = [np.empty(0, dtype) if kind == "data" else a for kind, a in ins]
        run, names = self._session(0, node, arrays)
        feed = {nm: a for nm, (kind, a) in zip(names, ins) if kind == "const"}
        m1 = None
        if dtype == np.float32 and len(self.mid_shape) == 1:
            m1 = m1_operands(node, ins, self.mid, self.mid_shape[0])
            if m1 is not None and not check_m1(*m1, run, lambda r: {**feed, names[data[0]]: r}, self.lut):
                m1 = None  # (onnxruntime runs another kernel here: its session stays)
        return (dtype, run, feed, names[data[0]], m1)

    def _check(self, lo, hi) -> str | None:
        rng = np.random.default_rng(2)
        for batch in (1, 3):
            q = rng.integers(int(lo), int(hi) + 1, (batch,) + self.q_shape).astype(np.int64)
            try:
                want = np.asarray(self.tail.run(q))
                got = np.asarray(self.run(q))
            except Exception as e:  # noqa: BLE001
                return f"layout tail failed on random frames: {type(e).__name__}: {e}"
            if want.shape != got.shape or want.dtype != got.dtype or not np.array_equal(got, want, equal_nan=True):
                return "layout tail disagrees with the evaluator (kept the evaluator)"
        return None
