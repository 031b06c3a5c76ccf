"""One accelerator API over every execution path.

    acc = Accelerator("out/", backend="rtlsim")     # "reference" | "csim" | "rtlsim" | "cpu" | "pynq"
    y = acc.execute(x)                              # the ONNX model's input (any batch) -> its output
    acc.throughput_test(10000)                      # images/s, time in packing, transfer, unpacking

The CPU head (input quantizer) and tail (final float ops) run the same way for every backend; a backend only
runs the hardware layers: integer input stream values (N, in_features) -> integer outputs (N, out_features).
Backends live in their own modules and are imported when asked for, so optional tools (Verilator, a C++
compiler, numba, pynq) are needed only by the backend that uses them.
"""

from __future__ import annotations

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
        from hwgen.manifest import check_params
        from hwgen.snapshot import open_build

        backend_class(backend)  # an unknown or unavailable backend fails before the copy is made
        self.snapshot = snapshot if snapshot is not None else open_build(out_dir)
        self.out_dir = self.snapshot.out  # resolved: later chdir()s do not move it
        self.build_dir = self.snapshot.dir
        self.build_id = self.snapshot.build_id
        check_params(self.build_dir, shown=self.out_dir)  # params/*.npz against each layer's spec, before loading
        self.graph = load_graph(self.build_dir, shown=self.out_dir)
        check_params(self.build_dir, self.graph, shown=self.out_dir)
        self.backend_name = backend
        if backend == "pynq" and options.get("overlay") is None and importlib.util.find_spec("pynq") is None:
            raise HwgenError("backend 'pynq' runs on a PYNQ board and needs the pynq package, which is not "
                             "installed here; on the board: pip install \"hwgen[board]\". Elsewhere use --backend "
                             "rtlsim (the same hardware in Verilator), or from Python "
                             "Accelerator(out, 'pynq', overlay=SimOverlay(out)).")
        self.backend = backend_class(backend)(self.build_dir, self.graph, snapshot=self.snapshot, **options)

    def _warn_range(self, x) -> None:
        """Warn (HwgenWarning) when inputs lie far outside the input quantizer's range (e.g. 0-255 pixels)."""
        from hwgen.input_range import quantizer_span, warn_input_range

        if not hasattr(self, "_span"):
            try:
                self._span = quantizer_span(self.graph)
            except HwgenError:
                self._span = None
        warn_input_range(self.graph, x, self._span)

    def execute_ints(self, q: np.ndarray) -> np.ndarray:
        """Hardware part only: first layer's integer input (N, features) -> last layer's integer output."""
        from hwgen.progress import chunks

        q = np.asarray(q, dtype=np.int64)
        if self.backend_name not in SLOW_BACKENDS or q.ndim != 2:
            return np.asarray(self.backend.run_ints(q), dtype=np.int64)
        # long simulations show a bar (on a terminal only; otherwise one call, as before)
        parts = [np.asarray(self.backend.run_ints(q[lo:hi]), dtype=np.int64)
                 for lo, hi in chunks(len(q), self.backend_name)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def execute(self, x) -> np.ndarray:
        """The ONNX model's input (N, ...) or a single sample -> the ONNX model's output."""
        if np.ndim(x) == len(self.graph.input_shape) and np.shape(x)[0] == 0:
            raise InputDataError("the input batch holds 0 images; give at least one.")
        self._warn_range(x)
        fast = getattr(self.backend, "execute", None)
        if fast is not None:  # a backend that compiles the CPU partitions too (proven equal to the evaluator)
            return fast(x)
        q = self.graph.head_ints(x)
        return self.graph.tail.run(self.execute_ints(q))

    def throughput_test(self, n: int = 1000, seed: int = 0) -> dict:
        """Random valid inputs through the hardware part; images/s and where the time goes."""
        first = self.graph.input_node()
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
