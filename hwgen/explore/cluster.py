"""Where the tasks run: an existing Dask cluster (`--scheduler tcp://HOST:PORT`) or an embedded LocalCluster.

Nothing here waits without a bound. distributed.Client's own timeout covers the TCP connect only: a port that
accepts but does not speak Dask (an HTTP server, Dask's own dashboard, a silent listener) makes it wait forever, or
read an HTTP reply as a frame length and try to allocate exabytes. So an address is first checked with a plain
socket (`probe`): connect within CONNECT_TIMEOUT, then the Dask handshake a scheduler sends first, within
HANDSHAKE_TIMEOUT, bounded in size and decoded; only then is a Client made, itself within CLIENT_TIMEOUT. A
scheduler without workers is reported at once and waited for WORKER_WAIT seconds at most; while results are
gathered, a cluster that has had no worker for WORKER_WAIT seconds ends the wait with an error (`gather_watched`,
`as_completed_watched`). Every hang case reports within 30 s.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import struct
import sys
import threading
import time

from hwgen.errors import HwgenError

_ADDRESS = re.compile(r"^(?P<scheme>tcp|tls|ws|wss|inproc)://(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s/:\[\]]+)"
                      r"(?::(?P<port>[^\s/]*))?$")
CONNECT_TIMEOUT = 5.0  # TCP connect
HANDSHAKE_TIMEOUT = 8.0  # the scheduler's first message after the connect
CLIENT_TIMEOUT = 10.0  # distributed.Client(...) after a good handshake
WORKER_WAIT = 15.0  # a scheduler without workers
MAX_HANDSHAKE = 1 << 20  # bytes: a Dask handshake is a few hundred
POLL = 1.0


class ClusterError(HwgenError):
    """The Dask scheduler cannot be reached, is not one, has no workers, or Dask is not installed."""


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ClusterError("Dask distributed is not installed: `pip install \"dask[distributed]\"` "
                           "(or `pip install -e \".[explore]\"`).") from None
    return distributed


def _parse(scheduler: str):
    m = _ADDRESS.match(scheduler or "")
    example = "give one like tcp://HOST:8786 (what `dask scheduler` prints)"
    if not m:
        raise ClusterError(f"--scheduler {scheduler!r} is not a Dask scheduler address; {example}.")
    port = m.group("port")
    if port is not None:
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ClusterError(f"--scheduler {scheduler!r}: port {port!r} is not a number from 1 to 65535; "
                               f"{example}.")
        port = int(port)
    return m.group("scheme"), m.group("host").strip("[]"), port


def check_address(scheduler: str) -> None:
    """Refuse an address that is not tcp://HOST:PORT (or tls / ws / wss / inproc), with a port in range."""
    _parse(scheduler)


def _recv(sock, n: int, deadline: float) -> bytes:
    data = b""
    while len(data) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def probe(scheduler: str) -> None:
    """ClusterError unless a Dask server answers at `scheduler` (tcp: the handshake is read and decoded here,
    bounded in time and size; other schemes are left to the client's own checks)."""
    scheme, host, port = _parse(scheduler)
    if scheme != "tcp":
        return
    port = port or 8786
    where = f"the Dask scheduler at {scheduler}"
    advice = ("start one with `dask scheduler` (it prints the address: its port, not the dashboard's) and "
              "workers with `dask worker ADDRESS`, or leave out --scheduler to run on this machine")
    try:
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
    except socket.timeout:
        raise ClusterError(f"cannot reach {where}: no connection within {CONNECT_TIMEOUT:g} s; {advice}.") from None
    except OSError as e:
        raise ClusterError(f"cannot reach {where} ({e.strerror or type(e).__name__}); {advice}.") from None
    with sock:
        deadline = time.monotonic() + HANDSHAKE_TIMEOUT
        try:
            (n,) = struct.unpack("Q", _recv(sock, 8, deadline))  # as distributed.comm.tcp reads it
            if not 16 <= n <= MAX_HANDSHAKE:
                raise ValueError(n)
            frames = _frames(_recv(sock, n, deadline))
        except TimeoutError:
            raise ClusterError(f"{scheduler} accepted the connection but sent no Dask handshake within "
                               f"{HANDSHAKE_TIMEOUT:g} s: it is not a Dask scheduler (an HTTP server or the "
                               f"dashboard's port?); {advice}.") from None
        except Exception:  # noqa: BLE001 - any reply that does not decode as Dask's handshake
            raise ClusterError(f"{scheduler} answered, but not with Dask's protocol: it is not a Dask scheduler; "
                               f"{advice}.") from None
        if not (isinstance(frames, dict) and "python" in frames):
            raise ClusterError(f"{scheduler} answered, but not with a Dask handshake; {advice}.")


def _frames(body: bytes):
    from distributed.protocol.core import loads
    from distributed.protocol.utils import unpack_frames

    frames, missing = unpack_frames(body, partial=True)
    if missing:
        raise ValueError("truncated")
    return loads(frames)


def _bounded(fn, seconds: float, what: str):
    """fn() in a thread, given up (ClusterError) after `seconds`."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = e

    t = threading.Thread(target=target, daemon=True, name="hwgen-dask-connect")
    t.start()
    t.join(seconds)
    if t.is_alive():
        raise ClusterError(f"{what} did not answer within {seconds:g} s; check that it is a Dask scheduler that is "
                           "running, or leave out --scheduler to run on this machine.")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _notice(text: str) -> None:
    print(f"hwgen: {text}", file=sys.stderr, flush=True)


def wait_for_a_worker(client, scheduler: str, seconds: float = WORKER_WAIT) -> None:
    """Return when the cluster has a worker; say at once that it has none, and give up after `seconds`."""
    if worker_count(client):
        return
    _notice(f"the Dask scheduler at {scheduler} has no workers; waiting up to {seconds:g} s for one (start workers "
            f"with `dask worker {scheduler}`)")
    t = time.monotonic()
    while time.monotonic() - t < seconds:
        time.sleep(min(POLL, 0.25))
        if worker_count(client):
            return
    raise ClusterError(f"the Dask scheduler at {scheduler} has had no workers for {seconds:g} s; start workers "
                       f"with `dask worker {scheduler}`, or leave out --scheduler to run on this machine.")


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None, timeout: float = CLIENT_TIMEOUT):
    """A distributed.Client: on `scheduler` when given (checked with `probe`, then connected within `timeout`, with
    at least one worker), else on a LocalCluster of `workers` single-threaded processes (default: one per CPU)
    listening on 127.0.0.1 only (HTTP endpoint on a random local port). Closed on exit."""
    distributed = _distributed()
    if scheduler:
        probe(scheduler)

        def connect():
            return distributed.Client(scheduler, timeout=timeout)

        try:
            client = _bounded(connect, timeout + 2, f"the Dask scheduler at {scheduler}")
        except (OSError, TimeoutError) as e:
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler} ({type(e).__name__}); start one "
                               "with `dask scheduler` and workers with `dask worker ADDRESS`, or leave out "
                               "--scheduler to run on this machine.") from None
        with client:
            wait_for_a_worker(client, scheduler)
            yield client
        return
    n = max(1, int(workers or os.cpu_count() or 1))
    with distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def worker_count(client) -> int:
    return len(client.scheduler_info().get("workers", {}))


class _Watch:
    """Raises ClusterError once the cluster has had no worker for WORKER_WAIT seconds."""

    def __init__(self, client, seconds: float = WORKER_WAIT):
        self.client, self.seconds, self.since = client, seconds, None

    def check(self) -> None:
        if worker_count(self.client):
            self.since = None
            return
        now = time.monotonic()
        if self.since is None:
            self.since = now
            _notice(f"the Dask cluster has no workers left; waiting up to {self.seconds:g} s for one")
        elif now - self.since > self.seconds:
            raise ClusterError(f"the Dask cluster has had no workers for {self.seconds:g} s, so its tasks cannot "
                               "run; start workers with `dask worker ADDRESS` and run again.")


def as_completed_watched(client, futures):
    """Yield futures as they finish; ClusterError when the cluster has had no worker for WORKER_WAIT seconds."""
    from distributed import wait

    pending, watch = set(futures), _Watch(client)
    while pending:
        try:
            done, pending_now = wait(list(pending), timeout=POLL, return_when="FIRST_COMPLETED")
        except TimeoutError:
            watch.check()
            continue
        pending = set(pending_now)
        yield from done


def gather_watched(client, futures) -> list:
    """client.gather(futures), bounded as as_completed_watched is."""
    for _ in as_completed_watched(client, futures):
        pass
    return client.gather(futures)
