"""The `cpu` backend: the hardware graph on the CPU, bit-exact, through numba-compiled kernels (sw_fallback.kernels).

    acc = Accelerator("out/", backend="cpu")          # or CpuBackend(out_dir, graph) directly
    y = acc.execute(x)

Layers. Each layer reads its input in the format it computes on, written directly by the layer before it:
XNOR MVAUs (BIPOLAR inputs and weights) read bit-packed uint64 words, and a BIPOLAR-output XNOR MVAU writes the
next layer's packed words itself; the other layers read int8 / int16 / int32 / int64 arrays, the narrowest type
holding the values, with accumulators chosen from the layer's exact accumulator range. Weights are packed or
narrowed once, here. Thresholds are fused into the MVAU kernels; integer MVAUs take four images per pass over
a weight row (int16 SIMD multiply-adds when the accumulator range allows); a compiled head feeds a first int16
MVAU directly (fuse_head). Option bitserial=True runs few-bit integer layers on bit planes and popcounts.

Kernels are compiled on first use and cached by numba (cache=True): in sw_fallback/__pycache__ when that is
writable, else numba's user-wide cache directory (or NUMBA_CACHE_DIR when set), so a second process loads
machine code instead of compiling (cache_hits() / cache_misses() count it).

CPU partitions (optional, used by `execute`, `head_ints`, `tail`; each falls back to hwgen's evaluator):
- Head. When every node of the head is a monotone element-wise float32 op (Mul / Div by a non-zero constant,
  Add / Sub, Relu, Clip, Max / Min, Neg, a quantizer with positive scale, layout-only reshapes), each input
  element's integer level is a monotone step function of that element alone over the totally ordered finite
  float32 values (IEEE ops are correctly rounded, hence monotone; finite constants keep NaN out). Its steps are
  found exactly by a binary search over float32 bit patterns in which every probe is evaluated by hwgen's own
  evaluator; the compiled head then only counts thresholds passed per element. Non-finite inputs (NaN, +-inf)
  send the whole batch to the evaluator, so their behaviour (result or error) is the evaluator's.
- Tail. When the tail is element-wise in IEEE-exact ops, it is a function of each integer output of the last
  layer alone, over a small known range: evaluated once per channel and value by the evaluator into a table.
Both are checked again against the evaluator at construction (boundary points and random values).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from hwgen.errors import HwgenError, InputDataError
from sw_fallback import kernels as K

# element-wise ops whose float32 result is one correctly rounded IEEE operation (or exact): position independent
_LAYOUT = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"}
_MONOTONE = {"Mul", "Div", "Add", "Sub", "Relu", "Clip", "Max", "Min", "Neg", "Quant", "BipolarQuant"}
_ELEMENTWISE_EXACT = _LAYOUT | _MONOTONE | {"Abs", "Floor", "Ceil", "Round", "Sign", "Cast", "Trunc"}
FLT_MAX = np.finfo(np.float32).max
HEAD_MAX_LEVELS = 4096  # input quantizers up to 12 bits get compiled thresholds
TAIL_MAX_TABLE = 1 << 22  # entries of the tail lookup table
# bit-serial MVAU (option bitserial=True) when input bits x weight bits <= this (INT2 x INT2, INT2 x BIPOLAR):
# its kernel beats the int16 one on wide layers, but building bit planes in the head costs more than it saves
# on TFC (2-core AVX-512 machine, 2026-11-26), so it is off by default
BITSERIAL_MAX = 4


class CpuBackendError(HwgenError):
    pass


def _int_type(lo: int, hi: int):
    for t in (np.int8, np.int16, np.int32, np.int64):
        i = np.iinfo(t)
        if i.min <= lo and hi <= i.max:
            return t
    raise CpuBackendError(f"integer range [{lo}, {hi}] does not fit 64 bits")


def _bits_for(t) -> int:
    return np.dtype(t).itemsize * 8


def _words(n: int) -> int:
    return (n + 63) // 64


def _pack(q: np.ndarray) -> np.ndarray:
    q = np.ascontiguousarray(q)
    out = np.empty((q.shape[0], _words(q.shape[1])), dtype=np.uint64)
    K.pack_bipolar(q, out)
    return out


class Planes:
    """Input format of a bit-serial layer: values x = ax * u + xmin, u in [0, 2^B) held as B bit planes."""

    def __init__(self, bits: int, xmin: int, ax: int):
        self.bits, self.xmin, self.ax = int(bits), int(xmin), int(ax)

    def __repr__(self):
        return f"Planes(bits={self.bits}, xmin={self.xmin}, ax={self.ax})"


def _affine(dt_or_values, bipolar: bool) -> tuple[int, int, int]:
    """(a, min, B): values = a * u + min with u in [0, 2^B)."""
    if bipolar:
        return 2, -1, 1
    lo, hi = dt_or_values
    return 1, int(lo), max(1, int(hi - lo).bit_length())


def _convert(q: np.ndarray, fmt) -> np.ndarray:
    """Integer values (N, F) -> a layer input format: 'bits', Planes, or an integer numpy type."""
    q = np.ascontiguousarray(q)
    if isinstance(fmt, str):
        return _pack(q)
    if isinstance(fmt, Planes):
        out = np.empty((q.shape[0], fmt.bits, _words(q.shape[1])), dtype=np.uint64)
        K.pack_planes(q, fmt.xmin, fmt.ax // 2, out)
        return out
    return q if q.dtype == fmt else q.astype(fmt)


def _thr(t, n_rows) -> np.ndarray:
    if t is None:
        return np.zeros((n_rows, 0), dtype=np.int64)
    return np.ascontiguousarray(t, dtype=np.int64)


def _out_range(layer) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel integer range of a layer's outputs (the kind's own bounds)."""
    lo, hi = layer.out_range()
    return np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)


class Kernel:
    """One layer's compiled plan on the CPU: the input format it reads (`in_fmt`: 'bits', Planes or a numpy
    integer type) and `run(x, out_fmt)`. Each layer kind picks its kernel (`HwLayer.cpu_kernel(lib)`, lib =
    a KernelLib); subclasses implement `compute(x, out)` on integer arrays."""

    kind = "kernel"

    def __init__(self, layer):
        self.layer = layer
        lo, hi = _out_range(layer)
        self.out_range = (int(lo.min(initial=0)), int(hi.max(initial=0)))
        self.name = layer.name
        self.op = layer.op
        self.in_f = layer.in_features
        self.out_f = layer.out_features
        dt = layer.in_dtype
        self.in_fmt = _int_type(dt.min, dt.max)

    def can_write_bits(self) -> bool:
        return False

    def compute(self, x, out) -> None:
        raise NotImplementedError

    def run(self, x, out_fmt):
        """x in self.in_fmt -> output in out_fmt ('bits', Planes or an int dtype)."""
        ot = out_fmt if isinstance(out_fmt, type) else _int_type(*self.out_range)
        out = np.empty((x.shape[0], self.out_f), dtype=ot)
        self.compute(x, out)
        return out if isinstance(out_fmt, type) else _convert(out, out_fmt)


class NumpyKernel(Kernel):
    """A kind without a compiled kernel: its numpy `execute()` (exact, not fast)."""

    kind = "numpy"

    def compute(self, x, out):
        out[...] = np.asarray(self.layer.execute(np.asarray(x, dtype=np.int64))).reshape(out.shape)


class IdentityKernel(Kernel):
    kind = "identity"

    def compute(self, x, out):
        out[...] = x


class ThresholdsKernel(Kernel):
    kind = "thresholds"

    def __init__(self, layer):
        super().__init__(layer)
        self.thr = _thr(layer.thresholds, layer.channels)
        self.out_bipolar = bool(layer.out_dtype.bipolar)

    def compute(self, x, out):
        K.thresholds(x, self.thr, self.layer.out_base, self.out_bipolar, out)


class LabelSelectKernel(Kernel):
    kind = "label_select"

    def compute(self, x, out):
        K.label_select(x, self.layer.k, out)


class MvauKernel(Kernel):
    """XNOR-popcount on packed words (bipolar), bit planes (bitserial option), or integer multiply-adds."""

    def __init__(self, layer, bitserial: bool = False):
        super().__init__(layer)
        dt = layer.in_dtype
        self.thr = _thr(layer.thresholds, layer.mh)
        self.out_bipolar = bool(layer.out_dtype.bipolar)
        if layer.binary_xnor:
            self.kind = "xnor"
            self.in_fmt = "bits"
            self.w = _pack(layer.weights)
        elif bitserial and self._bitserial(layer):
            pass
        else:
            w = layer.weights
            lo = min(dt.min, int(w.min(initial=0)))
            hi = max(dt.max, int(w.max(initial=0)))
            alo, ahi = layer.acc_range()
            acc_t = _int_type(min(int(alo.min(initial=0)), 0), max(int(ahi.max(initial=0)), 0))
            # sums are exact modulo 2^bits, so an accumulator holding the final dot product is enough
            # (operands are narrowed modulo 2^bits too, inside the kernel)
            acc_bits = max(16, _bits_for(acc_t))
            op_t = _int_type(lo, hi)
            self.kind = f"int{acc_bits}"
            self.acc_bits = acc_bits
            self.in_fmt = op_t
            self.w = np.ascontiguousarray(w.astype(op_t))

    def _bitserial(self, layer) -> bool:
        """Few-bit operands (input bits x weight bits <= BITSERIAL_MAX): bit planes and popcounts."""
        w = layer.weights
        ax, xmin, bx = _affine((layer.in_dtype.min, layer.in_dtype.max), layer.in_dtype.bipolar)
        wb = bool(layer.w_dtype.bipolar and np.all(np.abs(w) == 1))
        aw, wmin, bw = _affine((int(w.min(initial=0)), int(w.max(initial=0))), wb)
        if bx * bw > BITSERIAL_MAX:
            return False
        self.kind = "bitserial"
        self.in_fmt = Planes(bx, xmin, ax)
        self.bs = (ax, aw, xmin, wmin)
        planes = np.empty((layer.mh, bw, _words(layer.mw)), dtype=np.uint64)
        K.pack_planes(np.ascontiguousarray(w), wmin, aw // 2, planes)
        self.w = np.ascontiguousarray(planes.transpose(1, 2, 0))  # (Bw, W, MH): rows innermost
        self.vsum = ((w - wmin) // aw).sum(axis=1).astype(np.int64)
        return True

    def can_write_bits(self) -> bool:
        return self.kind == "xnor" and self.out_bipolar and self.thr.shape[1] == 1

    def run(self, x, out_fmt):
        if out_fmt == "bits" and self.can_write_bits():
            out = np.empty((x.shape[0], _words(self.out_f)), dtype=np.uint64)
            K.mvau_xnor_bits(x, self.w, self.in_f, self.thr, out)
            return out
        return super().run(x, out_fmt)

    def compute(self, x, out):
        if self.kind == "bitserial":
            ax, aw, xmin, wmin = self.bs
            K.mvau_bitserial(x, self.w, ax, aw, xmin, wmin, self.vsum, self.in_f, self.thr, self.layer.out_base,
                             self.out_bipolar, out)
        elif self.kind == "xnor":
            K.mvau_xnor_int(x, self.w, self.in_f, self.thr, self.layer.out_base, self.out_bipolar, out)
        else:
            K.MVAU_INT[self.acc_bits](x, self.w, self.thr, self.layer.out_base, self.out_bipolar, out)


class KernelLib:
    """What a layer kind's `cpu_kernel(lib)` picks its kernel from: the kernel classes, with the backend's
    options bound (bitserial for MVAUs)."""

    Kernel, NumpyKernel, IdentityKernel = Kernel, NumpyKernel, IdentityKernel
    ThresholdsKernel, LabelSelectKernel = ThresholdsKernel, LabelSelectKernel
    Planes = Planes

    def __init__(self, bitserial: bool = False):
        self.bitserial = bitserial

    def MvauKernel(self, layer):  # noqa: N802  (a class, with an option bound)
        return MvauKernel(layer, self.bitserial)


def plan_layer(layer, bitserial: bool = False) -> Kernel:
    k = layer.cpu_kernel(KernelLib(bitserial))
    if not hasattr(k, "run") or not hasattr(k, "in_fmt"):
        raise CpuBackendError(f"layer {layer.name}: kind {layer.op}'s cpu_kernel() returned {k!r}, not a Kernel")
    return k


# ----------------------------------------------------------------------------------------------------------------
# CPU partitions


def _float_keys(x: np.ndarray) -> np.ndarray:
    b = np.ascontiguousarray(x, dtype=np.float32).view(np.int32).astype(np.int64)
    return b ^ ((b >> 31) & 0x7FFFFFFF)


def _keys_to_float(k: np.ndarray) -> np.ndarray:
    b = k ^ ((k >> 31) & 0x7FFFFFFF)
    return b.astype(np.int32).view(np.float32)


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


class _Head:
    """Exact per-element thresholds on the float32 order for a monotone head (see the module docstring)."""

    def __init__(self, graph, first: Kernel):
        self.graph = graph
        self.mode = "evaluator"
        self.reason = ""
        head = graph.head
        fl = graph.layers[0]
        self.shape = tuple(graph.input_shape[1:])
        self.F = int(np.prod(self.shape))
        self.lo, self.hi = int(fl.in_dtype.min), int(fl.in_dtype.max)
        self.fmt = first.in_fmt
        r = _chain_reason(head, _MONOTONE | _LAYOUT, monotone=True) if head.nodes else "empty head"
        if r is None and self.F != fl.in_features * fl.num_vectors:
            r = f"head maps {self.F} input elements to {fl.in_features * fl.num_vectors} features"
        if r is None and self.hi - self.lo > HEAD_MAX_LEVELS:
            r = f"{self.hi - self.lo + 1} input levels (more than {HEAD_MAX_LEVELS + 1})"
        if r is None:
            try:
                r = self._search()
            except Exception as e:  # an evaluator failure on probes: keep the evaluator for real inputs
                r = f"threshold search failed: {type(e).__name__}: {e}"
        if r is None:
            self.mode = "thresholds"
        self.reason = r or "monotone element-wise head: exact float32 thresholds"

    def _levels(self, keys: np.ndarray) -> np.ndarray:
        x = _keys_to_float(keys).reshape((keys.shape[0],) + self.shape)
        with np.errstate(all="ignore"):  # probes span the whole float range: overflow to +-inf is expected
            q = np.asarray(self.graph.head.run(x)).reshape(keys.shape[0], -1)
        if q.shape[1] != self.F or not self.graph.layers[0].in_dtype.allowed(q):
            raise CpuBackendError("head output on probes is not the first layer's integer levels")
        return q.astype(np.int64)

    def _search(self) -> str | None:
        F, lo, hi = self.F, self.lo, self.hi
        kmin, kmax = (int(k) for k in _float_keys(np.array([-FLT_MAX, FLT_MAX], dtype=np.float32)))
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
        # check the compiled head against the evaluator at every boundary, just below it, and at random values
        rng = np.random.default_rng(0)
        probes = [self.thr.T.reshape(-1, F)[:256], (self.thr.T - 1).reshape(-1, F)[:256],
                  np.clip(self.thr.T + 1, kmin, kmax).reshape(-1, F)[:256],
                  _float_keys(rng.standard_normal((64, F)).astype(np.float32) * 4),
                  rng.integers(kmin, kmax + 1, (64, F))]
        keys = np.clip(np.concatenate(probes), kmin, kmax)
        want = self._levels(keys)
        got = np.empty(want.shape, dtype=np.int64)
        K.head_levels(_keys_to_float(keys).view(np.int32), self.thrT, self.thr, self.base, self.sgn, got)
        if not np.array_equal(got, want):
            return "compiled thresholds disagree with the evaluator (kept the evaluator)"
        return None

    def run(self, x: np.ndarray, fmt=None):
        """x: float32 model input -> the first layer's input in `fmt` (default: its compute format)."""
        fmt = self.fmt if fmt is None else fmt
        n = x.shape[0]
        if self.mode == "thresholds":
            xb = np.ascontiguousarray(x, dtype=np.float32).reshape(n, self.F).view(np.int32)
            args = (xb, self.thrT, self.thr, self.base, self.sgn)
            if isinstance(fmt, str):
                out = np.empty((n, _words(self.F)), dtype=np.uint64)
                bad = K.head_bits(*args, out)
            elif isinstance(fmt, Planes) and fmt.bits <= 4:
                out = np.empty((n, fmt.bits, _words(self.F)), dtype=np.uint64)
                bad = K.head_planes(*args, fmt.xmin, fmt.ax // 2, out)
            elif isinstance(fmt, Planes):
                out = _convert(self.run(x, _int_type(self.lo, self.hi)), fmt)
                bad = 0
            else:
                out = np.empty((n, self.F), dtype=fmt)
                bad = K.head_levels(*args, out)
            if bad == 0:
                return out
        q = self.graph.head_ints(x)  # the evaluator: exact behaviour on NaN / inf (or its error)
        return _convert(q, fmt)


class _Tail:
    """The tail as a table per channel and integer value, when it is element-wise (see the module docstring)."""

    def __init__(self, graph, last_layer):
        self.graph = graph
        self.mode = "evaluator"
        tail = graph.tail
        lo, hi = _out_range(last_layer)
        self.C = last_layer.out_features
        r = _chain_reason(tail, _ELEMENTWISE_EXACT, monotone=False) if tail.nodes else None
        R = int((hi - lo).max(initial=0)) + 1
        if r is None and last_layer.num_vectors != 1:
            r = "last layer has several vectors per frame"
        if r is None and R * self.C > TAIL_MAX_TABLE:
            r = f"output range too wide for a table ({R} values x {self.C} channels)"
        if r is None:
            try:
                vals = np.minimum(lo[None, :] + np.arange(R)[:, None], hi[None, :]).astype(np.int64)
                y = np.asarray(tail.run(vals))
                if y.shape[0] != R or y.size != R * self.C:
                    r = f"tail output shape {y.shape} is not element-wise"
                else:
                    self.out_shape = y.shape[1:]
                    self.lut = np.ascontiguousarray(y.reshape(R, self.C).T)
                    self.lo = np.ascontiguousarray(lo, dtype=np.int64)
                    rng = np.random.default_rng(1)
                    q = rng.integers(lo, hi + 1, (97, self.C))
                    if not np.array_equal(self.run(q), np.asarray(tail.run(q)), equal_nan=y.dtype.kind == "f"):
                        r = "table disagrees with the evaluator (kept the evaluator)"
            except Exception as e:
                r = f"table build failed: {type(e).__name__}: {e}"
        if r is None:
            self.mode = "table"
        self.reason = r or "element-wise tail: exact table per channel and integer value"

    def run(self, q):
        out = np.empty((q.shape[0], self.C), dtype=self.lut.dtype)
        K.tail_lookup(np.ascontiguousarray(q), self.lut, self.lo, out)
        return out.reshape((q.shape[0],) + self.out_shape)


class CpuBackend:
    """Backend 'cpu' of hwgen.runtime.Accelerator. Options: threads (numba threads; default all cores),
    compiled_head / compiled_tail (default True; False keeps hwgen's evaluator), warmup (default True:
    compile or load the cached kernels now, so the first execute is not slower), bitserial (default False:
    few-bit integer layers on bit planes and popcounts instead of int16 SIMD multiply-adds), fuse_head (default
    True: a compiled head feeds a first int16 MVAU image by image instead of through an (N, F) array)."""

    def __init__(self, out_dir, graph, threads: int | None = None, compiled_head: bool = True,
                 compiled_tail: bool = True, warmup: bool = True, bitserial: bool = False, fuse_head: bool = True,
                 **_):
        import numba

        t0 = time.perf_counter()
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.graph = graph
        if threads:
            numba.set_num_threads(int(threads))
        if [(e.src, e.dst) for e in graph.edges] != list(zip([None] + [la.name for la in graph.layers],
                                                             [la.name for la in graph.layers] + [None])):
            raise CpuBackendError("the cpu backend runs chains of layers; this hardware graph branches")
        self.plan = [plan_layer(layer, bitserial) for layer in graph.layers]
        self.fuse_head = fuse_head
        fmts = [p.in_fmt for p in self.plan[1:]] + [np.int64]
        self.out_fmts = fmts
        self.last_timing = {}
        self.head_plan = _Head(graph, self.plan[0]) if compiled_head else None
        self.tail_plan = _Tail(graph, graph.layers[-1]) if compiled_tail else None
        self.setup_seconds = time.perf_counter() - t0
        self.warmup_seconds = 0.0
        if warmup:
            t = time.perf_counter()
            self.warmup()
            self.warmup_seconds = time.perf_counter() - t

    # --- integer part -------------------------------------------------------------------------------------------
    def to_first(self, q) -> np.ndarray:
        q = np.asarray(q)
        q = q.reshape(-1, self.plan[0].in_f)
        dt = self.graph.layers[0].in_dtype
        if q.dtype.kind in "iu" and q.size:
            ok = K.count_outside(np.ascontiguousarray(q), dt.min, dt.max, dt.bipolar) == 0
        else:
            ok = dt.allowed(q)
        if not ok:  # never narrow silently
            raise InputDataError(f"integer input holds values outside the first layer's type {dt.name} "
                                 f"([{dt.min}, {dt.max}]{', -1 or +1 only' if dt.bipolar else ''}).")
        return _convert(q, self.plan[0].in_fmt)

    def run_layers(self, x) -> np.ndarray:
        for p, fmt in zip(self.plan, self.out_fmts):
            x = p.run(x, fmt)
        return x

    def run_ints(self, q):
        q = np.asarray(q)
        n = q.shape[0]
        t0 = time.perf_counter()
        x = self.to_first(q)
        t1 = time.perf_counter()
        y = self.run_layers(x)
        t2 = time.perf_counter()
        y = y.reshape(n, -1).astype(np.int64)
        t3 = time.perf_counter()
        self.last_timing = {"pack_seconds": t1 - t0, "compute_seconds": t2 - t1, "unpack_seconds": t3 - t2}
        return y

    # --- whole model (CPU partitions included) -------------------------------------------------------------------
    def head_first(self, x, fmt=None):
        """Model input -> the first layer's input in `fmt` (default: its compute format: packed bits, bit
        planes or narrow ints)."""
        if self.head_plan is not None and self.head_plan.mode == "thresholds":
            shape = tuple(self.graph.input_shape[1:])
            if not (isinstance(x, np.ndarray) and x.dtype == np.float32 and x.shape[1:] == shape
                    and x.ndim == len(shape) + 1):
                x = self.graph.check_input(x)  # every other shape / dtype case, and its errors
            # float32 of the right shape passes check_input unchanged unless it holds NaN / inf: the compiled
            # head counts those and then hands the batch to graph.head_ints (check_input's error, exactly)
            return self.head_plan.run(x, fmt)
        return _convert(self.graph.head_ints(x), self.plan[0].in_fmt if fmt is None else fmt)

    def head_ints(self, x) -> np.ndarray:
        """As HwGraph.head_ints: model input -> first layer's integer input values (N, features), int64."""
        return self.head_first(x, np.int64)

    def tail(self, q) -> np.ndarray:
        """As graph.tail.run: last layer's integer outputs -> the model output."""
        if self.tail_plan is not None and self.tail_plan.mode == "table":
            return self.tail_plan.run(q)
        return self.graph.tail.run(np.asarray(q, dtype=np.int64))

    def _fused_first(self, x):
        """Head fused into a first int16-accumulator MVAU: that layer's output, or None when not applicable."""
        h, p = self.head_plan, self.plan[0]
        if not (self.fuse_head and h is not None and h.mode == "thresholds" and p.kind == "int16"
                and isinstance(x, np.ndarray) and x.dtype == np.float32 and x.ndim == len(h.shape) + 1
                and x.shape[1:] == h.shape and x.shape[0] > 0):
            return None
        fmt = self.out_fmts[0]
        ot = fmt if isinstance(fmt, type) else _int_type(*p.out_range)
        out = np.empty((x.shape[0], p.out_f), dtype=ot)
        xb = np.ascontiguousarray(x).reshape(x.shape[0], h.F).view(np.int32)
        if K.head_mvau_acc16(xb, h.thrT, h.thr, h.base, h.sgn, p.w, p.thr, p.layer.out_base, p.out_bipolar, out):
            return None  # NaN / inf: the unfused path hands it to the evaluator
        return out if isinstance(fmt, type) else _convert(out, fmt)

    def execute(self, x) -> np.ndarray:
        """The ONNX model's input (N, ...) or one sample -> the model's output, as Accelerator.execute."""
        t0 = time.perf_counter()
        y = self._fused_first(x)
        if y is not None:
            t1 = time.perf_counter()
            for p, fmt in zip(self.plan[1:], self.out_fmts[1:]):
                y = p.run(y, fmt)
            t2 = time.perf_counter()
            out = self.tail(y)
            t3 = time.perf_counter()
            self.last_timing = {"head_and_first_layer_seconds": t1 - t0, "compute_seconds": t2 - t1,
                                "tail_seconds": t3 - t2}
            return out
        f = self.head_first(x)
        t1 = time.perf_counter()
        y = self.run_layers(f)
        t2 = time.perf_counter()
        out = self.tail(y)
        t3 = time.perf_counter()
        self.last_timing = {"head_seconds": t1 - t0, "compute_seconds": t2 - t1, "tail_seconds": t3 - t2}
        return out

    # --- misc ------------------------------------------------------------------------------------------------------
    def warmup(self) -> None:
        """Compile (or load from numba's cache) every kernel this graph uses, on a 2-frame batch."""
        x = np.zeros((2,) + tuple(self.graph.input_shape[1:]), dtype=np.float32)
        try:
            self.execute(x)
        except HwgenError:
            pass
        first = self.graph.layers[0]
        dt = first.in_dtype
        self.run_ints(np.full((2, first.in_features * first.num_vectors), 1 if dt.bipolar else dt.min,
                              dtype=np.int64))

    def stats(self) -> dict:
        return {
            "setup_seconds": self.setup_seconds,
            "warmup_seconds": self.warmup_seconds,
            "layers": {p.name: p.kind for p in self.plan},
            "head": None if self.head_plan is None else f"{self.head_plan.mode}: {self.head_plan.reason}",
            "tail": None if self.tail_plan is None else f"{self.tail_plan.mode}: {self.tail_plan.reason}",
            "cache_misses": cache_misses(),
        }


def cache_misses() -> int:
    """Kernels compiled (not loaded from numba's on-disk cache) in this process so far."""
    from numba.core.registry import CPUDispatcher

    n = 0
    for v in vars(K).values():
        if isinstance(v, CPUDispatcher):
            n += sum(v.stats.cache_misses.values())
    return n


def cache_hits() -> int:
    from numba.core.registry import CPUDispatcher

    n = 0
    for v in vars(K).values():
        if isinstance(v, CPUDispatcher):
            n += sum(v.stats.cache_hits.values())
    return n

