"""The `cpu` backend as the Accelerator uses it: answers at once, compiles its numba kernels in the background.

The first run on a machine compiles the kernels the graph needs (about 5 s each with LLVM, ~26 s for the digits
demo); later runs load them from numba's on-disk cache (~0.5 s). LazyCpuBackend builds the real CpuBackend
(sw_fallback.backend) in a background thread. If that is done within WAIT_S (the cached case), it is used
directly. Otherwise batches up to REFERENCE_MAX frames are computed by the layers' numpy golden model (the very
semantics the kernels implement: bit-exact by definition) until the kernels are ready; larger batches wait for
them. A short process finishes the compile at exit (atexit, with a progress bar), so the next run starts warm.

Callers that compare the kernels themselves with something (hwgen verify, the demo, tests) pass
wait_for_kernels=True, and so does `hwgen run --backend cpu` (what the user asked for is what runs). Frames the
reference answered are counted in `reference_frames` (an output line says so).
"""

from __future__ import annotations

import atexit
import threading
import time

import numpy as np

WAIT_S = 1.5  # a warm cache loads in ~0.5 s
REFERENCE_MAX = 20_000


class LazyCpuBackend:
    def __init__(self, out_dir, graph, wait_for_kernels: bool = False, **options):
        self.graph = graph
        self.options = options
        self._inner = None
        self._error = None
        t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._build, args=(out_dir, graph, options), name="hwgen-cpu-kernels",
                                        daemon=True)
        self._thread.start()
        atexit.register(self._finish)  # a short process still leaves the kernels in the cache for the next one
        if wait_for_kernels:
            self._wait()
        else:
            self._thread.join(WAIT_S)
        self.start_seconds = time.perf_counter() - t0
        self.last_timing = {}
        self.reference_frames = 0  # frames the numpy reference answered instead of the kernels (said in outputs)

    def _build(self, out_dir, graph, options):
        try:
            from sw_fallback.backend import CpuBackend

            self._inner = CpuBackend(out_dir, graph, **options)
        except BaseException as e:  # re-raised in the caller's thread on next use
            self._error = e

    def _finish(self):
        if self._thread.is_alive():
            from hwgen.progress import Spinner

            with Spinner("compiling cpu kernels for the next runs (once)"):
                self._thread.join()

    @property
    def threads(self):
        return self._inner.threads if self._inner is not None else self.options.get("threads")

    @property
    def ready(self) -> bool:
        return not self._thread.is_alive()

    def _wait(self):
        if self._thread.is_alive():
            from hwgen.progress import Spinner

            with Spinner("compiling cpu kernels (first run only)"):
                self._thread.join()
        if self._error is not None:
            raise self._error
        return self._inner

    def _use_reference(self, n: int) -> bool:
        return not self.ready and n <= REFERENCE_MAX

    # --- the backend interface -------------------------------------------------------------------------------
    def run_ints(self, q):
        q = np.asarray(q)
        if self._use_reference(q.shape[0] if q.ndim else 1):
            t = time.perf_counter()
            q = self.graph.run_layers(q)
            self.reference_frames += q.shape[0] if q.ndim else 1
            self.last_timing = {"reference_while_compiling_seconds": time.perf_counter() - t}
            return q
        inner = self._wait()
        y = inner.run_ints(q)
        self.last_timing = inner.last_timing
        return y

    def execute(self, x):
        inner = self._inner
        if inner is not None:  # ready (the usual case): no more checks per call
            y = inner.execute(x)
            self.last_timing = inner.last_timing
            return y
        n = np.shape(x)[0] if np.ndim(x) == len(self.graph.input_shape) else 1
        if self._use_reference(n):
            t = time.perf_counter()
            y = self.graph.tail.run(self.run_ints(self.graph.head_ints(x)))
            self.last_timing = {"reference_while_compiling_seconds": time.perf_counter() - t}
            return y
        inner = self._wait()
        y = inner.execute(x)
        self.last_timing = inner.last_timing
        return y

    def stats(self) -> dict:
        if not self.ready:
            return {"kernels": "compiling in the background; batches run on the numpy reference meanwhile"}
        return self._wait().stats()

    def __getattr__(self, name):  # head_ints, tail, plan, ...: the compiled backend's
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._wait(), name)
