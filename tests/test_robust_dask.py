"""Issue 19: no unbounded wait on a Dask cluster. `--scheduler` pointed at a port that is not a Dask scheduler (a
silent listener, an HTTP server, a server that greets with a non-Dask reply, Dask's own dashboard port) or at a
scheduler without workers answers within 30 s with one line, for `run --scheduler` and `explore --scheduler`; a
cluster that loses all its workers during a run ends the wait with a message. Real listeners and a real Dask
scheduler on localhost."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hwgen.cli import main
from tests.test_robust_cli import M, built, check_one_line, run_args  # noqa: F401 (built: a fixture)


@contextlib.contextmanager
def _listener(kind):
    """A local TCP port that is not a Dask scheduler: 'silent' accepts and says nothing, 'http' is an HTTP
    server (waits for a request), 'talker' greets every connection with an HTTP error at once."""
    if kind == "http":
        class Quiet(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

        srv = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            yield f"tcp://127.0.0.1:{srv.server_address[1]}"
        finally:
            srv.shutdown()
        return
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    held, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                c, _ = sock.accept()
            except OSError:
                return
            if kind == "talker":
                c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            held.append(c)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"tcp://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        sock.close()
        for c in held:
            c.close()


# --- a scheduler that does not answer as one: a message within 30 s --------------------------------------------

@pytest.fixture(scope="module")
def scheduler_without_workers(tmp_path_factory):
    from tests.dask_cluster import local_dask

    with local_dask(tmp_path_factory.mktemp("dask"), n_workers=0, dashboard=True) as c:
        yield c


BAD_SCHEDULERS = {
    "silent listener": ("silent", ["no dask handshake"]),
    "HTTP server": ("http", ["no dask handshake"]),
    "non-Dask reply": ("talker", ["not with dask's protocol"]),
    "Dask's dashboard port": ("dashboard", ["no dask handshake"]),
    "scheduler without workers": ("no workers", ["no workers for"]),
}


@pytest.mark.slow  # each waits out a timeout (8 to 15 s)
@pytest.mark.parametrize("command", ["run", "explore"])
@pytest.mark.parametrize("case", BAD_SCHEDULERS)
def test_bad_scheduler_reports_within_30_s(case, command, built, scheduler_without_workers, tmp_path, capsys):
    kind, words = BAD_SCHEDULERS[case]
    with contextlib.ExitStack() as stack:
        if kind == "dashboard":
            address = scheduler_without_workers.dashboard.replace("http://", "tcp://")
        elif kind == "no workers":
            address = scheduler_without_workers.address
        else:
            address = stack.enter_context(_listener(kind))
        argv = (run_args(built, tmp_path, "rtlsim", ["--scheduler", address]) if command == "run" else
                ["explore", M, "-o", str(tmp_path / "sweep"), "--scheduler", address])
        t = time.perf_counter()
        rc = main(argv)
        dt = time.perf_counter() - t
    err = capsys.readouterr().err
    if kind == "no workers":  # said at once, then the error
        assert "has no workers; waiting up to" in err.splitlines()[0], err
        err = err.splitlines()[-1] + "\n"
    check_one_line(rc, err, [address] + words, case)
    assert dt < 30, f"{case}: the answer took {dt:.0f} s"


@pytest.mark.slow
def test_cluster_that_loses_all_its_workers_ends_the_wait(tmp_path):
    """Gathering results from a cluster whose only worker died ends with a message, not a wait for ever."""
    from distributed import Client

    from hwgen.explore.cluster import WORKER_WAIT, ClusterError, gather_watched
    from tests.dask_cluster import local_dask

    with local_dask(tmp_path / "dask", n_workers=1) as cluster, Client(cluster.address, timeout=60) as client:
        futures = [client.submit(time.sleep, 120, pure=False)]
        time.sleep(1.0)
        cluster.kill_worker(next(iter(cluster.workers)))
        t = time.perf_counter()
        with pytest.raises(ClusterError, match="no workers for"):
            gather_watched(client, futures)
        assert time.perf_counter() - t < WORKER_WAIT + 15
