"""One accelerator API over every execution path.

    acc = Accelerator("out/", backend="rtlsim")     # "reference" | "csim" | "rtlsim" | "cpu" | "pynq"
    y = acc.execute(x)                              # the ONNX model's input (any batch) -> its output
    acc.throughput_test(10000)                      # images/s, time in packing, transfer, unpacking

A model is islands (hwgen.islands): hardware islands and CPU islands, in order. The CPU islands, and each
hardware island's head (input quantizer) and tail (final float ops), run the same way for every backend (the CPU
evaluator); a backend only runs a hardware island's layers: integer input stream values (N, in_features) ->
integer outputs (N, out_features). Each hardware island has its own backend instance, on its own directory
(OUT for island 0, OUT/hw<k> after it).
Backends live in their own modules and are imported when asked for, so optional tools (Verilator, a C++
compiler, numba, pynq) are needed only by the backend that uses them.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import time

import numpy as np

from hwgen.errors import HwgenError, InputDataError

# backend name -> "module:Class"; each class takes (out_dir, graph, **options) and has run_ints(q) -> ints
BACKENDS = {
    "reference": "hwgen.runtime.backends:ReferenceBackend",
    "csim": "hwgen.runtime.backends:CsimBackend",
    "rtlsim": "hwgen.runtime.rtlsim:RtlsimBackend",
    "cpu": "sw_fallback.lazy:LazyCpuBackend",  # sw_fallback.backend:CpuBackend, compiled in the background
    "pynq": "hwgen.runtime.pynq_backend:PynqBackend",
}

SLOW_BACKENDS = {"csim", "rtlsim", "pynq"}  # simulate or transfer frame by frame: a bar on long batches


class UnknownBackendError(HwgenError):
    pass


def backend_class(name: str):
    if name not in BACKENDS:
        raise UnknownBackendError(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}.")
    mod, cls = BACKENDS[name].split(":")
    try:
        return getattr(importlib.import_module(mod), cls)
    except ModuleNotFoundError as e:
        raise HwgenError(f"backend {name!r} is not available: {e}. Install hwgen with its extras "
                         "(pip install -e \".[dev]\", or \"hwgen[board]\" on a board).") from None


class Accelerator:
    """`out_dir`: a build directory; the run reads a checked private copy of it (hwgen.snapshot), so a rebuild
    of OUT during the run cannot mix two builds. `snapshot`: one already taken (hwgen verify gives every backend
    the same one). `out_dir` / `build_id` say which build this is; backends read `build_dir` (the copy)."""

    def __init__(self, out_dir, backend: str = "reference", snapshot=None, **options):
        from hwgen.graph_check import load_graph
        from hwgen.snapshot import open_build

        backend_class(backend)  # an unknown or unavailable backend fails before the copy is made
        self.snapshot = snapshot if snapshot is not None else open_build(out_dir)
        self.out_dir = self.snapshot.out  # resolved: later chdir()s do not move it
        self.build_dir = self.snapshot.dir
        self.build_id = self.snapshot.build_id
        # every island's hwgraph.json and params/*.npz checked before they are trusted (hwgen.graph_check)
        self.graph = load_graph(self.build_dir, shown=self.out_dir)
        self.hw = self.graph.hw_islands
        self.backend_name = backend
        if backend == "pynq" and options.get("overlay") is None and importlib.util.find_spec("pynq") is None:
            raise HwgenError("backend 'pynq' runs on a PYNQ board and needs the pynq package, which is not "
                             "installed here; on the board: pip install \"hwgen[board]\". Elsewhere use --backend "
                             "rtlsim (the same hardware in Verilator), or from Python "
                             "Accelerator(out, 'pynq', overlay=SimOverlay(out)).")
        cls = backend_class(backend)
        if getattr(cls, "whole_model", False):  # runs every island itself (the board driver)
            self.backends = ([cls(self.build_dir, self.graph, snapshot=self.snapshot, **options)]
                             if self.hw else [])
        else:  # measured figures are recorded into the build's report for island 0 only
            self.backends = [cls(self.graph.island_dir(self.build_dir, k), hw, snapshot=self.snapshot,
                                 **(options if k == 0 else {**options, "record": False}))
                             for k, hw in enumerate(self.hw)]
        self.backend = self.backends[0] if self.backends else None  # a one-island model's backend

    def _warn_range(self, x) -> None:
        """Warn (HwgenWarning) when inputs lie far outside the input quantizer's range (e.g. 0-255 pixels)."""
        quiet = self.__dict__.get("_quiet")
        if quiet is not None and type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous:
            lo, hi = self._extremes(x.reshape(-1))  # (the usual call: one compiled pass, no more Python)
            if quiet[0] <= lo and hi <= quiet[1]:
                return
        from hwgen.input_range import quantizer_span, quiet_bounds, warn_input_range

        if not hasattr(self, "_span"):
            try:  # on the cpu backend's compiled head when it is there (equal to the evaluator, and faster)
                be = self.backend
                fast = be.head_ints if self.backend_name == "cpu" and getattr(be, "ready", True) else None
                self._span = quantizer_span(self.graph, fast)
            except HwgenError:
                self._span = None
            self._extremes = None
            if self.backend_name == "cpu":  # one compiled pass instead of numpy's min and max (batch-1 calls)
                from sw_fallback.head_kernels import float_extremes

                self._extremes = float_extremes
                self._quiet = quiet_bounds(self._span)
        warn_input_range(self.graph, x, self._span, self._extremes)

    def execute_ints(self, q: np.ndarray, island: int = 0) -> np.ndarray:
        """Hardware island `island` only: its first layer's integer input (N, features) -> its last layer's
        integer output."""
        from hwgen.progress import chunks

        if not self.backends:
            raise HwgenError("this model has no hardware island (it runs on the CPU only); use execute().")
        if getattr(self.backend, "whole_model", False):
            backend, run = self.backend, (lambda v: self.backend.run_ints(v, island))
        else:
            backend = self.backends[island]
            run = backend.run_ints
        q = np.asarray(q, dtype=np.int64)
        if self.backend_name not in SLOW_BACKENDS or q.ndim != 2:
            return np.asarray(run(q), dtype=np.int64)
        # long simulations show a bar (on a terminal only; otherwise one call, as before)
        parts = [np.asarray(run(q[lo:hi]), dtype=np.int64) for lo, hi in chunks(len(q), self.backend_name)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    @functools.cached_property
    def _model_shape(self) -> tuple:
        """(the one hardware island or None, the input's rank): fixed for the model, asked on every call."""
        return self.graph.single, len(self.graph.input_shape)

    def execute(self, x) -> np.ndarray:
        """The ONNX model's input (N, ...) or a single sample -> the ONNX model's output."""
        single, rank = self._model_shape
        # (attributes, not np.ndim / np.shape: numpy's function calls cost a batch-1 call ~0.3 us)
        nd, shape = (x.ndim, x.shape) if type(x) is np.ndarray else (np.ndim(x), np.shape(x))
        if nd == rank and shape[0] == 0:
            raise InputDataError("the input batch holds 0 images; give at least one.")
        if single is None:  # several islands: the CPU islands, heads and tails by the evaluator, in order
            if getattr(self.backend, "whole_model", False):
                return self.backend.execute(x)
            return self.graph.execute(x, run=lambda k, hw, q: self.execute_ints(q, k))
        self._warn_range(x)
        fast = getattr(self.backend, "execute", None)
        if fast is not None:  # a backend that compiles the CPU partitions too (proven equal to the evaluator)
            return fast(x)
        q = single.head_ints(x)
        return single.tail.run(self.execute_ints(q))

    def throughput_test(self, n: int = 1000, seed: int = 0) -> dict:
        """Random valid inputs through the hardware part (island 0); images/s and where the time goes."""
        first = self.hw[0].input_node()
        rng = np.random.default_rng(seed)
        q = first.in_dtype.random(rng, (n, first.in_features))
        t = time.perf_counter()
        self.execute_ints(q)
        total = time.perf_counter() - t
        res = {"backend": self.backend_name, "frames": n, "seconds": total, "images_per_s": n / total}
        res.update(getattr(self.backend, "last_timing", {}) or {})
        return res

    def stats(self) -> dict:
        return dict(getattr(self.backend, "stats", lambda: {})())
