"""Everything `hwgen build` generates besides the hardware graph: one call per backend project.

    OUT/hls/     Vitis HLS C++ + Tcl (templates/hls)           hwgen.codegen.hls
    OUT/rtl/     Verilog + ROM files + stitched top (templates/rtl)   hwgen.codegen.rtl
    OUT/vivado/  board project flow (templates/vivado, boards/)      hwgen.codegen.vivado
    OUT/rtl/hwgen_dma_top.v, OUT/hls/hwgen_dma_top.cpp + dma_hls.tcl: the DMA-width board boundary  hwgen.codegen.dma
(OUT/driver/, the PYNQ driver package, is written by hwgen.build with hwgen.runtime.driver_writer: the runtime
sits above the code generators.)
"""

from __future__ import annotations

from pathlib import Path


def write_generated(out: Path, graph, board) -> dict:
    """Write the backend projects for `graph` into `out`; returns {project: [files]} for the report."""
    from hwgen.codegen.hls import write_graph_project
    from hwgen.codegen.rtl_project import write_rtl_project

    out = Path(out)
    files = {}
    hls = write_graph_project(out / "hls", graph, "hwgen_top", part=board.part,
                              clock_period_ns=1000.0 / board.clock_mhz)
    files["hls"] = [str(f.relative_to(out)) for f in hls.files]
    from hwgen.codegen.vivado import write_vivado

    files["vivado"] = [str(f.relative_to(out)) for f in write_vivado(out / "vivado", graph, board)]
    files["rtl"] = [str(f.relative_to(out)) for f in write_rtl_project(out / "rtl", graph)]
    from hwgen.codegen.dma import write_dma_files  # the DMA-width board boundary around both tops

    for k, fs in write_dma_files(out, graph, board).items():
        files[k] += [str(f.relative_to(out)) for f in fs]
    return files
