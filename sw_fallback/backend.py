"""The `cpu` backend: the hardware graph on the CPU, bit-exact, through numba-compiled kernels (sw_fallback.kernels).

    acc = Accelerator("out/", backend="cpu")          # or CpuBackend(out_dir, graph) directly
    y = acc.execute(x)

The hardware graph is a DAG (forks: Duplicate; joins: AddStreams, Concat): the plan runs its nodes in topological
order, each value (a batch of frames) kept until its consumers have read it. Sliding windows are fused into the
node that reads them (sw_fallback.cnn: direct convs, depthwise convs and pools, with their padding), asked of
the kernels, never decided on the kinds.

Layers. Each layer reads its input in the format it computes on, written directly by the layer before it:
XNOR MVAUs and convs (BIPOLAR inputs and weights) read bit-packed uint64 words (a vector, or a pixel's
channels), and a BIPOLAR-output MVAU or conv writes the next layer's packed words itself; the other layers read int8 / int16 / int32 / int64 arrays, the narrowest type
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
  A tail that starts with layout ops (a CNN's NHWC -> NCHW Reshape / Transpose / Flatten before its Gemm) is one
  gather by a permutation (with the integer -> float entry as a table), then the evaluator's own onnxruntime
  sessions for the nodes after it, called directly (sw_fallback.tail_layout): the Gemm is qonnx's arithmetic.
Both are checked again against the evaluator at construction (boundary points and random values).

One compiled call per batch (sw_fallback.driver). At batch 1 the Python between kernels (each step's wrapper,
reshapes, allocations, numba's argument checks) cost more than the kernels. The plan's kernel calls are therefore
written out once per design as the source of one numba function, with the compiled head in front and the tail's
table or gather behind when they apply: float32 input in, the count of non-finite inputs (then the evaluator
decides, as above) and the output out, one call per tile of frames. It is compiled (seconds to tens of seconds:
LLVM re-optimizes the linked kernels) once per design and cached by numba; options: driver="auto" (default: used
at once when cached, else compiled in a background thread once small calls repeat, so a short `hwgen run` never
waits for it), "wait" (compiled on the first call), False. Kernels it does not know keep the step-by-step path.
"""


from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from hwgen.errors import HwgenError, InputDataError
from sw_fallback import cnn, driver
from sw_fallback import kernels as K
from sw_fallback.formats import Bits, Chw, CpuBackendError, Planes, convert, int_type, is_int
from sw_fallback.mlp import (BITSERIAL_MAX, IdentityKernel, Kernel, LabelSelectKernel, MvauKernel,  # noqa: F401
                             NumpyKernel, ThresholdsKernel)
from sw_fallback.partitions import HEAD_FEW_T, CompiledHead, CompiledTail


class KernelLib:
    """What a layer kind's `cpu_kernel(lib)` picks its kernel from: the kernel classes, with the backend's
    options bound (bitserial for MVAUs)."""

    Kernel, NumpyKernel, IdentityKernel = Kernel, NumpyKernel, IdentityKernel
    ThresholdsKernel, LabelSelectKernel = ThresholdsKernel, LabelSelectKernel
    SwgKernel, PadKernel, PoolKernel, VvauKernel = cnn.SwgKernel, cnn.PadKernel, cnn.PoolKernel, cnn.VvauKernel
    DuplicateKernel, AddStreamsKernel = cnn.DuplicateKernel, cnn.AddStreamsKernel
    ConcatKernel, UpsampleKernel = cnn.ConcatKernel, cnn.UpsampleKernel
    Planes, Bits = Planes, Bits

    def __init__(self, bitserial: bool = False):
        self.bitserial = bitserial

    def MvauKernel(self, layer):  # noqa: N802  (a class, with an option bound)
        return MvauKernel(layer, self.bitserial)


def plan_layer(layer, bitserial: bool = False) -> Kernel:
    k = layer.cpu_kernel(KernelLib(bitserial))
    if not hasattr(k, "run") or not hasattr(k, "in_fmt"):
        raise CpuBackendError(f"layer {layer.name}: kind {layer.op}'s cpu_kernel() returned {k!r}, not a Kernel")
    if not hasattr(k, "run_frames"):  # a kernel written against the row interface only
        raise CpuBackendError(f"layer {layer.name}: kind {layer.op}'s cpu_kernel() is not built on lib.Kernel")
    return k


class Step:
    """One kernel of the plan: the values it reads (producer, port) and the formats it writes its outputs in."""

    def __init__(self, kernel, layer, ins):
        self.kernel, self.layer, self.ins = kernel, layer, ins
        self.out_fmts = [kernel.native_fmt(p) for p in range(layer.n_outputs)]


def plan_graph(graph, bitserial: bool = False) -> tuple[list[Step], dict]:
    """The steps running the graph (sliding windows fused into their consumers), and the consumers of each value
    {(producer, port): [(step, input port)]} (producer None: the accelerator input)."""
    kernels = {la.name: plan_layer(la, bitserial) for la in graph.layers}
    ins = {la.name: [None] * la.n_inputs for la in graph.layers}
    users = {}
    for e in graph.edges:
        if e.dst is not None:
            ins[e.dst][e.dst_port] = (e.src, e.src_port)
        users.setdefault((e.src, e.src_port), []).append(e.dst)
    for la in graph.layers:
        if any(i is None for i in ins[la.name]):
            raise CpuBackendError(f"layer {la.name}: an input port has no stream")
    absorbed = set()
    for la in graph.layers:  # topological order: a Pad fuses into its SWG before the SWG into its consumer
        if la.n_inputs != 1:
            continue
        while True:  # a fused kernel may absorb its new producer too (an Upsample in front of a window)
            src, port = ins[la.name][0]
            readers = users[(src, port)] if src is not None else []  # the only reader: this layer or one it absorbed
            if len(readers) != 1 or readers[0] not in getattr(kernels[la.name], "members", [la.name]) or \
                    graph.node(src).n_outputs != 1:
                break
            fused = kernels[la.name].fuse_input(kernels[src])
            if fused is None:
                break
            kernels[la.name], ins[la.name] = fused, ins[src]
            absorbed.add(src)
    for name, k in kernels.items():  # what is left unfused may still prefer a frame kernel (a 1x1 conv)
        frame = getattr(k, "frame_kernel", None)
        kernels[name] = (frame() if frame else None) or k
    steps = [Step(kernels[la.name], la, ins[la.name]) for la in graph.layers if la.name not in absorbed]
    consumers = {}
    for st in steps:
        for p, key in enumerate(st.ins):
            consumers.setdefault(key, []).append((st, p))
    producer = {(st.layer.name, p): st for st in steps for p in range(st.layer.n_outputs)}
    for st in steps:  # a kernel asking for a channel-planar image its producer cannot write reads the stream order
        for p, key in enumerate(st.ins):
            fmt = st.kernel.in_fmts()[p]
            if isinstance(fmt, Chw) and not (len(consumers[key]) == 1 and (
                    key[0] is None or producer[key].kernel.can_write(key[1], fmt))):  # (the head writes Chw)
                st.kernel.read_stream_order(p)
    for st in steps:  # write each output in its consumer's format when the kernel can
        for p in range(st.layer.n_outputs):
            want = [c.kernel.in_fmts()[cp] for c, cp in consumers.get((st.layer.name, p), [])]
            if len(want) == 1 and st.kernel.can_write(p, want[0]):
                st.out_fmts[p] = want[0]
    return steps, consumers


TILE_BYTES = 1 << 18  # a tile's widest value per frame times its frames: ~256 KiB, so tiles stay in L2
TILE_MIN, TILE_MAX = 8, 1024  # frames per tile
TILES_PER_THREAD = 4  # with several threads: a thread slowed down by a busy machine leaves its share to the others


def default_threads() -> int:
    """The cores this process may run on (its CPU affinity, which taskset / cgroups / schedulers set), not the
    machine's count."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class CpuBackend:
    """Backend 'cpu' of hwgen.runtime.Accelerator. Options: threads (default: the cores this process may use,
    default_threads()), compiled_head / compiled_tail (default True; False keeps hwgen's evaluator), warmup
    (default True: compile or load the cached kernels now, so the first execute is not slower), bitserial
    (default False: few-bit integer layers on bit planes and popcounts instead of int16 SIMD multiply-adds),
    fuse_head (default True: a compiled head feeds a first int16 MVAU image by image instead of through an (N, F)
    array), split (default True: batches run in tiles of frames handed to the threads), driver ("auto" (default) /
    "wait" / False: the plan's steps as one compiled function per design, sw_fallback.driver, when it knows every
    step: loaded from numba's cache when there, else compiled in the background once small calls repeat; "wait":
    compiled on the first call).

    Threads work at the graph level: a batch is cut into tiles of frames (sized so a tile's feature maps stay in
    cache) and each thread takes the next tile and runs it through every layer, kernels single-threaded (they
    release the GIL). There is no barrier per layer, so a thread the OS deschedules (a busy machine) only takes
    fewer tiles instead of stalling every layer, and one thread is the same code without the pool."""

    def __init__(self, out_dir, graph, threads: int | None = None, compiled_head: bool = True,
                 compiled_tail: bool = True, warmup: bool = True, bitserial: bool = False, fuse_head: bool = True,
                 split: bool = True, driver="auto", **_):
        t0 = time.perf_counter()
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.graph = graph
        if threads is not None and (isinstance(threads, bool) or int(threads) < 1):
            raise HwgenError(f"threads={threads!r}: give a whole number of threads, at least 1.")
        self.threads = int(threads) if threads else default_threads()
        self.steps, self.consumers = plan_graph(graph, bitserial)
        self.plan = [st.kernel for st in self.steps]
        self.split = bool(split)
        self.split_min = 2 * TILE_MIN  # frames from which a batch is cut into tiles
        self.use_driver = driver if driver in ("auto", "wait") else ("auto" if driver is True else False)
        widest = max([la.out_port(p)[2] for la in graph.layers for p in range(la.n_outputs)] + [1])
        self.tile = int(min(TILE_MAX, max(TILE_MIN, TILE_BYTES // (2 * widest))))
        self._pool = None
        in_edge = next(e for e in graph.edges if e.src is None)
        out_edge = next(e for e in graph.edges if e.dst is None)
        self.in_layer = graph.node(in_edge.dst)
        self.in_elems = self.in_layer.in_port(in_edge.dst_port)[2]
        self.in_fmt = self.consumers[(None, 0)][0][0].kernel.in_fmts()[self.consumers[(None, 0)][0][1]]
        self.out_key = (out_edge.src, out_edge.src_port)
        out_layer = graph.node(out_edge.src)
        self.out_elems = out_layer.out_port(out_edge.src_port)[2]
        self.out_shape = [self.out_elems]  # the output stream's flat frames (NHWC order), as HwGraph.run_layers
        self._prog = self._program()
        self.fuse_head = fuse_head
        self.last_timing = {}
        self.head_plan = CompiledHead(graph, self.in_fmt) if compiled_head else None
        self.tail_plan = CompiledTail(graph, out_layer, self.out_shape) if compiled_tail else None
        self._driver = self._make_driver()
        self.setup_seconds = time.perf_counter() - t0
        self.warmup_seconds = 0.0
        if warmup:
            from hwgen.fileops import cache_root, file_lock

            t = time.perf_counter()
            with file_lock(cache_root() / "numba.lock"):  # one process compiles and writes numba's cache, the
                self.warmup()                              # others then load it (threads: numba's own lock)
            self.warmup_seconds = time.perf_counter() - t

    # --- integer part -------------------------------------------------------------------------------------------
    def to_first(self, q) -> np.ndarray:
        q = np.asarray(q)
        q = q.reshape(-1, self.in_elems)
        dt = self.in_layer.in_dtype
        if q.dtype.kind in "iu" and q.size:
            ok = K.count_outside(np.ascontiguousarray(q), dt.min, dt.max, dt.bipolar) == 0
        else:
            ok = dt.allowed(q)
        if not ok:  # never narrow silently
            raise InputDataError(f"integer input holds values outside the first layer's type {dt.name} "
                                 f"([{dt.min}, {dt.max}]{', -1 or +1 only' if dt.bipolar else ''}).")
        q = q if q.dtype.kind in "iu" else q.astype(np.int64)
        return convert(q, q.dtype.type, self.in_fmt, self.in_elems)

    def _program(self) -> list:
        """The steps with every per-call decision taken once, here: for each step, its kernel's run_frames, the
        values it reads with the conversion each needs (None: already in the kernel's format; formats are
        static, known from the plan), the formats it writes, the keys its outputs go to, and the values whose
        last reader it is (freed after it). A batch of one frame then costs little more than the kernels."""
        fmt, elems = {(None, 0): self.in_fmt}, {(None, 0): self.in_elems}
        for st in self.steps:
            for p in range(st.layer.n_outputs):
                fmt[(st.layer.name, p)], elems[(st.layer.name, p)] = st.out_fmts[p], st.layer.out_port(p)[2]
        last = {}
        for i, st in enumerate(self.steps):
            for key in st.ins:
                last[key] = i
        prog = []
        for i, st in enumerate(self.steps):
            want = st.kernel.in_fmts()
            ins = [(key, None if fmt[key] == want[p] else (fmt[key], want[p], elems[key])) for p, key in enumerate(st.ins)]
            drop = [k for k in dict.fromkeys(st.ins) if last[k] == i and k != self.out_key]
            outs = [(st.layer.name, p) for p in range(st.layer.n_outputs)]
            prog.append((st.kernel.run_frames, ins, list(st.out_fmts), outs, drop))
        self._out_conv = (fmt[self.out_key], np.int64, elems[self.out_key])
        return prog

    def _make_driver(self):
        """The plan as one compiled function (sw_fallback.driver.for_backend), or None."""
        return driver.for_backend(self)

    def _run(self, vals: dict, start: int = 0) -> np.ndarray:
        """Run the steps from `start` on the values in `vals` {(producer, port): array in its plan format}; returns
        the accelerator output as int64 (N, *out_shape)."""
        d = self._driver
        if d is not None and start == 0 and not d.whole:
            x = vals[(None, 0)]
            if x.ndim == 2 and x.shape[0] > 0 and d.ready(x):
                v = d.run(np.ascontiguousarray(x))
                return convert(v, *self._out_conv).reshape(v.shape[0], *self.out_shape)
        for run, ins, out_fmts, outs, drop in self._prog[start:]:
            xs = [vals[k] if c is None else convert(vals[k], *c) for k, c in ins]
            for k in drop:
                del vals[k]  # the last reader has it: free the memory
            for k, v in zip(outs, run(xs, out_fmts)):
                vals[k] = v
        v = vals[self.out_key]
        return convert(v, *self._out_conv).reshape(v.shape[0], *self.out_shape)

    def run_layers(self, x) -> np.ndarray:
        """The accelerator's input in its first kernel's format -> its integer output (N, *out_shape)."""
        if not self.split:
            return self._run({(None, 0): x})
        return self._tiles(x.shape[0], lambda lo, hi: self._run({(None, 0): x[lo:hi]}))

    def run_ints(self, q):
        q = np.asarray(q)
        n = q.shape[0]
        t0 = time.perf_counter()
        x = self.to_first(q)
        t1 = time.perf_counter()
        y = self.run_layers(x)
        t2 = time.perf_counter()
        self.last_timing = {"pack_seconds": t1 - t0, "compute_seconds": t2 - t1}
        return y.reshape(n, *self.out_shape)

    # --- whole model (CPU partitions included) -------------------------------------------------------------------
    def head_first(self, x, fmt=None):
        """Model input -> the first layer's input in `fmt` (default: its compute format: packed bits, bit
        planes or narrow ints)."""
        fmt = self.in_fmt if fmt is None else fmt
        if self.head_plan is not None and self.head_plan.mode == "thresholds":
            shape = tuple(self.graph.input_shape[1:])
            if not (isinstance(x, np.ndarray) and x.dtype == np.float32 and x.shape[1:] == shape
                    and x.ndim == len(shape) + 1):
                x = self.graph.check_input(x)  # every other shape / dtype case, and its errors
            # float32 of the right shape passes check_input unchanged unless it holds NaN / inf: the compiled
            # head counts those and then hands the batch to graph.head_ints (check_input's error, exactly)
            return self.head_plan.run(x, fmt)
        return convert(self.graph.head_ints(x), np.int64, fmt, self.in_elems)

    def head_ints(self, x) -> np.ndarray:
        """As HwGraph.head_ints: model input -> first layer's integer input values (N, features), int64."""
        return self.head_first(x, np.int64)

    def tail(self, q) -> np.ndarray:
        """As graph.tail.run: last layer's integer outputs -> the model output."""
        if self.tail_plan is not None:
            if self.tail_plan.mode == "table":
                return self.tail_plan.run(q)
            if self.tail_plan.mode == "layout":
                return self.tail_plan.layout.run(q)
        return self.graph.tail.run(np.asarray(q, dtype=np.int64))

    def _fused_first(self, x):
        """Head fused into a first int16-accumulator MVAU (one vector per frame, the only reader of the input):
        the values after it, or None when not applicable."""
        h, st = self.head_plan, self.steps[0]
        p = st.kernel
        if not (self.fuse_head and h is not None and h.mode == "thresholds" and getattr(p, "kind", "") == "int16"
                and h.thrT.shape[0] > HEAD_FEW_T  # (few thresholds: the vectorized head and the MVAU are faster)
                and isinstance(p, MvauKernel) and p.rows_per_frame() == 1 and len(self.consumers[(None, 0)]) == 1
                and st.ins == [(None, 0)] and isinstance(x, np.ndarray) and x.dtype == np.float32
                and x.ndim == len(h.shape) + 1 and x.shape[1:] == h.shape and x.shape[0] > 0):
            return None
        fmt = st.out_fmts[0]
        ot = fmt if is_int(fmt) else int_type(*p.out_range)
        out = np.empty((x.shape[0], p.out_f), dtype=ot)
        xb = np.ascontiguousarray(x).reshape(x.shape[0], h.F).view(np.int32)
        if h.perm is not None:
            xb = np.ascontiguousarray(xb[:, h.perm])
        if K.head_mvau_acc16(xb, h.thrT, h.thr, h.base, h.sgn, p.w, p.thr, p.layer.out_base, p.out_bipolar, out):
            return None  # NaN / inf: the unfused path hands it to the evaluator
        return {(st.layer.name, 0): convert(out, ot, fmt, p.out_f)}

    def _tiles(self, n: int, fn) -> np.ndarray:
        """fn(lo, hi) on every tile of a batch of n frames, concatenated. With several threads, the calling thread
        and threads - 1 helpers each take the next tile left until none is; the caller then waits only for tiles
        a helper has taken, never for a helper the OS has not scheduled yet (on a busy machine the caller just
        takes more tiles), so many threads cost at most a tile's time more than one. At least ~4 tiles per thread.
        """
        t = self.tile if self.threads == 1 else min(self.tile, max(TILE_MIN, -(-n // (TILES_PER_THREAD * self.threads))))
        bounds = [(lo, min(n, lo + t)) for lo in range(0, n, t)]
        if self.threads == 1 or len(bounds) == 1:
            parts = [fn(lo, hi) for lo, hi in bounds]
            return parts[0] if len(parts) == 1 else np.concatenate(parts)
        import threading

        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.threads - 1, thread_name_prefix="hwgen-cpu")
        parts = [None] * len(bounds)
        state = {"next": 0, "done": 0, "error": None}
        cond = threading.Condition()

        def work():
            while True:
                with cond:
                    i = state["next"]
                    if i >= len(bounds) or state["error"] is not None:
                        return
                    state["next"] = i + 1
                try:
                    parts[i] = fn(*bounds[i])
                except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
                    with cond:
                        state["error"] = state["error"] or e
                with cond:
                    state["done"] += 1
                    cond.notify_all()

        for _ in range(self.threads - 1):
            self._pool.submit(work)
        work()
        with cond:  # the tiles helpers took and have not finished yet
            cond.wait_for(lambda: state["done"] == state["next"])
        if state["error"] is not None:
            raise state["error"]
        return np.concatenate(parts)

    def _split_ints(self, x):
        """The integer output for a finite float32 batch, tile by tile (head and every layer per tile); None
        when the batch is not one to split."""
        n = x.shape[0] if isinstance(x, np.ndarray) else 0
        if not (self.split and n >= self.split_min and x.dtype == np.float32
                and x.ndim == len(self.graph.input_shape) and np.isfinite(x).all()):
            return None  # (errors and non-finite inputs: the unsplit path, whose messages index the whole batch)

        def ints(lo, hi):
            c = x[lo:hi]
            vals = self._fused_first(c)
            if vals is None:  # (not run_layers: a tile is run whole, by this thread)
                vals = {(None, 0): self.head_first(c)}
                return self._run(vals)
            return self._run(vals, 1)

        return self._tiles(n, ints)

    def _whole(self, x):
        """The model's output through the whole-model driver, or None (sw_fallback.driver.run_whole)."""
        return driver.run_whole(self, x)

    def execute(self, x) -> np.ndarray:
        """The ONNX model's input (N, ...) or one sample -> the model's output, as Accelerator.execute."""
        t0 = time.perf_counter()
        if self._driver is not None and self._driver.whole:
            y = self._whole(x)
            if y is not None:
                self.last_timing = {"compiled_model_seconds": time.perf_counter() - t0}
                return y
        y = self._split_ints(x)
        if y is not None:
            t1 = time.perf_counter()
            out = self.tail(y)  # the tail on the whole batch, as the reference runs it
            self.last_timing = {"head_and_layers_seconds": t1 - t0, "tail_seconds": time.perf_counter() - t1}
            return out
        vals = self._fused_first(x)
        if vals is not None:
            t1 = time.perf_counter()
            y = self._run(vals, 1)
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
        """Compile (or load from numba's cache) every kernel `execute` uses, on a 2-frame batch. (The integer
        entry, run_ints, compiles its few extra kernels (range check, packing) on its first call: a cold
        `hwgen run` does not pay for them.)"""
        x = np.zeros((2,) + tuple(self.graph.input_shape[1:]), dtype=np.float32)
        try:
            self.execute(x)
        except HwgenError:
            pass

    def stats(self) -> dict:
        return {
            "setup_seconds": self.setup_seconds,
            "warmup_seconds": self.warmup_seconds,
            "layers": {p.name: p.kind for p in self.plan},  # a fused kernel: "Pad_0+SWG_0+MVAU_0": "conv_xnor"
            "head": None if self.head_plan is None else f"{self.head_plan.mode}: {self.head_plan.reason}",
            "tail": None if self.tail_plan is None else f"{self.tail_plan.mode}: {self.tail_plan.reason}",
            "cache_misses": cache_misses(),
            "driver": driver_state(self._driver),
        }


def driver_state(d) -> str:
    """What the per-design driver (sw_fallback.driver) is doing, for stats()."""
    if d is None:
        return "none: step by step"
    part = "head, layers and tail" if d.whole else "layers"
    if d.fn is not None:
        return f"compiled ({part})"
    if d.failed:
        return "failed to compile: step by step"
    return f"not compiled yet ({part}; {'on the first call' if d.sync else 'in the background once small calls repeat'})"


def _kernel_dispatchers():
    """Every numba kernel of the kernel modules (the driver's list of them: sw_fallback.driver.KERNEL_MODULES)."""
    import importlib

    from numba.core.registry import CPUDispatcher

    from sw_fallback.driver import KERNEL_MODULES

    return [v for name in KERNEL_MODULES for v in vars(importlib.import_module(name)).values() if isinstance(v, CPUDispatcher)]


def cache_misses() -> int:
    """Kernels compiled (not loaded from numba's on-disk cache) in this process so far."""
    return sum(sum(v.stats.cache_misses.values()) for v in _kernel_dispatchers())


def cache_hits() -> int:
    return sum(sum(v.stats.cache_hits.values()) for v in _kernel_dispatchers())

