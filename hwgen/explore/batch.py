"""A large rtlsim batch split over the workers of a Dask cluster (`hwgen run OUT --backend rtlsim --scheduler ...`).

The client runs the CPU head, cuts the integer stream values into chunks, and each chunk is one task that runs the
existing rtlsim backend (hwgen.runtime.rtlsim.RtlsimBackend) on a worker; the tail runs on the client. Every frame
is simulated independently of the others at full rate, so the result is identical to one process.

Workers read the build directory itself: OUT must be on a path every worker sees, the same path (a shared or
network file system). The client and every worker read checked copies of OUT (hwgen.snapshot) and compare the
build id: a worker that sees another build (another OUT under that path, or OUT rebuilt during the run) refuses,
so one run never mixes two builds. Each worker process builds the Verilator model once and keeps the backend (and
its copy of the build) for later chunks of the same build (a cache keyed by OUT and the build id); nothing is
written into OUT (the figures of split runs are not recorded).
"""

from __future__ import annotations

import threading

import numpy as np

from hwgen.errors import BuildDirError, HwgenError

MIN_CHUNK = 16  # frames: below this a task's overhead outweighs the simulation
MAX_CACHED = 4  # builds a worker process keeps ready
_cache: dict = {}  # worker process: (OUT, build id) -> (backend, lock, snapshot)
_cache_lock = threading.Lock()


class ClusterRun:
    """Accelerator.execute / execute_ints with the hardware part split over a Dask cluster."""

    def __init__(self, out_dir, backend: str = "rtlsim", scheduler: str | None = None, client=None,
                 workers: int | None = None):
        if backend != "rtlsim":
            raise HwgenError(f"--scheduler splits rtlsim runs over a cluster; use it with --backend rtlsim, "
                             f"not {backend!r}.")
        from hwgen.explore.cluster import check_address
        from hwgen.graph_check import load_graph
        from hwgen.snapshot import open_build

        if scheduler:
            check_address(scheduler)  # before the build is read
        self.snapshot = open_build(out_dir)
        self.out = self.snapshot.out
        self.build_id = self.snapshot.build_id
        self.graph = load_graph(self.snapshot.dir, shown=self.out)  # every island checked (hwgen.graph_check)
        self.backend_name = backend
        self.scheduler, self.client, self.workers = scheduler, client, workers

    def execute(self, x) -> np.ndarray:
        from hwgen.input_range import warn_input_range

        if self.graph.single is not None:
            warn_input_range(self.graph, x)  # the same input-range warning as a local run
        # island by island (CPU islands here, each hardware island's batch split over the cluster)
        return self.graph.execute(x, run=lambda k, hw, q: self.execute_ints(q, k))

    def execute_ints(self, q, island: int = 0) -> np.ndarray:
        from hwgen.explore.cluster import dask_client, worker_count

        q = np.asarray(q, dtype=np.int64)
        if self.client is not None:
            return self._split(self.client, q, worker_count(self.client), island)
        with dask_client(self.scheduler, self.workers) as c:
            return self._split(c, q, worker_count(c), island)

    def _split(self, client, q, n_workers: int, island: int = 0) -> np.ndarray:
        from hwgen.explore.cluster import gather_watched

        n = q.shape[0]
        k = max(1, min(2 * max(n_workers, 1), n // MIN_CHUNK))
        chunks = np.array_split(q, k)
        futures = [client.submit(run_chunk, str(self.out), self.build_id, c, island, pure=False) for c in chunks]
        return np.concatenate(gather_watched(client, futures), axis=0)


def run_chunk(out: str, build_id: str, q: np.ndarray, island: int = 0) -> np.ndarray:
    """On a worker: this chunk through the rtlsim backend of the build's hardware island `island` (built once per
    worker process)."""
    backend, lock = _backend(out, build_id, island)
    with lock:  # one simulation at a time per backend (its scratch files)
        return backend.run_ints(q)


def _backend(out: str, build_id: str, island: int = 0):
    with _cache_lock:
        if (out, build_id, island) not in _cache:
            from hwgen.graph_check import load_graph
            from hwgen.runtime.rtlsim import RtlsimBackend
            from hwgen.snapshot import open_build

            snap = open_build(out)
            if snap.build_id != build_id:
                snap.close()
                raise BuildDirError(f"the build directory {out!r} on this worker is another build than the client's "
                                    "(it was rebuilt during the run, or this worker sees another directory under "
                                    "that name): run again, with OUT on a shared path every worker sees.")
            while len(_cache) >= MAX_CACHED:  # forget the oldest build (and its copy)
                _, _, old = _cache.pop(next(iter(_cache)))
                old.close()
            g = load_graph(snap.dir, shown=snap.out)
            backend = RtlsimBackend(g.island_dir(snap.dir, island), g.hw_islands[island], record=False)
            _cache[(out, build_id, island)] = (backend, threading.Lock(), snap)
        return _cache[(out, build_id, island)][:2]
