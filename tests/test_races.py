"""Issue 19: a run racing a rebuild of its build directory reads one build, and its measured figures go only to
the build they were measured on.

OUT is rebuilt (the real swap of hwgen.outdir.staged_build: a complete new directory renamed over OUT) at every
point of a run in turn: while the run opens OUT (after its k-th file), before the simulator is built, before the
simulation, before the figures are recorded, and from a thread rebuilding OUT continuously during the run. The
two designs have the same Verilog and different weights (the digits MLP, and a copy with its last hardware
layer's weight rows reversed), so a run that mixed them (the old rtlsim read the .mem weights from OUT at
simulation time) gives outputs that are neither design's. Each run's outputs must equal the reference outputs of
the build whose graph it loaded, 50 times for rtlsim and for csim; the report race uses two foldings of one model
(different measured figures) and checks that OUT's summary.json only ever holds the figures of the build OUT is.

The cache tests inject a rebuild between computing a cache key and compiling, and prove the entry holds what its
key names: the compiler read the bytes the key was computed from, and the library / model computes the design the
key names.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from hwgen.build import build
from hwgen.manifest import MANIFEST
from hwgen.outdir import staged_build
from hwgen.runtime.accelerator import Accelerator

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "examples" / "digits"
ITERATIONS = 50


def digits_x(n):
    d = np.load(DIGITS / "digits_test.npz")
    return (d["X_test"][:n] / 16.0).astype(np.float32)


def graph_key(graph) -> str:
    """What identifies a design: every layer's folding and arrays."""
    h = hashlib.sha256()
    for layer in graph.layers:
        h.update(f"{layer.name} {layer.pe} {layer.simd}".encode())
        for k, v in sorted(layer.arrays().items()):
            h.update(k.encode() + np.ascontiguousarray(v).tobytes())
    return h.hexdigest()


def rebuild(out: Path, src: Path) -> None:
    """What `hwgen build` does to OUT: a complete new directory (new manifest and build id) renamed over OUT."""
    with staged_build(out, log=None) as work:
        for f in src.rglob("*"):
            rel = f.relative_to(src)
            if f.is_file() and rel.as_posix() != MANIFEST:
                (work / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, work / rel)


@pytest.fixture(scope="module")
def designs(tmp_path_factory):
    """A (digits MLP), B (MVAU_1's weight rows reversed: same Verilog, other weights), C (A folded otherwise).
    (The last Gemm, net.7, runs on the CPU: qonnx's float32 sum of it rounds.)"""
    d = tmp_path_factory.mktemp("races")
    m = onnx.load(DIGITS / "digits_mlp_w2a2.onnx")
    for init in m.graph.initializer:
        if init.name == "net.4.weight":
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init)[::-1].copy(), init.name))
    onnx.save(m, d / "b.onnx")
    build(DIGITS / "digits_mlp_w2a2.onnx", d / "A", log=None)
    build(d / "b.onnx", d / "B", log=None)
    build(DIGITS / "digits_mlp_w2a2.onnx", d / "C", target_fps=100000, log=None)
    for v in sorted((d / "A" / "rtl").glob("*.v")):  # the premise: only the weights differ
        assert v.read_bytes() == (d / "B" / "rtl" / v.name).read_bytes()
    x = digits_x(6)
    refs, keys = {}, {}
    for name in "ABC":
        acc = Accelerator(d / name)
        keys[graph_key(acc.graph)] = name
        refs[name] = acc.execute(x)
    assert not np.array_equal(refs["A"], refs["B"])
    return {"dir": d, "x": x, "refs": refs, "keys": keys}


class Injector:
    """Rebuild OUT into `other` once, at the n-th call of a wrapped function; in the background when the caller
    holds OUT (a run copying it: the rebuild then waits for the copy, as a rebuild from another process does)."""

    def __init__(self, out: Path, other: Path, at: int = 0, background: bool = False):
        self.out, self.other, self.at, self.calls, self.done = out, other, at, 0, False
        self.background, self.thread = background, None

    def wrap(self, fn):
        def wrapped(*a, **kw):
            if not self.done and self.calls >= self.at:
                self.done = True
                if self.background:
                    self.thread = threading.Thread(target=rebuild, args=(self.out, self.other), daemon=True)
                    self.thread.start()
                    time.sleep(0.05)  # the rebuild is on its way while the copy goes on
                else:
                    rebuild(self.out, self.other)
            self.calls += 1
            return fn(*a, **kw)
        return wrapped

    def join(self):
        if self.thread is not None:
            self.thread.join()


class Rebuilder(threading.Thread):
    """Rebuilds OUT alternately from two sources until stopped."""

    def __init__(self, out, sources):
        super().__init__(daemon=True)
        self.out, self.sources, self.stop, self.count = out, itertools.cycle(sources), threading.Event(), 0

    def run(self):
        while not self.stop.is_set():
            rebuild(self.out, next(self.sources))
            self.count += 1
            time.sleep(0.01)


def _hook_points(backend):
    """(name, module, attribute) wrapped to inject a rebuild; cycled through by the loops."""
    import hwgen.sim.csim as csim
    import hwgen.sim.network_harness as harness
    import hwgen.snapshot as snapshot

    points = [("while opening OUT", snapshot, "_copy_one")]
    if backend == "rtlsim":
        points += [("before the simulator is built", harness, "build_network_harness"),
                   ("before the simulation", harness, "run_network_harness"),
                   ("before the figures are recorded", snapshot.BuildSnapshot, "record")]
    else:
        points += [("before the C++ is read", csim, "built_project"),
                   ("before the library is loaded", csim, "CsimLibrary")]
    return points + [("rebuilt continuously", None, None)]


@contextlib.contextmanager
def rebuild_during(monkeypatch, point, i: int, out: Path, first: Path, other: Path):
    """OUT (now `first`) rebuilt into `other` at hook `point` of what runs in the block; the k-th file of the
    opening when the hook is the opening's file copy (k cycling), or continuously from a thread (no hook)."""
    _, where, attr = point
    with monkeypatch.context() as mp:
        thread = injector = None
        if attr == "none":  # the control: not rebuilt
            pass
        elif where is None:
            thread = Rebuilder(out, [other, first])
            thread.start()
        else:
            opening = attr == "_copy_one"
            injector = Injector(out, other, (i // 6) % 4 if opening else 0, background=opening)
            mp.setattr(where, attr, injector.wrap(getattr(where, attr)))
        try:
            yield
        finally:
            if thread is not None:
                thread.stop.set()
                thread.join()
            if injector is not None:
                injector.join()


def _race(designs, backend, tmp_path, monkeypatch, iterations=ITERATIONS):
    d, x, refs, keys = designs["dir"], designs["x"], designs["refs"], designs["keys"]
    out = tmp_path / "race out"
    shutil.copytree(d / "A", out)
    points = _hook_points(backend)
    mixed, seen = [], {"A": 0, "B": 0}
    for i in range(iterations):
        name = points[i % len(points)][0]
        first, other = ("A", "B") if i % 2 == 0 else ("B", "A")
        rebuild(out, d / first)
        with rebuild_during(monkeypatch, points[i % len(points)], i, out, d / first, d / other):
            acc = Accelerator(out, backend)
            y = acc.execute(x)
        got = keys.get(graph_key(acc.graph))  # the build this run loaded
        seen[got] += 1
        if not np.array_equal(y, refs[got]):
            mixed.append(f"iteration {i} ({name}): {backend} outputs are not those of build {got}")
    assert not mixed, f"{len(mixed)} of {iterations} runs mixed two builds:\n" + "\n".join(mixed)
    assert seen["A"] and seen["B"], seen  # the rebuild did land before some runs and after others


def test_rtlsim_run_racing_rebuilds_reads_one_build(designs, tmp_path, monkeypatch):
    _race(designs, "rtlsim", tmp_path, monkeypatch)


def test_csim_run_racing_rebuilds_reads_one_build(designs, tmp_path, monkeypatch):
    _race(designs, "csim", tmp_path, monkeypatch)


@pytest.fixture(scope="module")
def figures(designs, tmp_path_factory):
    """The rtlsim figures a full-rate run of designs["x"] records into A's and C's own reports."""
    figs = {}
    for name in "AC":
        out = tmp_path_factory.mktemp("figs") / name
        shutil.copytree(designs["dir"] / name, out)
        Accelerator(out, "rtlsim").execute(designs["x"])
        figs[name] = json.loads((out / "report" / "summary.json").read_text())["rtlsim"]
    assert figs["A"]["cycles_per_frame"] != figs["C"]["cycles_per_frame"]  # the two can be told apart
    return figs


def test_rtlsim_figures_land_only_in_the_build_measured(designs, figures, tmp_path, monkeypatch, recwarn):
    d, x = designs["dir"], designs["x"]
    out = tmp_path / "report out"
    points = _hook_points("rtlsim") + [("not rebuilt", None, "none")]  # the figures must land then
    graphs = {(d / n / "hwgraph.json").read_bytes(): n for n in "AC"}
    wrong, recorded = [], 0
    for i in range(ITERATIONS):
        name = points[i % len(points)][0]
        first, other = ("A", "C") if i % 2 == 0 else ("C", "A")
        rebuild(out, d / first)  # a fresh build: no figures in its report yet
        with rebuild_during(monkeypatch, points[i % len(points)], i, out, d / first, d / other):
            Accelerator(out, "rtlsim").execute(x)
        now = graphs[(out / "hwgraph.json").read_bytes()]  # the build OUT is after the run
        s = json.loads((out / "report" / "summary.json").read_text())
        if "rtlsim" in s:
            recorded += 1
            if s["rtlsim"] != figures[now]:
                wrong.append(f"iteration {i} ({name}): {now}'s report holds another build's figures")
    assert not wrong, f"{len(wrong)} of {ITERATIONS} reports wrong:\n" + "\n".join(wrong)
    assert recorded >= ITERATIONS // len(points), f"only {recorded} runs recorded their figures"


# --- caches: a rebuild between the key and the compile -------------------------------------------------------

def test_csim_cache_entry_holds_what_its_key_names(designs, tmp_path, monkeypatch):
    """The csim library's key is computed, then OUT (here a plain directory the backend reads directly, without
    a snapshot) is rebuilt into another design, then the compiler runs: it must compile the bytes the key names."""
    import hwgen.sim.csim as csim
    from hwgen.graph import HwGraph
    from hwgen.runtime.backends import CsimBackend, library_key, read_sources

    d = designs["dir"]
    monkeypatch.setenv("HWGEN_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "plain"
    shutil.copytree(d / "A", out)
    # a header dropped beside the generated C++ is neither in the key nor seen by the compiler
    (out / "hls" / "ap_int.h").write_text('#error "a header that is not the build\'s shadowed the real one"\n')
    graph = HwGraph.load(d / "A")
    project = csim.built_project(out / "hls", graph)
    a_sources = read_sources(project.top_cpp, project.files)
    compiled = {}
    real = csim.compile_shared

    def compile_after_a_rebuild(sources, out_so, include_dirs=(), **kw):
        shutil.rmtree(out / "hls")
        shutil.copytree(d / "B" / "hls", out / "hls")  # the other design's C++ now where the key was read
        src = Path(include_dirs[0])
        compiled.update({p.relative_to(src).as_posix(): p.read_bytes() for p in src.rglob("*") if p.is_file()})
        return real(sources, out_so, include_dirs=include_dirs, **kw)

    monkeypatch.setattr(csim, "compile_shared", compile_after_a_rebuild)
    be = CsimBackend(out, graph)
    assert compiled == a_sources, "the compiler read other bytes than those the key was computed from"
    key = library_key("hwgen_top.cpp", a_sources, "g++", "-O2")
    libs = list((tmp_path / "cache" / "csim").glob("*.so"))
    assert [p.name for p in libs] == [f"hwgen_top-gxx-{key}.so"]
    q = graph.head_ints(designs["x"])
    np.testing.assert_array_equal(be.run_ints(q), graph.run_layers(q))  # the library computes design A
    # design B (now in `out`) gets its own entry, computing B
    monkeypatch.setattr(csim, "compile_shared", real)
    graph_b = HwGraph.load(d / "B")
    np.testing.assert_array_equal(CsimBackend(out, graph_b).run_ints(q), graph_b.run_layers(q))
    assert len(list((tmp_path / "cache" / "csim").glob("*.so"))) == 2


TINY_V = "module tiny(input [7:0] a, output [7:0] y);\n  assign y = a + 8'd{k};\nendmodule\n"
TINY_CPP = """#include "Vtiny.h"
#include <cstdio>
int main() { Vtiny t; t.a = 5; t.eval(); std::printf("%d\\n", (int)t.y); return 0; }
"""


@pytest.mark.slow
def test_verilator_cache_entry_holds_what_its_key_names(tmp_path, monkeypatch):
    """The model's key is computed from the Verilog, then the source is replaced by another design's, then
    Verilator runs: it must build the bytes the key names (a design computing a + 1, replaced by a + 2)."""
    import subprocess

    import hwgen.sim.verilator as verilator
    from hwgen.sim.verilator_cache import cached_harness

    src = tmp_path / "tiny.v"
    src.write_text(TINY_V.format(k=1))
    built = {}
    real = verilator.run_tool

    def tool_after_a_rebuild(cmd, cwd=None, **kw):
        if "--build" in cmd and not built:
            src.write_text(TINY_V.format(k=2))  # the other design where the key was read
            built.update({p.name: p.read_text() for p in (Path(cwd) / "src").iterdir()})
        return real(cmd, cwd=cwd, **kw)

    monkeypatch.setattr(verilator, "run_tool", tool_after_a_rebuild)
    args = ["--cc", "--exe", "--build", "-O1", "--prefix", "Vtiny", "--top-module", "tiny", "-j", "2",
            "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include"]
    cache = tmp_path / "vcache"
    exe, rebuilt = cached_harness(TINY_CPP, args, [src], "tiny", cache_dir=cache)
    assert rebuilt and built == {"tiny.v": TINY_V.format(k=1)}, "Verilator built other bytes than the key's"
    assert subprocess.run([str(exe)], capture_output=True, text=True).stdout.strip() == "6"  # a + 1: design 1
    src.write_text(TINY_V.format(k=1))  # design 1's bytes again: the key they name is the entry just built
    assert cached_harness(TINY_CPP, args, [src], "tiny", cache_dir=cache) == (exe, False)
    src.write_text(TINY_V.format(k=2))  # design 2 has its own entry, computing a + 2
    monkeypatch.setattr(verilator, "run_tool", real)
    exe2, rebuilt2 = cached_harness(TINY_CPP, args, [src], "tiny", cache_dir=cache)
    assert rebuilt2 and exe2 != exe
    assert subprocess.run([str(exe2)], capture_output=True, text=True).stdout.strip() == "7"
