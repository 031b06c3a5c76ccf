"""File-system pieces that make hwgen safe to run as a tool: locks, per-run scratch directories, atomic publishing.

- `file_lock(path)`: an exclusive fcntl.flock on `path` (created if missing). flock locks belong to the open file
  description, so two threads of one process that each open the lock file exclude each other just like two
  processes do. `blocking=False` raises LockBusy instead of waiting.
- `scratch_dir(prefix)`: a fresh private directory whose path has only "make-safe" characters (ASCII letters,
  digits, `/._+-`), for tools that cannot take spaces or non-ASCII in paths (make, the Makefiles Verilator
  writes). Removed on exit of the `with` block.
- `publish(src, dst)`: copy `src` to a temporary name beside `dst` and rename it over `dst`: readers see the old
  file or the new one, never a partial one.
- `cache_root()`: hwgen's shared cache of built simulators ($HWGEN_CACHE_DIR, else ~/.cache/hwgen).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import tempfile
from pathlib import Path

_MAKE_SAFE = re.compile(r"^[A-Za-z0-9/._+-]*$")


class LockBusy(Exception):
    """A non-blocking file_lock found the lock held by someone else."""


@contextlib.contextmanager
def file_lock(path, blocking: bool = True):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            raise LockBusy(str(path)) from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def make_safe(path) -> bool:
    """True if `path` can appear unquoted in a Makefile (no spaces, no non-ASCII, no shell/make metacharacters)."""
    return bool(_MAKE_SAFE.match(str(path)))


def _safe_tmp_base() -> Path:
    base = Path(tempfile.gettempdir()).resolve()
    return base if make_safe(base) else Path("/tmp")


@contextlib.contextmanager
def scratch_dir(prefix: str = "hwgen-"):
    """A fresh make-safe private directory, removed afterwards."""
    d = Path(tempfile.mkdtemp(prefix=prefix, dir=_safe_tmp_base()))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def publish(src, dst) -> Path:
    """Atomically place a copy of file `src` at `dst` (temporary sibling + rename)."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    os.close(fd)
    try:
        shutil.copy2(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return dst


def write_text_atomic(dst, text: str) -> None:
    dst = Path(dst)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def cache_root() -> Path:
    env = os.environ.get("HWGEN_CACHE_DIR")
    return (Path(env) if env else Path.home() / ".cache" / "hwgen").resolve()
