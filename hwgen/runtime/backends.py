"""The backends that need nothing beyond numpy and a C++ compiler: the reference model and HLS C simulation."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path


class ReferenceBackend:
    """The layers' numpy `execute()`: the golden model."""

    def __init__(self, out_dir: Path, graph, **_):
        self.graph = graph

    def run_ints(self, q):
        return self.graph.run_layers(q)


class CsimBackend:
    """The generated Vitis HLS C++ (OUT/hls/ as built: the run's checked copy of it, hwgen.snapshot), compiled for
    the CPU and called once per batch through ctypes.

    Nothing is written into OUT: the shared library is content-addressed in hwgen's cache
    (<cache>/csim/<hash>.so, see `cached_library`), compiled once under a file lock and published by rename, so
    concurrent processes and threads are safe.
    """

    def __init__(self, out_dir: Path, graph, compiler: str = "g++", log=None, **_):
        from hwgen.sim.csim import CsimAccelerator, CsimLibrary, built_project

        self.graph = graph
        t = time.perf_counter()
        project = built_project(Path(out_dir) / "hls", graph)  # what `hwgen build` wrote, never rewritten here
        # long runs (whole test sets) amortize the longer compile of -O2; unit tests keep -O1
        so = cached_library(project.top_cpp, project.files, compiler, opt="-O2")
        self.sim = CsimAccelerator(project, compiler=compiler, lib=CsimLibrary(so))
        self.compile_seconds = time.perf_counter() - t

    def run_ints(self, q):
        return self.sim.run(q)

    def stats(self):
        return {"compile_seconds": self.compile_seconds}


def read_sources(top: Path, files) -> dict:
    """{name relative to top's directory: bytes} of every file of a C++ project, each read once: the cache key
    and the compile both use these bytes, never the files again (they may be replaced meanwhile)."""
    base = Path(top).parent
    names = {Path(f).resolve().relative_to(base.resolve()).as_posix(): Path(f) for f in files}
    names.setdefault(Path(top).name, Path(top))
    return {n: f.read_bytes() for n, f in sorted(names.items())}


def library_key(top_name: str, sources: dict, compiler: str, opt: str) -> str:
    """Hash of everything a C-simulation library is compiled from: the project's bytes, the ap_types headers'
    bytes, the compiler (its path, size and date) and the flags."""
    import shutil

    from hwgen.sim.csim import find_hls_include

    h = hashlib.sha256(f"csim-1 {compiler} {opt} {top_name}".encode())
    exe = shutil.which(compiler)
    if exe:
        st = Path(exe).resolve().stat()
        h.update(f"{Path(exe).resolve()} {st.st_size} {st.st_mtime_ns}".encode())
    inc = find_hls_include()
    for f in sorted(p for p in inc.rglob("*") if p.is_file()):
        h.update(f.relative_to(inc).as_posix().encode() + b"\0" + f.read_bytes())
    for name, data in sources.items():
        h.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()[:32]


def cached_library(top: Path, files, compiler: str = "g++", opt: str = "-O2") -> Path:
    """The shared library of a C++ project (top .cpp and the files it includes), from hwgen's cache or compiled
    into it. The sources are read once (read_sources): the key names those bytes, and the compiler reads a
    private copy of those same bytes, so a cache entry never holds a library built from other sources than its
    key names, even when the project's directory is rewritten during the compile."""
    from hwgen.fileops import cache_root, file_lock, publish, scratch_dir
    from hwgen.sim.csim import compile_shared

    sources = read_sources(top, files)
    key = library_key(Path(top).name, sources, compiler, opt)
    so = cache_root() / "csim" / f"hwgen_top-{compiler.replace('+', 'x')}-{key}.so"
    if so.is_file():
        return so
    with file_lock(so.with_name(f".{so.name}.lock")):
        if not so.is_file():
            with scratch_dir("hwgen-csim-") as d:
                src = d / "src"
                for name, data in sources.items():
                    (src / name).parent.mkdir(parents=True, exist_ok=True)
                    (src / name).write_bytes(data)
                compile_shared([src / Path(top).name], d / "top.so", compiler=compiler, include_dirs=[src], opt=opt)
                publish(d / "top.so", so)
    return so
