"""Verilator harness executables built once per design, safely under concurrency and with any user paths.

cached_harness() content-addresses the executable in hwgen's shared cache (<cache>/verilator/models/<top>-<hash>);
a per-design file lock makes concurrent processes and threads build it once, and publishing by rename means no
one ever runs a partial executable. The build runs with copies of the sources (the very bytes the key was computed from) in a locked build tree whose path
is make-safe (the Makefiles Verilator writes cannot take spaces or non-ASCII characters), so the user's paths
never reach make.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
from pathlib import Path

from hwgen.errors import ToolError
from hwgen.fileops import LockBusy, cache_root, file_lock, make_safe, publish, scratch_dir

BUILD_TREES = 4  # kept Verilator build trees per (top, flags, harness): concurrent builds of different designs


@contextlib.contextmanager
def _build_tree(cache: Path, tree_key: str):
    """A locked directory to run a Verilator build in. Kept in the cache (one of BUILD_TREES slots per key), so a
    design that differs a little from the last one built there (FIFO sizing trials) is rebuilt incrementally by
    make; a private scratch directory when the cache path is not make-safe."""
    if not make_safe(cache):  # the Makefiles cannot take this path
        with scratch_dir("hwgen-verilator-") as d:
            yield d
        return
    work = cache / "work"
    for slot in list(range(BUILD_TREES)) + [None]:
        d = work / f"{tree_key}-{slot or 0}"
        try:
            with file_lock(work / f".{d.name}.lock", blocking=slot is None):
                d.mkdir(parents=True, exist_ok=True)
                yield d
                return
        except LockBusy:
            continue


def cached_harness(cpp_text: str, args: list, sources: list, top: str, cache_dir=None, log=None) -> tuple[Path, bool]:
    """Build (once) a Verilator harness executable; returns (path, rebuilt).

    The executable is content-addressed in the shared cache (<cache>/verilator/models/<top>-<hash>), the hash
    covering the Verilog sources, the harness C++, the flags and the Verilator binary. Building happens under a
    file lock, with copies of the sources, in a build tree of the cache (<cache>/verilator/work/, kept for
    incremental rebuilds) or, when the cache path is not make-safe, a private scratch directory: the Makefiles
    Verilator writes cannot take spaces or non-ASCII in paths. The executable is then published by rename. So
    concurrent processes and threads build a model once and never see a partial executable, and the user's
    paths (relative, with spaces, non-ASCII) never reach make.
    """
    from hwgen.sim.verilator import find_verilator, objcache_script, run_tool, verilator_env

    verilator = find_verilator()
    h = hashlib.sha256(repr(args).encode() + cpp_text.encode() + str(verilator).encode())
    # each source is read once: the key names these bytes and the build tree gets these bytes, never the files
    # again (a rebuild of OUT between hashing and building must not put another design under this key)
    blobs = [(Path(s).name, Path(s).read_bytes()) for s in sources]
    names = [n for n, _ in blobs]
    for name, data in blobs:
        h.update(name.encode() + b"\0" + data)
    if len(set(names)) != len(names):
        raise ToolError(f"verilator build of {top}: two sources share a file name: {names}")
    safe_top = re.sub(r"[^A-Za-z0-9_]", "_", top)[:40]
    key = f"{safe_top}-{h.hexdigest()[:32]}"
    cache = Path(cache_dir).resolve() if cache_dir else cache_root() / "verilator"
    models = cache / "models"
    exe = models / key
    if exe.is_file():
        return exe, False
    with file_lock(models / f".{key}.lock"):  # one builder per design; the others wait, then find it built
        if exe.is_file():
            return exe, False
        tree_key = f"{safe_top}-{hashlib.sha256(repr(args).encode() + cpp_text.encode()).hexdigest()[:16]}"
        with _build_tree(cache, tree_key) as d:
            src = d / "src"
            shutil.rmtree(src, ignore_errors=True)
            src.mkdir()
            local = []
            for i, (name, data) in enumerate(blobs):
                name = name if make_safe(name) else f"src{i}.v"
                (src / name).write_bytes(data)
                local.append(f"src/{name}")
            if not (d / "harness_main.cpp").is_file() or (d / "harness_main.cpp").read_text() != cpp_text:
                (d / "harness_main.cpp").write_text(cpp_text)
            env = verilator_env()
            if make_safe(cache):  # OBJCACHE is expanded unquoted by make
                env["OBJCACHE"] = str(objcache_script(cache))
            else:
                env.pop("OBJCACHE", None)
            cmd = [verilator, *args, "-o", "harness", "-Mdir", "obj", "harness_main.cpp", *local]
            if log:
                log(f"verilator: building the simulation harness of {top} (cached as {exe})")
            try:
                run_tool(cmd, cwd=d, env=env, what="verilator build")
            except ToolError:  # perhaps a tree left broken by a killed build: once more from a clean tree
                shutil.rmtree(d / "obj", ignore_errors=True)
                run_tool(cmd, cwd=d, env=env, what="verilator build")
            publish(d / "obj" / "harness", exe)
    return exe, True
