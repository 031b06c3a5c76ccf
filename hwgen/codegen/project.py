"""Everything `hwgen build` generates besides the hardware graph: one call per backend project.

    OUT/hls/     Vitis HLS C++ + Tcl (templates/hls)           hwgen.codegen.hls
    OUT/rtl/     Verilog + ROM files + stitched top (templates/rtl)   hwgen.codegen.rtl
    OUT/vivado/  board project flow (templates/vivado, boards/)      hwgen.codegen.vivado
    OUT/driver/  the PYNQ driver package to copy to the board         hwgen.runtime.driver_writer
    OUT/rtl/hwgen_dma_top.v, OUT/hls/hwgen_dma_top.cpp: the DMA-width board boundary      hwgen.codegen.dma
"""

from __future__ import annotations

from pathlib import Path


def write_generated(out: Path, graph, board) -> dict:
    """Write the backend projects for `graph` into `out`; returns {project: [files]} for the report."""
    from hwgen.codegen.hls import write_project

    out = Path(out)
    files = {}
    hls = write_project(out / "hls", "hwgen_top", list(graph.layers), part=board.part,
                        clock_period_ns=1000.0 / board.clock_mhz)
    files["hls"] = [str(f.relative_to(out)) for f in hls.files]
    from hwgen.codegen.vivado import write_vivado

    files["vivado"] = [str(f.relative_to(out)) for f in write_vivado(out / "vivado", graph, board)]
    files["rtl"] = [str(f.relative_to(out)) for f in __import__("hwgen.codegen.rtl_project", fromlist=["x"]).write_rtl_project(out / "rtl", graph)]  # noqa: E501
    from hwgen.codegen.dma import write_dma_files

    for k, fs in write_dma_files(out, graph, board).items():
        files[k] += [str(f.relative_to(out)) for f in fs]
    from hwgen.runtime.driver_writer import write_driver

    files["driver"] = [str(f.relative_to(out)) for f in write_driver(out, graph, board)]
    return files
