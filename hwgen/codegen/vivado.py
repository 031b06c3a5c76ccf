"""Board projects: the Vivado block-design flow (Zynq) or the Vitis `v++` link (Alveo) around the accelerator.

`write_vivado(out_dir, graph, board)` writes OUT/vivado/ from templates/vivado/:

Zynq boards (board.ps = ps7 | zynq_ultra_ps_e):
    build.sh     the user's one command: checks vivado (and vitis_hls) on PATH, runs build.tcl in batch mode
    build.tcl    runs Vitis HLS on OUT/hls/hls.tcl and imports the exported IP (or, with --rtl, adds OUT/rtl/*.v as a
                 module reference), creates the project for the board's part, builds the block design
                 (PS, AXI DMA without scatter-gather, SmartConnects for control and memory, PS clock at the board
                 clock, proc_sys_reset, xlconcat interrupts into the PS), validates, synthesizes, implements and
                 copies hwgen_top.bit / hwgen_top.hwh (+ .xsa, timing and utilization reports) into OUT/vivado/output/
                 and into the PYNQ driver package OUT/driver/hwgen_driver/ (its meta.json names the DMA cell
                 axi_dma_0 and the bitfile hwgen_top.bit: DMA_CELL, OUTPUT_NAME here)
    README.md    tools, time, outputs, how to copy them to the board
Alveo boards (board.ps = none, board.platform set):
    build.sh     v++ -c for three kernels, v++ -l with link.cfg -> output/hwgen_top.xclbin
    link.cfg     [connectivity] nk / stream_connect, platform name, kernel clock
    kernels/     hwgen_accel.cpp (the HLS top as a free-running ap_ctrl_none AXI4-Stream kernel),
                 hwgen_idma.cpp / hwgen_odma.cpp (memory-mapped <-> AXI4-Stream data movers, XRT-controlled)
    README.md

Stream widths: the DMA streams and its memory-mapped ports are all the board's dma_width (a power of two). The
accelerator cell is hwgen_dma_top (hwgen.codegen.dma: OUT/rtl/hwgen_dma_top.v for --rtl, OUT/hls/hwgen_dma_top.cpp
via OUT/hls/dma_hls.tcl otherwise), which converts between DMA beats and the layers' words itself, so the block
design has no axis_dwidth_converter (no non-integer width ratio can arise). Buffers: frames back to back, each
padded with zeros to whole beats (hwgen.codegen.dma.DmaGeometry); one transfer per batch each way.

Every identifier written into Tcl / shell / cfg text comes from this module's constants, sanitized board names
(hwgen.naming.sanitize), integers, or validated part / platform strings; nothing from the ONNX model reaches them.
"""

from __future__ import annotations

import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from hwgen import packing
from hwgen.codegen.render import render
from hwgen.errors import HwgenError
from hwgen.naming import IDENT, comment_safe, sanitize

TOP = "hwgen_top"  # the accelerator's top (HLS function and RTL module), fixed by hwgen.codegen.project
HLS_PROJECT, HLS_SOLUTION = f"{TOP}_hls", "sol1"  # hwgen.codegen.hls.render_tcl defaults
BD_NAME = "hwgen_bd"
OUTPUT_NAME = "hwgen_top"  # output/hwgen_top.bit + .hwh (PYNQ wants one stem; the driver's default bitfile)
DMA_CELL = "axi_dma_0"  # the PYNQ overlay attribute the driver (OUT/driver, meta.json dma_name) uses
DMA_STREAM_WIDTHS = (8, 16, 32, 64, 128, 256, 512, 1024)
DMA_MM_WIDTHS = (32, 64, 128, 256, 512, 1024)
ZYNQ_PS = {"ps7", "zynq_ultra_ps_e"}

# Board-file ids (the middle field of a Vivado board_part VLNV), matched as `*:<id>:*` at run time; when the
# board files are not installed the flow uses the bare part and configures the PS itself.
BOARD_FILE_IDS = {
    "pynq-z1": "pynq-z1",
    "pynq-z2": "pynq-z2",
    "ultra96-v2": "ultra96v2",
    "zcu102": "zcu102",
    "zcu104": "zcu104",
    "kv260": "kv260_som",
    "aup-zu3": "aup-zu3*",
}
_PART = re.compile(r"^[A-Za-z0-9_.\-]+$")
_BOARD_ID = re.compile(r"^[A-Za-z0-9_.\-*]+$")


@dataclass(frozen=True)
class StreamPlan:
    """AXI4-Stream widths (bits) between the DMA (or the Alveo data movers) and the accelerator."""

    in_bits: int  # accelerator in0_V TDATA (padded to bytes)
    out_bits: int  # accelerator out_V TDATA
    in_words: int  # words per frame
    out_words: int
    dma_in_bits: int  # DMA MM2S stream
    dma_out_bits: int  # DMA S2MM stream
    mm_bits: int  # DMA memory-mapped data width

    @property
    def in_bytes(self) -> int:
        return self.in_bits // 8

    @property
    def out_bytes(self) -> int:
        return self.out_bits // 8

    # no Xilinx width converter in the block design: hwgen_dma_top converts (kept for callers that ask)
    in_converter = False
    out_converter = False


def accelerator_io(graph_or_layers):
    """(in TDATA bits, out TDATA bits, in words/frame, out words/frame) of the generated top, padded to bytes."""
    if hasattr(graph_or_layers, "design"):
        d = graph_or_layers.design()
    else:  # a chain of layers
        from hwgen.codegen.hls import ChainGraph
        from hwgen.transforms.streams import finish

        d = finish(ChainGraph(list(graph_or_layers)))
    i, o = d.input, d.output
    return (packing.padded_bytes(i.bits) * 8, packing.padded_bytes(o.bits) * 8, i.words_per_frame,
            o.words_per_frame)


def stream_plan(in_bits: int, out_bits: int, in_words: int, out_words: int, dma_width: int) -> StreamPlan:
    """Every DMA width is the board's dma_width: hwgen_dma_top adapts the accelerator's words to it."""
    if dma_width not in DMA_MM_WIDTHS:
        raise HwgenError(f"board dma_width {dma_width} is not an AXI DMA memory-mapped width "
                         f"({', '.join(map(str, DMA_MM_WIDTHS))})")
    return StreamPlan(in_bits, out_bits, in_words, out_words, dma_width, dma_width, dma_width)


ALVEO_MM_BITS = 512  # the data movers' memory-mapped width (one DDR / HBM beat)


@dataclass(frozen=True)
class AlveoSlot:
    """Host-buffer layout of one stream word for the Alveo data movers: every word in a slot of `bytes` bytes
    (zero padded), slots back to back; `per_beat` words share one 512-bit beat, or a word spans `beats` beats."""

    bytes: int
    per_beat: int
    beats: int


def alveo_slot(word_bytes: int) -> AlveoSlot:
    beat = ALVEO_MM_BITS // 8
    if word_bytes <= beat:
        slot = 1 << max(0, (word_bytes - 1).bit_length())
        return AlveoSlot(slot, beat // slot, 1)
    beats = -(-word_bytes // beat)
    return AlveoSlot(beats * beat, 1, beats)


def _check_part(s: str, what: str) -> str:
    if not isinstance(s, str) or not _PART.match(s):
        raise HwgenError(f"{what} {s!r} has unexpected characters (expected [A-Za-z0-9_.-])")
    return s


def _executable(p: Path):
    p.chmod(p.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@dataclass(frozen=True)
class BoardIsland:
    """Hardware island k in the board project: its names (hwgen.codegen.dma.IslandNames), its stream plan and
    DMA geometry, and where its sources are, relative to OUT."""

    names: object  # IslandNames
    p: StreamPlan
    geo: object  # DmaGeometry
    hls_dir: str  # hls, hw<k>/hls
    rtl_dir: str  # rtl, vivado/rtl_hw<k> (its board Verilog under its unique names)
    alveo_kernels: tuple  # (idma, accel, odma) kernel names
    alveo_cus: tuple  # their compute units

    @property
    def frame_in_bytes(self) -> int:
        return self.p.in_words * self.p.in_bytes

    @property
    def frame_out_bytes(self) -> int:
        return self.p.out_words * self.p.out_bytes


def board_islands(graph, board) -> list[BoardIsland]:
    """Every hardware island of `graph` (an hwgen.islands.IslandGraph, or one HwGraph) as the board sees it."""
    from hwgen.codegen.dma import IslandNames, geometry

    hws = graph.hw_islands if hasattr(graph, "hw_islands") else [graph]
    out = []
    for k, hw in enumerate(hws):
        n = IslandNames(k)
        plan = stream_plan(*accelerator_io(hw), int(board.dma_width))
        pre = "hwgen" if k == 0 else f"hw{k}"
        out.append(BoardIsland(n, plan, geometry(hw, plan.mm_bits), "hls" if k == 0 else f"hw{k}/hls",
                               "rtl" if k == 0 else f"vivado/rtl_hw{k}",
                               (f"{pre}_idma", f"{pre}_accel", f"{pre}_odma"), (f"idma{k}", f"accel{k}", f"odma{k}")))
    return out


def write_vivado(out_dir, graph, board) -> list[Path]:
    """Write the board project flow for `board` (hwgen.boards.Board) into out_dir (OUT/vivado): one block design
    (or xclbin) holding every hardware island of `graph` (an IslandGraph, or one HwGraph), each island its own
    accelerator and DMA pair. Returns the files."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hws = graph.hw_islands if hasattr(graph, "hw_islands") else [graph]
    if not hws:
        raise HwgenError("the model has no hardware island: there is no board project to write")
    islands = board_islands(graph, board)
    plan = islands[0].p
    board_id = sanitize(board.name)
    part = _check_part(board.part, "FPGA part")
    clock = float(board.clock_mhz)
    if not 1.0 <= clock <= 1000.0:
        raise HwgenError(f"board {board.name}: clock_mhz {board.clock_mhz!r} out of range")
    ctx = dict(board=board_id, board_title=comment_safe(board.description or board_id), part=part, ps=board.ps,
               family=board.family, clock_mhz=f"{clock:g}", top=TOP, bd=BD_NAME, output=OUTPUT_NAME, dma=DMA_CELL,
               hls_project=HLS_PROJECT, hls_solution=HLS_SOLUTION, p=plan, islands=islands,
               frame_in_bytes=plan.in_words * plan.in_bytes, frame_out_bytes=plan.out_words * plan.out_bytes)
    for k in ("board", "top", "bd", "output", "dma", "hls_project", "hls_solution"):
        assert IDENT.match(ctx[k]), k
    for isl in islands:
        n = isl.names
        for x in (n.dma_top, n.inner, n.cell, n.dma, *isl.alveo_kernels, *isl.alveo_cus):
            assert IDENT.match(x), x
    for stale in out.glob("rtl_hw*"):  # a previous build's islands
        shutil.rmtree(stale)
    files = []
    if board.ps in ZYNQ_PS:
        from hwgen.codegen.dma import DMA_TOP, write_board_rtl

        ctx.update(accel=DMA_TOP, geo=islands[0].geo, hls_project=f"{DMA_TOP}_hls")
        fid = BOARD_FILE_IDS.get(board.name, board_id)
        if not _BOARD_ID.match(fid):
            raise HwgenError(f"board file id {fid!r} has unexpected characters")
        ctx.update(board_file_id=fid, addr_width=32 if board.ps == "ps7" else 64)
        for isl, hw in zip(islands[1:], hws[1:]):  # island 0's board Verilog is OUT/rtl itself
            files += write_board_rtl(out / f"rtl_hw{isl.names.k}", hw, plan.mm_bits, isl.names.k)
        for name, tpl in (("build.tcl", "vivado/zynq_build.tcl.j2"), ("build.sh", "vivado/zynq_build.sh.j2"),
                          ("README.md", "vivado/zynq_README.md.j2")):
            (out / name).write_text(render(tpl, **ctx))
            files.append(out / name)
    elif board.ps == "none" and board.family == "alveo":
        platform = _check_part(board.platform or "", "Vitis platform")
        ctx.update(platform=platform, clock_hz=int(round(clock * 1e6)), mm_bits=ALVEO_MM_BITS,
                   islot=alveo_slot(plan.in_bytes), oslot=alveo_slot(plan.out_bytes))
        (out / "kernels").mkdir(exist_ok=True)
        for stale in (out / "kernels").glob("*.cpp"):
            stale.unlink()
        for name, tpl in (("build.sh", "vivado/alveo_build.sh.j2"), ("link.cfg", "vivado/alveo_link.cfg.j2"),
                          ("README.md", "vivado/alveo_README.md.j2")):
            (out / name).write_text(render(tpl, **ctx))
            files.append(out / name)
        for isl in islands:  # each island's three kernels, under its own names
            kctx = dict(ctx, p=isl.p, islot=alveo_slot(isl.p.in_bytes), oslot=alveo_slot(isl.p.out_bytes),
                        kernel_idma=isl.alveo_kernels[0], kernel_accel=isl.alveo_kernels[1],
                        kernel_odma=isl.alveo_kernels[2], isl_hls=isl.hls_dir)
            for kern, tpl in zip(isl.alveo_kernels, ("vivado/alveo_idma.cpp.j2", "vivado/alveo_accel.cpp.j2",
                                                     "vivado/alveo_odma.cpp.j2")):
                f = out / "kernels" / f"{kern}.cpp"
                f.write_text(render(tpl, **kctx))
                files.append(f)
    else:
        raise HwgenError(f"board {board.name}: no project flow for family {board.family!r} with ps {board.ps!r} "
                         "(known: ps7, zynq_ultra_ps_e, or an Alveo platform)")
    _executable(out / "build.sh")
    return files
