"""A real Dask cluster on localhost for tests: `dask scheduler` and `dask worker` processes (127.0.0.1 only,
random free ports, one thread each, no nanny, so that killing a worker's process removes that worker)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class LocalDask:
    address: str
    workers: dict = field(default_factory=dict)  # worker address -> Popen
    dashboard: str | None = None  # http://127.0.0.1:PORT of the scheduler's dashboard (dashboard=True)

    def kill_worker(self, address: str) -> None:
        """SIGKILL, as a machine that dies: no goodbye to the scheduler."""
        os.killpg(self.workers[address].pid, signal.SIGKILL)


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])  # this checkout
    env["DASK_DISTRIBUTED__WORKER__DAEMON"] = "False"
    return env


def _start(cmd, log: Path) -> subprocess.Popen:
    f = log.open("w")
    return subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=_env(), start_new_session=True,
                            cwd=log.parent)


@contextlib.contextmanager
def local_dask(tmp: Path, n_workers: int = 2, timeout: float = 120, dashboard: bool = False):
    """A scheduler and n_workers workers (0: a scheduler without workers); dashboard=True serves the scheduler's
    HTTP dashboard on a random local port (LocalDask.dashboard)."""
    tmp.mkdir(parents=True, exist_ok=True)
    sfile = tmp / "scheduler.json"
    procs = []
    try:
        local = ["--host", "127.0.0.1", "--dashboard" if dashboard else "--no-dashboard",
                 "--dashboard-address", "127.0.0.1:0"]  # random ports
        procs.append(_start([sys.executable, "-m", "distributed.cli.dask_scheduler", *local, "--port", "0",
                             "--scheduler-file", str(sfile)], tmp / "scheduler.log"))
        t0 = time.time()
        address = None
        while address is None:
            if time.time() - t0 > timeout or procs[0].poll() is not None:
                raise RuntimeError("dask scheduler did not start: " + (tmp / "scheduler.log").read_text()[-2000:])
            time.sleep(0.2)
            with contextlib.suppress(OSError, ValueError, KeyError):  # not written yet, or half written
                info = json.loads(sfile.read_text())
                address = info["address"]
        port = info.get("services", {}).get("dashboard")
        board = f"http://127.0.0.1:{port}" if dashboard and port else None
        names = {}
        for i in range(n_workers):
            names[f"w{i}"] = _start([sys.executable, "-m", "distributed.cli.dask_worker", address, *local,
                                     "--nthreads", "1", "--no-nanny", "--name", f"w{i}"], tmp / f"worker{i}.log")
            procs.append(names[f"w{i}"])
        from distributed import Client

        with Client(address, timeout=timeout) as c:
            if n_workers:
                c.wait_for_workers(n_workers, timeout=timeout)
            info = c.scheduler_info()["workers"]
        yield LocalDask(address, {a: names[w["name"]] for a, w in info.items()}, board)
    finally:
        for p in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=2)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=15)
