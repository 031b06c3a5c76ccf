"""External tools (yosys, Verilator and the make / compiler processes it starts, g++, simulation harnesses) run as
children that end when hwgen ends.

    p = proc.run(cmd, cwd=..., capture_output=True, text=True, timeout=600)   # as subprocess.run

Each child gets its own process group, so that it and everything it starts (make -> g++ -> cc1plus) can be
stopped together. Every running group is registered here; `stop_all()` (called by the CLI's SIGTERM / SIGINT
handler, hwgen.cli) sends the groups SIGTERM, then SIGKILL to what is left after GRACE seconds, and refuses to
start new children from then on (a thread pool that would start its next yosys block gets ToolError instead). So
`kill <hwgen>` or Ctrl-C ends a `build --synth` at once instead of after the running yosys block, and compilers
get the SIGTERM that lets them remove their temporary files. A child's own group means Ctrl-C in a terminal
reaches hwgen only: hwgen stops its children itself.

A KeyboardInterrupt (or any exception) in the thread waiting for a child stops that child's group too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time

from hwgen.errors import ToolError

GRACE = 2.0  # seconds between SIGTERM and SIGKILL

_lock = threading.Lock()
_running: set = set()  # Popen objects of live children
_stopping = False


def stopping() -> bool:
    return _stopping


def _signal_group(p: subprocess.Popen, sig) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(p.pid, sig)


def stop(p: subprocess.Popen, grace: float = GRACE) -> None:
    """SIGTERM to the child's process group, SIGKILL after `grace` seconds if the child is still there."""
    if p.poll() is None:
        _signal_group(p, signal.SIGTERM)
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    _signal_group(p, signal.SIGKILL)  # what the child started and left behind
    with contextlib.suppress(subprocess.TimeoutExpired):
        p.wait(timeout=grace)


def stop_all(grace: float = GRACE) -> None:
    """Stop every running child (and its children); start no new ones. Safe to call from a signal handler."""
    global _stopping
    _stopping = True
    with _lock:
        procs = list(_running)
    for p in procs:
        if p.poll() is None:
            _signal_group(p, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
    for p in procs:
        _signal_group(p, signal.SIGKILL)


def popen(cmd, **kw) -> subprocess.Popen:
    """subprocess.Popen in a new process group, registered (unregister with `release`)."""
    if _stopping:
        raise ToolError(f"not starting {cmd[0]}: hwgen is stopping (interrupted)")
    p = subprocess.Popen(cmd, start_new_session=True, **kw)
    with _lock:
        _running.add(p)
    return p


def release(p: subprocess.Popen) -> None:
    with _lock:
        _running.discard(p)


def run(cmd, *, input=None, capture_output: bool = False, timeout: float | None = None, check: bool = False,
        **kw) -> subprocess.CompletedProcess:
    """subprocess.run with the child in its own registered process group: stopped (group SIGTERM, then SIGKILL)
    on a timeout, an exception or KeyboardInterrupt in the waiting thread, and by stop_all()."""
    if capture_output:
        kw["stdout"] = kw["stderr"] = subprocess.PIPE
    if input is not None:
        kw["stdin"] = subprocess.PIPE
    p = popen(cmd, **kw)
    try:
        out, err = p.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(p)
        with contextlib.suppress(Exception):
            p.communicate(timeout=GRACE)
        raise subprocess.TimeoutExpired(p.args, timeout) from None
    except BaseException:
        stop(p, grace=0.5)
        raise
    finally:
        release(p)
    if _stopping and p.returncode and p.returncode < 0:  # ended by stop_all: say so rather than "tool failed"
        raise ToolError(f"{cmd[0]} was stopped: hwgen is stopping (interrupted)")
    r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
    if check:
        r.check_returncode()
    return r
