"""Where the tasks run: an existing Dask cluster (`--scheduler tcp://HOST:PORT`) or an embedded LocalCluster."""

from __future__ import annotations

import contextlib
import logging
import os
import re

from hwgen.errors import HwgenError

_ADDRESS = re.compile(r"^(tcp|tls|ws|wss|inproc)://[^\s/]+$")


class ClusterError(HwgenError):
    """The Dask scheduler cannot be reached, or Dask is not installed."""


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ClusterError("Dask distributed is not installed: `pip install \"dask[distributed]\"` "
                           "(or `pip install -e \".[explore]\"`).") from None
    return distributed


def check_address(scheduler: str) -> None:
    if not _ADDRESS.match(scheduler):
        raise ClusterError(f"--scheduler {scheduler!r} is not a Dask scheduler address; give one like "
                           "tcp://HOST:8786 (what `dask scheduler` prints).")


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None, timeout: float = 20.0):
    """A distributed.Client: on `scheduler` when given, else on a LocalCluster of `workers` single-threaded
    processes (default: one per CPU) listening on 127.0.0.1 only (HTTP endpoint on a random local port). Closed
    on exit."""
    distributed = _distributed()
    if scheduler:
        check_address(scheduler)
        try:
            client = distributed.Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as e:
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler} ({type(e).__name__}); start one "
                               "with `dask scheduler` and workers with `dask worker ADDRESS`, or leave out "
                               "--scheduler to run on this machine.") from None
        with client:
            yield client
        return
    n = max(1, int(workers or os.cpu_count() or 1))
    with distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def worker_count(client) -> int:
    return len(client.scheduler_info().get("workers", {}))
