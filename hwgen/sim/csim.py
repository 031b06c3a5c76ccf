"""C simulation of the generated HLS C++: compile with g++ / clang++ against Xilinx's ap_types, run via ctypes.

Vitis HLS is not needed: the Apache-2.0 `ap_int.h` / `hls_stream.h` headers are found at run time in
`$XILINX_HLS/include` when Vitis is installed, else in the `hls4ml` wheel (`pip install hls4ml`). They are
never copied into the repository.

The generated top has a batch entry point `extern "C" int hwgen_csim_run(const uint8_t* in, uint8_t* out,
int n_frames)` over whole packed byte arrays (hwgen.packing.pack_bytes layout), so Python calls it once per batch.

The top's dataflow region runs as the hardware runs it (templates/hls/hwgen_csim.hpp): its processes
concurrently, as coroutines on the calling thread, every stream a FIFO of its `#pragma HLS STREAM depth` (the
design's depth, the same as the RTL FIFO's), each process running its invocations back to back as a free-running
(ap_ctrl_none) region does, over the whole batch. A deadlock (every unfinished process blocked) is an error naming
each blocked process, the stream it waits on and whether it is full or empty; a stream that does not carry one
frame per frame, or holds words after the last one, is named too.
"""

from __future__ import annotations

import ctypes
import os
import shlex
import subprocess
from pathlib import Path

import numpy as np

from hwgen import packing, proc  # proc: children stopped with hwgen (SIGTERM / Ctrl-C)
from hwgen.errors import InputDataError, ToolError

_CSIM_ERRORS = {
    1: "the design produced fewer output words than expected",
    2: "the design produced more output words than expected",
    3: "TLAST was not set exactly on the last output word of a frame",
    4: "the design did not consume all input words of a frame",
    5: "data was left in an internal stream after the last frame",
    6: "an internal stream did not carry one frame per frame (its producer wrote too few or too many words)",
    7: "the dataflow processes deadlocked",
}


def find_hls_include() -> Path:
    """Directory holding ap_int.h and hls_stream.h: $XILINX_HLS/include, else the hls4ml wheel's ap_types."""
    xil = os.environ.get("XILINX_HLS")
    if xil:
        p = Path(xil) / "include"
        if (p / "ap_int.h").is_file():
            return p
    try:
        import importlib.util

        spec = importlib.util.find_spec("hls4ml")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            base = Path(loc) / "templates"
            for cand in sorted(base.glob("*/ap_types")):  # vivado/ap_types (also used for Vitis)
                if (cand / "ap_int.h").is_file() and (cand / "hls_stream.h").is_file():
                    return cand
    raise ToolError(
        "cannot find the Xilinx ap_types headers (ap_int.h, hls_stream.h): set XILINX_HLS to a Vitis HLS "
        "install, or `pip install hls4ml` (its wheel ships them)"
    )


def _tail(text: str, n: int = 25) -> str:
    lines = text.rstrip().splitlines()
    errs = [ln for ln in lines if " error:" in ln or ln.startswith("error:") or "fatal error" in ln][:5]
    tail = lines[-n:]
    head = [ln for ln in errs if ln not in tail]
    return "\n".join(head + (["..."] if head else []) + tail)


def compile_shared(sources, out_so, compiler: str = "g++", include_dirs=(), defines=None,
                   opt: str = "-O1", extra_flags=(), timeout: float = 900) -> Path:
    """Compile C++ `sources` into the shared library `out_so`. Raises ToolError with the command and the
    compiler's first error lines and last lines of output (file:line of the generated code)."""
    if compiler not in ("g++", "clang++"):
        raise ToolError(f"unsupported C++ compiler {compiler!r}; use g++ or clang++")
    out_so = Path(out_so)
    out_so.parent.mkdir(parents=True, exist_ok=True)
    cmd = [compiler, "-std=c++14", opt, "-fPIC", "-shared", "-w", "-Wno-unknown-pragmas"]
    for d in list(include_dirs) + [find_hls_include()]:
        cmd.append(f"-I{d}")
    for k, v in (defines or {}).items():
        cmd.append(f"-D{k}" if v is None else f"-D{k}={v}")
    cmd += list(extra_flags)
    cmd += [str(s) for s in sources]
    cmd += ["-o", str(out_so)]
    try:
        r = proc.run(cmd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise ToolError(f"C++ compiler {compiler!r} not found (install it: apt-get install g++ / clang)") from None
    except subprocess.TimeoutExpired:
        raise ToolError(f"compilation timed out after {timeout} s:\n  {shlex.join(cmd)}") from None
    if r.returncode != 0:
        raise ToolError(
            f"C simulation build failed ({compiler} exit {r.returncode}):\n  {shlex.join(cmd)}\n"
            + _tail(r.stderr + r.stdout)
        )
    return out_so


class CsimLibrary:
    """A compiled C-simulation shared library; `run()` calls one batch entry point."""

    def __init__(self, so_path):
        self.path = Path(so_path)
        self._lib = ctypes.CDLL(str(self.path.resolve()))

    def run_bytes(self, entry: str, in_buf: np.ndarray, n_frames: int, out_words: int, out_bytes: int,
                  streams=()) -> np.ndarray:
        """in_buf: uint8 (n_frames * in_words, in_bytes). Returns uint8 (n_frames * out_words, out_bytes).
        A failure raises ToolError with the top's own account (it names the streams; `streams` is unused, kept
        for callers)."""
        fn = getattr(self._lib, entry)
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        inb = np.ascontiguousarray(in_buf, dtype=np.uint8)
        out = np.zeros((n_frames * out_words, out_bytes), dtype=np.uint8)
        rc = fn(inb.ctypes.data, out.ctypes.data, int(n_frames))
        if rc != 0:
            raise ToolError(f"C simulation {self.path.name}:{entry} failed: "
                            f"{_CSIM_ERRORS.get(rc, f'return code {rc}')}{self.error_text(entry)}")
        return out

    def error_text(self, entry: str) -> str:
        """What the entry point said about its last failure (hwgen::csim::message()), as ': ...' or ''."""
        try:
            fn = getattr(self._lib, f"{entry}_error")
        except AttributeError:
            return ""
        fn.restype = ctypes.c_char_p
        text = (fn() or b"").decode("utf-8", "replace").strip()
        if "; deepen the FIFO of stream" in text:
            text += " (HwGraph.fifo_depths, or `hwgen build --size-fifos`)"
        return f": {text}" if text else ""


def built_project(hls_dir, graph, top_name: str = "hwgen_top"):
    """The HLS project `hwgen build` wrote into hls_dir (OUT/hls), as an HlsProject to compile; its stream
    formats come from the graph's finished design (the one the top was rendered from)."""
    from hwgen.codegen.hls import HlsProject, StreamIO
    from hwgen.errors import BuildDirError

    d = Path(hls_dir)
    top = d / f"{top_name}.cpp"
    if not top.is_file():
        raise BuildDirError(f"{str(top)!r} is missing: the build directory is incomplete; rebuild it with "
                            "`hwgen build`.")
    design = graph.design()
    i, o = design.input, design.output
    io = StreamIO(i.elems_per_word, i.dtype, i.words_per_frame, o.elems_per_word, o.dtype, o.words_per_frame)
    files = sorted([*d.glob("*.hpp"), top, *d.glob("*.tcl")])
    return HlsProject(d, top_name, [], io, files, list(design.streams))


class CsimAccelerator:
    """Runs a generated HLS project (hwgen.codegen.hls.HlsProject) in C simulation on element values."""

    def __init__(self, project, compiler: str = "g++", so_path=None, lib: CsimLibrary | None = None,
                 entry: str = "hwgen_csim_run", opt: str = "-O1"):
        self.project = project
        self.io = project.io
        self.entry = entry
        if lib is None:
            so = Path(so_path) if so_path else project.dir / f"{project.top_name}_{compiler.replace('+', 'x')}.so"
            compile_shared([project.top_cpp], so, compiler=compiler, include_dirs=[project.dir], opt=opt)
            lib = CsimLibrary(so)
        self.lib = lib

    def run(self, x) -> np.ndarray:
        """x: (n_frames, in_words * in_elems) element values in stream order. Returns (n_frames, out elements)."""
        io = self.io
        x = np.asarray(x)
        per_frame = io.in_words * io.in_elems
        if x.ndim == 1:
            x = x.reshape(1, -1)
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != per_frame:
            raise InputDataError(f"C simulation input has {x.shape[1]} elements per frame, expected {per_frame}")
        if not io.in_dtype.allowed(x):
            raise InputDataError(f"C simulation input values do not fit {io.in_dtype}")
        n = x.shape[0]
        in_buf = packing.pack_bytes(x, io.in_dtype, io.in_elems)
        out_bytes = packing.padded_bytes(io.out_bits)
        out = self.lib.run_bytes(self.entry, in_buf, n, io.out_words, out_bytes, self.project.streams)
        return packing.unpack_bytes(out, io.out_dtype, io.out_elems).reshape(n, -1)


class DmaCsim:
    """The board top OUT/hls/hwgen_dma_top.cpp in C simulation, fed as the board driver feeds it: a batch padded
    with zero frames to a multiple of its frames per invocation, each frame's words packed and padded to whole
    DMA beats, TLAST on the batch's last beat; the padding frames' outputs dropped. `so_path`: where to compile
    (nothing is written into OUT); `defines`: e.g. {"HWGEN_CSIM_AP_ARITH": None} to simulate the ap_int arithmetic
    synthesis sees instead of its native-integer twin (templates/hls/hwgen_native.hpp)."""

    def __init__(self, out_dir, graph, dma_width: int, so_path, compiler: str = "g++", opt: str = "-O2",
                 defines=None):
        from hwgen.codegen.dma import DMA_TOP, frames_per_call, geometry

        hls = Path(out_dir) / "hls"
        self.geo = geometry(graph, dma_width)
        self.frames_per_call = frames_per_call(graph)
        d = graph.design()
        self.inp, self.outp = d.input, d.output
        self.entry = f"{DMA_TOP}_csim_run"
        self.lib = CsimLibrary(compile_shared([hls / f"{DMA_TOP}.cpp"], so_path, compiler=compiler,
                                              include_dirs=[hls], defines=defines, opt=opt))

    def run_ints(self, q) -> tuple[np.ndarray, np.ndarray]:
        """q: (n, input elements) integers. Returns (outputs (n, output elements), TLAST per output beat of the
        padded batch)."""
        geo, k = self.geo, self.frames_per_call
        q = np.asarray(q).reshape(len(q), -1)
        n = len(q)
        n_all = -(-n // k) * k
        words = packing.pack_bytes(q, self.inp.dtype, self.inp.elems_per_word).reshape(n, -1)
        buf = np.zeros((n_all, geo.in_stride), np.uint8)
        buf[:n, :words.shape[1]] = words
        out = np.zeros(n_all * geo.out_stride, np.uint8)
        tlast = np.zeros(n_all * geo.out_frame_beats, np.uint8)
        fn = getattr(self.lib._lib, self.entry)
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_int]
        rc = fn(buf.ctypes.data, out.ctypes.data, tlast.ctypes.data, n_all)
        if rc != 0:
            raise ToolError(f"C simulation {self.lib.path.name}:{self.entry} failed: "
                            f"{_CSIM_ERRORS.get(rc, f'return code {rc}')}{self.lib.error_text(self.entry)}")
        o = out.reshape(n_all, geo.out_stride)
        if o[:, geo.out_frame_bytes:].any():
            raise ToolError(f"C simulation {self.entry}: the beat padding after a frame's output is not zero")
        o = o[:n, :geo.out_frame_bytes].reshape(-1, geo.out_word_bytes)
        y = packing.unpack_bytes(o, self.outp.dtype, self.outp.elems_per_word).reshape(n, -1)
        return y, tlast


def deadlock_free_depths(work, graph, depths: dict, q, log=print, rounds: int = 10) -> tuple[dict, dict]:
    """FIFO depths under which the dataflow C simulation of hwgen_top does not deadlock, from `depths` (what the
    Verilator sizing found: enough for the RTL blocks, whose output registers and queues hold words the HLS
    processes do not). One compiled top whose depths are set per run (hwgen::csim::depths); while it deadlocks,
    the FIFOs the deadlock names (a join's backed-up branch) are doubled; then each FIFO so deepened is bisected
    back to the least depth that runs. Returns (depths, {stream: words added})."""
    from hwgen.codegen.hls import write_graph_project

    work = Path(work)
    project = write_graph_project(work / "csim_sizing", graph)
    lib = CsimLibrary(compile_shared([project.top_cpp], work / "csim_sizing" / "top.so", include_dirs=[project.dir],
                                     opt="-O2"))
    sim = CsimAccelerator(project, lib=lib)
    order = [s.name for s in project.streams]
    set_depths, deepen = lib._lib.hwgen_csim_run_depths, lib._lib.hwgen_csim_run_deepen
    deepen.restype = ctypes.c_char_p
    want = np.asarray(graph.run_layers(q)).reshape(len(q), -1)

    def names_to_deepen(d: dict) -> list:
        set_depths((ctypes.c_uint * len(order))(*[max(1, int(d[k])) for k in order]), len(order))
        try:
            y = sim.run(q)
        except ToolError:
            names = [n for n in (deepen() or b"").decode().split(",") if n]
            if not names:
                raise
            return names
        if not np.array_equal(y, want):
            raise ToolError("FIFO sizing: the C simulation differs from the reference at depths "
                            f"{d}; this is a bug, please report")
        return []

    d = dict(depths)
    for _ in range(rounds):
        names = names_to_deepen(d)
        if not names:
            break
        for k in names:
            d[k] = 2 * d[k] + 1
        log(f"  C simulation deadlocks: deepening {', '.join(f'{k} to {d[k]}' for k in names)}")
    else:
        raise ToolError(f"FIFO sizing: the C simulation still deadlocks after {rounds} deepenings (depths {d})")
    for k in [k for k in order if d[k] > depths[k]]:  # back down, each to the least depth that runs
        lo, hi = depths[k], d[k]
        while lo < hi:
            mid = (lo + hi) // 2
            if names_to_deepen(dict(d, **{k: mid})):
                lo = mid + 1
            else:
                hi = mid
        d[k] = lo
    set_depths(None, 0)
    added = {k: d[k] - depths[k] for k in order if d[k] != depths[k]}
    if added:
        log(f"  C simulation: deepened {', '.join(f'{k} by {v}' for k, v in added.items())}")
    return d, added
