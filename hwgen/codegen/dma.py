"""The board boundary: the accelerator seen from the DMA, and the wrapper that adapts it.

One DMA transfer per batch in each direction. The DMA streams are `beat_bytes` wide (the board's dma_width, a
power of two); a batch in memory is its frames back to back, each frame = the accelerator's input words
(hwgen.packing.pack_bytes layout, `in_word_bytes` each) padded with zero bytes to a whole number of beats. The
output buffer has the same layout. So every frame starts at a beat-aligned offset, every transfer is a whole
number of beats and a buffer from pynq.allocate is always aligned (no DMA realignment engine needed).

TLAST without AXI-Lite: the MM2S DMA raises TLAST on the last beat of its transfer. The wrapper marks the frame
that beat ends ("last frame of the batch") and raises output TLAST on the last beat of that frame's output. So
the S2MM transfer ends exactly after the batch, whatever its size; the driver needs no register besides the DMA's.
TKEEP is ignored on input (the driver only ever sends whole padded beats) and all-ones on output.

`DmaGeometry` holds these numbers; `io_cycles_per_frame` is the least number of clock cycles per frame the DMA
needs (one beat per cycle each way), from which hwgen.build reports `estimate.io_bound_fps` and the folding search
stops at the I/O bound.

Generated files (write_dma_wrapper_rtl / write_dma_top_hls):
    OUT/rtl/hwgen_dma_top.v       templates/rtl/dma_wrapper.v.j2 around the stitched hwgen_top
    OUT/hls/hwgen_dma_top.cpp     templates/hls/dma_top.cpp.j2 around the HLS layers, HLS_FRAMES_PER_CALL frames per
                                  invocation (its fill is amortized); OUT/hls/dma_hls.tcl synthesizes it
The driver pads each batch to a multiple of HLS_FRAMES_PER_CALL (meta.json dma.frames_multiple) for the HLS top;
the RTL wrapper takes any number of frames.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from hwgen import packing
from hwgen.codegen.render import render
from hwgen.errors import HwgenError

DMA_TOP = "hwgen_dma_top"  # the block-design cell's module / HLS top
INNER_TOP = "hwgen_top"  # the accelerator inside it (hwgen.codegen.project)


@dataclass(frozen=True)
class IslandNames:
    """What hardware island k's board boundary is called in the ONE block design (or xclbin) of a model:
    unique per island, so several islands' IPs and Verilog modules share a Vivado project. Island 0 keeps the
    one-island names (hwgen_dma_top around hwgen_top, cell accel, axi_dma_0); island k >= 1 is prefixed hw<k>_
    (its HLS IP: `config_rtl -module_prefix hw<k>_` on every generated module, `-ipname hw<k>_dma_top`; its board
    Verilog: rendered with the tops hw<k>_dma_top / hw<k>_top, whose block modules are hw<k>_top_<node>).
    The island's own directory (OUT/hw<k>/hls, rtl) keeps the plain names its simulators use."""

    k: int

    @property
    def prefix(self) -> str:
        return "" if self.k == 0 else f"hw{self.k}_"

    @property
    def dma_top(self) -> str:  # the block-design cell's module / HLS IP name
        return DMA_TOP if self.k == 0 else f"hw{self.k}_dma_top"

    @property
    def inner(self) -> str:  # the accelerator module inside it (board Verilog)
        return INNER_TOP if self.k == 0 else f"hw{self.k}_top"

    @property
    def cell(self) -> str:
        return "accel" if self.k == 0 else f"accel_{self.k}"

    @property
    def dma(self) -> str:  # the AXI DMA cell, the PYNQ overlay attribute the driver looks up by name
        return f"axi_dma_{self.k}"
DMA_BEAT_WIDTHS = (32, 64, 128, 256, 512, 1024)  # AXI DMA memory-mapped widths = our stream widths


@dataclass(frozen=True)
class DmaGeometry:
    beat_bytes: int
    in_word_bytes: int
    in_words: int
    out_word_bytes: int
    out_words: int

    @property
    def in_frame_bytes(self) -> int:  # payload before padding
        return self.in_words * self.in_word_bytes

    @property
    def out_frame_bytes(self) -> int:
        return self.out_words * self.out_word_bytes

    @property
    def in_frame_beats(self) -> int:
        return -(-self.in_frame_bytes // self.beat_bytes)

    @property
    def out_frame_beats(self) -> int:
        return -(-self.out_frame_bytes // self.beat_bytes)

    @property
    def in_stride(self) -> int:  # bytes per frame in a DMA buffer (padded to whole beats)
        return self.in_frame_beats * self.beat_bytes

    @property
    def out_stride(self) -> int:
        return self.out_frame_beats * self.beat_bytes

    @property
    def io_cycles_per_frame(self) -> int:
        return max(self.in_frame_beats, self.out_frame_beats)

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(in_stride=self.in_stride, out_stride=self.out_stride, in_frame_beats=self.in_frame_beats,
                 out_frame_beats=self.out_frame_beats)
        return d


def check_beat_bits(dma_width: int) -> int:
    if dma_width not in DMA_BEAT_WIDTHS:
        raise HwgenError(f"board dma_width {dma_width} is not an AXI DMA width ({', '.join(map(str, DMA_BEAT_WIDTHS))})"
                         "; fix boards/<board>.yaml")
    return dma_width


def geometry(graph_or_layers, dma_width: int) -> DmaGeometry:
    """The DMA view of a hardware graph (its design's outer streams) or of a folded chain of layers (first
    layer's input words, last layer's output words: what the folding search has)."""
    beat = check_beat_bits(int(dma_width)) // 8
    if hasattr(graph_or_layers, "design"):
        d = graph_or_layers.design()
        i, o = d.input, d.output
        return DmaGeometry(beat, packing.padded_bytes(i.bits), i.words_per_frame, packing.padded_bytes(o.bits),
                           o.words_per_frame)
    layers = list(graph_or_layers)
    first, last = layers[0], layers[-1]
    return DmaGeometry(beat, packing.padded_bytes(first.in_dtype.bits * first.in_elems_per_word()),
                       first.in_words_per_frame(),
                       packing.padded_bytes(last.out_dtype.bits * last.out_elems_per_word()),
                       last.out_words_per_frame())


def io_estimate(geo: DmaGeometry, clock_mhz: float) -> dict:
    """DMA bytes per cycle x clock / padded bytes per frame, each direction; the bound is the smaller."""
    hz = clock_mhz * 1e6
    fin = geo.beat_bytes * hz / geo.in_stride
    fout = geo.beat_bytes * hz / geo.out_stride
    return {"io_bound_fps": min(fin, fout), "io_in_fps": fin, "io_out_fps": fout,
            "io_cycles_per_frame": geo.io_cycles_per_frame, "dma_bytes_per_cycle": geo.beat_bytes,
            "in_frame_bytes_padded": geo.in_stride, "out_frame_bytes_padded": geo.out_stride}


def _clog2(n: int) -> int:
    return max(1, math.ceil(math.log2(max(2, n))))


def wrapper_context(geo: DmaGeometry, inner_in_bits: int, inner_out_bits: int, flags: int, top: str = DMA_TOP,
                    inner: str = INNER_TOP) -> dict:
    """Template values of the gearboxes: beats of W bytes <-> words of K bytes, frames padded to whole beats;
    `flags` batch-end flags in flight (flag_queue_depth); `top` around `inner` (IslandNames)."""
    from hwgen.codegen.rtl import fifo_style

    w, ki, ko = geo.beat_bytes, geo.in_word_bytes, geo.out_word_bytes
    return dict(top=top, inner=inner, W=w, KI=ki, KO=ko, FI=geo.in_words, FO=geo.out_words,
                IN_BITS=inner_in_bits, OUT_BITS=inner_out_bits,
                CI=w + ki, CO=w + ko,  # gearbox buffer capacities in bytes
                NIW=_clog2(w + ki + 1), NOW=_clog2(w + ko + 1), FIW=_clog2(geo.in_words),
                FOW=_clog2(geo.out_words), FLAGS=int(flags), FLAGS_STYLE=fifo_style(int(flags)),
                in_beats=geo.in_frame_beats, out_beats=geo.out_frame_beats)


# Frames per invocation of the HLS DMA top (its processes pay their pipeline fill once per call); the driver
# pads every batch to a multiple of it (the RTL wrapper takes any number of frames).
HLS_FRAMES_PER_CALL = 16

# Words a block holds besides the FIFO on its output stream: its pipeline registers and its 2-word output
# queue (the fixed-depth kinds; a matrix block tells its own, deeper: pipeline_words()).
BLOCK_SLACK_WORDS = 8


def fifo_capacity(depth) -> int:
    """Words a stream's FIFO of `depth` can hold: its depth, one more in the RTL's "ram" style (hwgen_fifo's output
    register; the HLS stream holds exactly its depth, so this bounds both)."""
    from hwgen.codegen.rtl import fifo_style

    d = max(1, int(depth))
    return d + (fifo_style(d) == "ram")


def flag_queue_depth(design) -> int:
    """Depth of the end-of-batch flag queue between a DMA top's input and output gearboxes (one flag per frame,
    written when the input has sent a frame's last word, read for the frame's last output beat): the frames that
    can be in flight between the two, so the queue never throttles the input. One rule for the HLS top
    (templates/hls/dma_top.cpp.j2) and the RTL wrapper (templates/rtl/dma_wrapper.v.j2).

    Bound: a process finishes writing frame f before it reads any word of frame f + 2 (every kind's loop sends a
    frame's last output before it reads the next frame's input), and a stream holds at most its FIFO's depth
    plus what its producer keeps in its pipeline and output queue (BLOCK_SLACK_WORDS, or a matrix block's
    pipeline_words(): its core's deepest pipeline, hwgen.layers.pipeline.max_matrix_words), so a producer can be
    at most 1 + (C + slack) // N frames ahead of its consumer (C: fifo_capacity(D)) on a stream of N words per
    frame. Along any input -> output path the gearboxes are then at most the sum of those terms apart; the
    smallest sum over the paths bounds them (every frame crosses every path). Margin: one more frame per process
    on the path, and 2. A shallower queue would only slow the input (the output never waits for the flag of a
    frame the input has not finished), never deadlock it."""
    into: dict = {}
    for s in design.streams:
        into.setdefault(s.dst, []).append(s)
    memo: dict = {}

    def slack(name) -> int:  # words a producer holds: a matrix block's deeper pipeline counts (pipeline_words)
        words = getattr(design.by_name.get(name), "pipeline_words", None)
        return max(BLOCK_SLACK_WORDS, words() if words else 0)

    def frames_to(node) -> int:  # least frames in flight from the input gearbox to `node` (None: the output)
        if node not in memo:
            memo[node] = min((0 if s.src is None else frames_to(s.src) + 1) + 1
                             + (fifo_capacity(s.depth) + (0 if s.src is None else slack(s.src)))
                             // max(1, int(s.words_per_frame)) for s in into[node])
        return memo[node]

    return frames_to(None) + 2


def write_dma_wrapper_rtl(rtl_dir, graph, dma_width: int, top: str = DMA_TOP, inner: str = INNER_TOP) -> list[Path]:
    """OUT/rtl/hwgen_dma_top.v around the stitched hwgen_top (written by hwgen.codegen.rtl_project; its
    library modules, which the wrapper uses too, are there already); `top` / `inner`: another island's names."""
    from hwgen.codegen.rtl import lib_modules_in, write_lib
    from hwgen.codegen.rtl_project import load_manifest

    rtl_dir = Path(rtl_dir)
    geo = geometry(graph, dma_width)
    m = load_manifest(rtl_dir, inner)
    text = render("rtl/dma_wrapper.v.j2", **wrapper_context(geo, m["in"]["tdata_bits"], m["out"]["tdata_bits"],
                                                            flag_queue_depth(graph.design()), top, inner))
    p = rtl_dir / f"{top}.v"
    p.write_text(text)
    missing = [x for x in lib_modules_in(text) if f"{x}.v" not in m["verilog"]]
    return [p] + write_lib(rtl_dir, missing)


def frames_per_call(graph) -> int:
    """Frames per invocation of the HLS DMA top: HLS_FRAMES_PER_CALL when every node's process takes a frame
    count (each kind says so: HwLayer.hls_frames), else 1 (then each frame pays the processes' pipeline fill)."""
    takes = (getattr(n, "hls_frames", False) for n in graph.design().nodes)
    return HLS_FRAMES_PER_CALL if all(takes) else 1


def write_dma_top_hls(hls_dir, graph, dma_width: int) -> list[Path]:
    """OUT/hls/hwgen_dma_top.cpp: the HLS top the block design uses (see templates/hls/dma_top.cpp.j2): the node
    headers hwgen.codegen.hls wrote, connected like hwgen_top but run for frames_per_call() frames per call."""
    from hwgen.codegen.hls import check_word_widths, design_processes

    hls_dir = Path(hls_dir)
    geo = geometry(graph, dma_width)
    design = graph.design()
    check_word_widths(design)
    k = frames_per_call(graph)
    streams, nodes = design_processes(design, "FRAMES" if k > 1 else "")
    gear_in, gear_out = f"{DMA_TOP}_in", f"{DMA_TOP}_out"
    for s in streams:  # the gearboxes are the processes at the accelerator's ports; a stream carries k frames a call
        s.update(src=gear_in if s["src"] == "in0_V" else s["src"], dst=gear_out if s["dst"] == "out_V" else s["dst"],
                 words=s["words"] * k)
    i, o = design.input, design.output
    procs = ([dict(name=gear_in, call=f"{gear_in}(in0_V, {i.name}, last_q)")]
             + [dict(name=n["name"], call=n["call"]) for n in nodes]
             + [dict(name=gear_out, call=f"{gear_out}({o.name}, last_q, out_V)")])
    text = render("hls/dma_top.cpp.j2", top=DMA_TOP, inner="hwgen_top", W=geo.beat_bytes, K=k,
                  KI=geo.in_word_bytes, KO=geo.out_word_bytes, FI=geo.in_words, FO=geo.out_words,
                  in_beats=geo.in_frame_beats, out_beats=geo.out_frame_beats, LQ=flag_queue_depth(design),
                  in_bits=i.bits, out_bits=o.bits, nodes=nodes, streams=streams, procs=procs,
                  in_stream=i.name, out_stream=o.name)
    p = hls_dir / f"{DMA_TOP}.cpp"
    p.write_text(text)
    return [p]


def write_board_rtl(rtl_dir, graph, dma_width: int, k: int) -> list[Path]:
    """Hardware island k's Verilog for the block design under its unique names (IslandNames): its stitched top
    and the DMA wrapper around it. Island 0's is OUT/rtl itself."""
    from hwgen.codegen.rtl_project import write_rtl_project

    n = IslandNames(k)
    return write_rtl_project(rtl_dir, graph, n.inner) + write_dma_wrapper_rtl(rtl_dir, graph, dma_width, n.dma_top,
                                                                              n.inner)


def write_dma_files(out, graph, board, k: int = 0) -> dict:
    """The board boundary for both flows: {"rtl": [...], "hls": [...]} (OUT/hls/dma_hls.tcl synthesizes it;
    for hardware island k >= 1 into an IP of its unique names, IslandNames)."""
    from hwgen.codegen.hls import render_tcl

    out = Path(out)
    rtl = write_dma_wrapper_rtl(out / "rtl", graph, board.dma_width)
    hls = write_dma_top_hls(out / "hls", graph, board.dma_width)
    headers = sorted(f.name for f in (out / "hls").glob("*.hpp"))
    tcl = out / "hls" / "dma_hls.tcl"
    n = IslandNames(k)
    tcl.write_text(render_tcl(DMA_TOP, board.part, 1000.0 / board.clock_mhz, [f"{DMA_TOP}.cpp"],
                              headers, project_name=f"{DMA_TOP}_hls", module_prefix=n.prefix,
                              ipname=n.dma_top if k else "").replace("hls.tcl", "dma_hls.tcl"))
    return {"rtl": rtl, "hls": hls + [tcl]}
