"""Everything `hwgen build` generates besides the hardware graph: one call per backend project.

    OUT/hls/     Vitis HLS C++ + Tcl (templates/hls)           hwgen.codegen.hls
    OUT/rtl/     Verilog + ROM files + stitched top (templates/rtl)   hwgen.codegen.rtl
    OUT/rtl/hwgen_dma_top.v, OUT/hls/hwgen_dma_top.cpp + dma_hls.tcl: the DMA-width board boundary  hwgen.codegen.dma
one call per hardware island (island k >= 1 in OUT/hw<k>/). The board project flow of the whole model, OUT/vivado/
(templates/vivado, boards/: one block design with every hardware island), is written once by hwgen.build with
hwgen.codegen.vivado.write_vivado; OUT/driver/, the PYNQ driver package, by hwgen.build with
hwgen.runtime.driver_writer (the runtime sits above the code generators).
"""

from __future__ import annotations

from pathlib import Path


def write_generated(out: Path, graph, board, k: int = 0) -> dict:
    """Write the backend projects for `graph` (hardware island k) into `out`; returns {project: [files]} for the
    report."""
    from hwgen.codegen.hls import write_graph_project
    from hwgen.codegen.rtl_project import write_rtl_project

    out = Path(out)
    files = {}
    hls = write_graph_project(out / "hls", graph, "hwgen_top", part=board.part,
                              clock_period_ns=1000.0 / board.clock_mhz)
    files["hls"] = [str(f.relative_to(out)) for f in hls.files]
    files["rtl"] = [str(f.relative_to(out)) for f in write_rtl_project(out / "rtl", graph)]
    from hwgen.codegen.dma import write_dma_files  # the DMA-width board boundary around both tops

    for k, fs in write_dma_files(out, graph, board, k).items():
        files[k] += [str(f.relative_to(out)) for f in fs]
    return files
