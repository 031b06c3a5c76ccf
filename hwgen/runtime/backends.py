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
        for layer in self.graph.layers:
            q = layer.execute(q)
        return q


class CsimBackend:
    """The generated Vitis HLS C++, compiled for the CPU and called once per batch through ctypes.

    The C++ is regenerated from the build's checked parameters into a private scratch directory (so it is the
    code of OUT/hls/ and can never disagree with params/; nothing is written into OUT), and the shared library
    is content-addressed in hwgen's cache (<cache>/csim/<hash>.so): compiled once under a file lock in a scratch
    directory and published by rename, so concurrent processes and threads are safe.
    """

    def __init__(self, out_dir: Path, graph, compiler: str = "g++", log=None, **_):
        from hwgen.codegen.hls import write_project
        from hwgen.fileops import cache_root, file_lock, publish, scratch_dir
        from hwgen.sim.csim import CsimAccelerator, CsimLibrary, compile_shared, find_hls_include

        self.graph = graph
        t = time.perf_counter()
        opt = "-O2"  # long runs (whole test sets) amortize the longer compile; unit tests keep -O1
        with scratch_dir("hwgen-csim-") as d:
            project = write_project(d / "hls", "hwgen_top", list(graph.layers),
                                    part=graph.meta.get("part", "xc7z020clg400-1"),
                                    clock_period_ns=1000.0 / float(graph.meta.get("clock_mhz", 100)))
            digest = hashlib.sha256(f"{compiler} {opt} {find_hls_include()}".encode())
            for f in sorted(project.files):
                digest.update(f.name.encode() + b"\0" + f.read_bytes())
            key = digest.hexdigest()[:32]
            so = cache_root() / "csim" / f"hwgen_top-{compiler.replace('+', 'x')}-{key}.so"
            if not so.is_file():
                with file_lock(so.with_name(f".{so.name}.lock")):
                    if not so.is_file():
                        compile_shared([project.top_cpp], d / "top.so", compiler=compiler,
                                       include_dirs=[project.dir], opt=opt)
                        publish(d / "top.so", so)
            self.sim = CsimAccelerator(project, compiler=compiler, lib=CsimLibrary(so))
        self.compile_seconds = time.perf_counter() - t

    def run_ints(self, q):
        return self.sim.run(q)

    def stats(self):
        return {"compile_seconds": self.compile_seconds}
