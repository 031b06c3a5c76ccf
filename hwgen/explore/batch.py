"""A large rtlsim batch split over the workers of a Dask cluster (`hwgen run OUT --backend rtlsim --scheduler ...`).

The client runs the CPU head, cuts the integer stream values into chunks, and each chunk is one task that runs the
existing rtlsim backend (hwgen.runtime.rtlsim.RtlsimBackend) on a worker; the tail runs on the client. Every frame
is simulated independently of the others at full rate, so the result is identical to one process.

Workers read the build directory itself: OUT must be on a path every worker sees, the same path (a shared or
network file system); a worker that sees a different OUT (fingerprint of hwgraph.json and rtl/) refuses. Each worker
process builds the Verilator model once and keeps the backend for later chunks of the same build (a cache keyed by
the fingerprint, nothing else). Its scratch files live in a private local directory whose rtl/ points at OUT/rtl,
so workers on one host never share a file they write.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np

from hwgen.errors import BuildDirError, HwgenError
from hwgen.graph import HwGraph

MIN_CHUNK = 16  # frames: below this a task's overhead outweighs the simulation
MAX_CACHED = 4  # builds a worker process keeps ready
_cache: dict = {}  # worker process: (OUT, fingerprint) -> (backend, lock, scratch directory)
_cache_lock = threading.Lock()


def fingerprint(out: Path) -> str:
    """Hash of what rtlsim reads from a build directory: hwgraph.json and every file under rtl/."""
    h = hashlib.sha256()
    files = [out / "hwgraph.json", *sorted(p for p in (out / "rtl").rglob("*") if p.is_file())]
    for f in files:
        try:
            h.update(str(f.relative_to(out)).encode() + b"\0" + f.read_bytes())
        except OSError:
            raise BuildDirError(f"{str(f)!r} cannot be read; is {str(out)!r} a complete hwgen build directory "
                                "on a path this machine sees?") from None
    return h.hexdigest()


class ClusterRun:
    """Accelerator.execute / execute_ints with the hardware part split over a Dask cluster."""

    def __init__(self, out_dir, backend: str = "rtlsim", scheduler: str | None = None, client=None,
                 workers: int | None = None):
        if backend != "rtlsim":
            raise HwgenError(f"--scheduler splits rtlsim runs over a cluster; use it with --backend rtlsim, "
                             f"not {backend!r}.")
        self.out = Path(out_dir).resolve()
        self.graph = HwGraph.load(self.out)
        self.backend_name = backend
        self.scheduler, self.client, self.workers = scheduler, client, workers
        self.fingerprint = fingerprint(self.out)

    def execute(self, x) -> np.ndarray:
        return self.graph.tail.run(self.execute_ints(self.graph.head_ints(x)))

    def execute_ints(self, q) -> np.ndarray:
        from hwgen.explore.cluster import dask_client, worker_count

        q = np.asarray(q, dtype=np.int64)
        if self.client is not None:
            return self._split(self.client, q, worker_count(self.client))
        with dask_client(self.scheduler, self.workers) as c:
            return self._split(c, q, worker_count(c))

    def _split(self, client, q, n_workers: int) -> np.ndarray:
        n = q.shape[0]
        k = max(1, min(2 * max(n_workers, 1), n // MIN_CHUNK))
        chunks = np.array_split(q, k)
        futures = [client.submit(run_chunk, str(self.out), self.fingerprint, c, pure=False) for c in chunks]
        return np.concatenate(client.gather(futures), axis=0)


def run_chunk(out: str, fp: str, q: np.ndarray) -> np.ndarray:
    """On a worker: this chunk through the build's rtlsim backend (built once per worker process)."""
    backend, lock = _backend(out, fp)
    with lock:  # one simulation at a time per backend (its scratch files)
        return backend.run_ints(q)


def _backend(out: str, fp: str):
    with _cache_lock:
        if (out, fp) not in _cache:
            if fingerprint(Path(out)) != fp:
                raise BuildDirError(f"the build directory {out!r} on this worker differs from the client's: put it "
                                    "on a shared path that every worker sees under the same name.")
            from hwgen.runtime.rtlsim import RtlsimBackend

            while len(_cache) >= MAX_CACHED:  # forget the oldest build (and its scratch directory)
                _, _, old = _cache.pop(next(iter(_cache)))
                shutil.rmtree(old, ignore_errors=True)
            work = Path(tempfile.mkdtemp(prefix=f"hwgen-rtlsim-{os.getpid()}-"))
            os.symlink(Path(out) / "rtl", work / "rtl", target_is_directory=True)
            _cache[(out, fp)] = (RtlsimBackend(work, HwGraph.load(out), record=False), threading.Lock(), work)
        return _cache[(out, fp)][:2]
