"""The backends that need nothing beyond numpy and a C++ compiler: the reference model and HLS C simulation."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np


class ReferenceBackend:
    """The layers' numpy `execute()`: the golden model."""

    def __init__(self, out_dir: Path, graph, **_):
        self.graph = graph

    def run_ints(self, q):
        return self.graph.run_layers(q)


class CsimBackend:
    """The generated Vitis HLS C++ (OUT/hls/, as built: the manifest check vouches for it), compiled for the CPU
    and called once per batch through ctypes.

    Nothing is written into OUT: the shared library is content-addressed in hwgen's cache
    (<cache>/csim/<hash>.so), compiled once under a file lock into a private scratch directory and published by
    rename, so concurrent processes and threads are safe.
    """

    def __init__(self, out_dir: Path, graph, compiler: str = "g++", log=None, **_):
        from hwgen.fileops import cache_root, file_lock, publish, scratch_dir
        from hwgen.sim.csim import CsimAccelerator, CsimLibrary, built_project, compile_shared, find_hls_include

        self.graph = graph
        hls_dir = Path(out_dir) / "hls"
        t = time.perf_counter()
        project = built_project(hls_dir, graph)  # what `hwgen build` wrote, never rewritten here
        opt = "-O2"  # long runs (whole test sets) amortize the longer compile; unit tests keep -O1
        digest = hashlib.sha256(f"{compiler} {opt} {find_hls_include()}".encode())
        for f in sorted(project.files):
            digest.update(f.name.encode() + b"\0" + f.read_bytes())
        so = cache_root() / "csim" / f"hwgen_top-{compiler.replace('+', 'x')}-{digest.hexdigest()[:32]}.so"
        if not so.is_file():
            with file_lock(so.with_name(f".{so.name}.lock")):
                if not so.is_file():
                    with scratch_dir("hwgen-csim-") as d:
                        compile_shared([project.top_cpp], d / "top.so", compiler=compiler,
                                       include_dirs=[project.dir], opt=opt)
                        publish(d / "top.so", so)
        self.sim = CsimAccelerator(project, compiler=compiler, lib=CsimLibrary(so))
        self.compile_seconds = time.perf_counter() - t

    def run_ints(self, q):
        return self.sim.run(q)

    def stats(self):
        return {"compile_seconds": self.compile_seconds}
