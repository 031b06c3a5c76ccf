"""File-system pieces that make hwgen safe to run as a tool: locks, per-run scratch directories, atomic publishing.

- `file_lock(path)`: an exclusive fcntl.flock on `path` (created if missing). flock locks belong to the open file
  description, so two threads of one process that each open the lock file exclude each other just like two
  processes do. `blocking=False` raises LockBusy instead of waiting; `remove=True` deletes the lock file on
  release (a lock beside a user's directory leaves nothing behind): every taker checks, once it holds the lock,
  that the path still names the file it locked, and starts again when not.
- `scratch_dir(prefix)`: a fresh private directory whose path has only "make-safe" characters (ASCII letters,
  digits, `/._+-`), for tools that cannot take spaces or non-ASCII in paths (make, the Makefiles Verilator
  writes). Removed on exit of the `with` block. Under `scratch_base()`: the system's temporary directory, or, in
  a `with scratch_under(d)` block of this thread, `d` (a Dask task's own directory, which the client removes even
  when the worker process is killed before its own clean-up runs).
- `publish(src, dst)`: copy `src` to a temporary name beside `dst` and rename it over `dst`: readers see the old
  file or the new one, never a partial one.
- `cache_root()`: hwgen's shared cache of built simulators ($HWGEN_CACHE_DIR, else ~/.cache/hwgen), checked to be
  a writable directory (HwgenError naming the variable when not).
- `regular_file(path, what)`: `path` as a regular file to read, or a HwgenError saying what it is instead (missing,
  a directory, a device or pipe that would be read forever).
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

from hwgen.errors import HwgenError

_MAKE_SAFE = re.compile(r"^[A-Za-z0-9/._+-]*$")


class LockBusy(Exception):
    """A non-blocking file_lock found the lock held by someone else."""


@contextlib.contextmanager
def file_lock(path, blocking: bool = True, remove: bool = False):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            raise LockBusy(str(path)) from None
        except BaseException:
            os.close(fd)
            raise
        # a holder with remove=True may have deleted the file between our open and our lock: that lock excludes
        # no one, so take the file that is there now
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        try:
            if remove:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def make_safe(path) -> bool:
    """True if `path` can appear unquoted in a Makefile (no spaces, no non-ASCII, no shell/make metacharacters)."""
    return bool(_MAKE_SAFE.match(str(path)))


_SCRATCH_UNDER: contextvars.ContextVar = contextvars.ContextVar("hwgen_scratch_under", default=None)


@contextlib.contextmanager
def scratch_under(d):
    """Scratch directories of this thread (scratch_dir, build snapshots, simulation runs) go under `d` in the
    block, when its path is make-safe."""
    token = _SCRATCH_UNDER.set(Path(d) if make_safe(Path(d)) else None)
    try:
        yield
    finally:
        _SCRATCH_UNDER.reset(token)


def scratch_base() -> Path:
    """Where scratch directories go: scratch_under's directory, else the system's temporary directory if its path
    is make-safe, else /tmp."""
    override = _SCRATCH_UNDER.get()
    if override is not None:
        return override
    base = Path(tempfile.gettempdir()).resolve()
    return base if make_safe(base) else Path("/tmp")


@contextlib.contextmanager
def scratch_dir(prefix: str = "hwgen-"):
    """A fresh make-safe private directory, removed afterwards."""
    d = Path(tempfile.mkdtemp(prefix=prefix, dir=scratch_base()))
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
    """hwgen's cache directory, created if missing; HwgenError (exit 2) naming $HWGEN_CACHE_DIR when it is a file, a
    device, read-only or full."""
    env = os.environ.get("HWGEN_CACHE_DIR")
    root = (Path(env) if env else Path.home() / ".cache" / "hwgen").resolve()
    what = f"HWGEN_CACHE_DIR {str(root)!r}" if env else f"hwgen's cache directory {str(root)!r}"
    fix = "set HWGEN_CACHE_DIR to a writable directory"
    if root.exists() and not root.is_dir():
        raise HwgenError(f"{what} is not a directory ({_kind(root)}); {fix}.")
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=root) as f:  # tried, not guessed from mode bits (root ignores them)
            f.write(b"x")
            f.flush()
    except OSError as e:
        raise HwgenError(f"{what} cannot be written ({e.strerror or e}); {fix}.") from None
    return root


def _kind(p: Path) -> str:
    try:
        m = os.stat(p).st_mode
    except OSError:
        return "missing"
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISREG, "a file"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(m):
            return name
    return "not a regular file"


def regular_file(path, what: str, error=HwgenError, hint: str = "") -> Path:
    """`path` if it is a regular file (or a link to one); else `error` naming it and what it is instead."""
    p = Path(path)
    if not p.exists():
        raise error(f"{what} {str(p)!r} does not exist{hint}.")
    if p.is_dir():
        raise error(f"{what} {str(p)!r} is a directory, not a file{hint}.")
    if not p.is_file():
        raise error(f"{what} {str(p)!r} is {_kind(p)}, not a regular file{hint}.")
    return p
