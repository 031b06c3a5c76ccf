"""Write OUT/driver/hwgen_driver: the self-contained package to copy to a PYNQ board with the bitstream.

It holds the driver (hwgen/runtime/driver_pkg), copies of hwgen's own packing, datatype and quantizer modules
(the single implementation of the packing convention, copied, not re-derived), the stream metadata, and the CPU
partitions as JSON + npz for a numpy evaluator (boards may lack onnxruntime).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from hwgen.runtime.driver_pkg.cpu_eval import OPS

PKG = "hwgen_driver"
HERE = Path(__file__).resolve().parent
SHARED_MODULES = ("packing.py", "dtypes.py", "quant.py")


def stream_meta(graph) -> dict:
    d = graph.design()
    i, o = d.input, d.output  # the accelerator's outer streams
    return {
        "input_shape": graph.input_shape,
        "in_features": i.words_per_frame * i.elems_per_word, "out_features": o.words_per_frame * o.elems_per_word,
        "in_dtype": i.dtype.name, "out_dtype": o.dtype.name,
        "in_elems_per_word": i.elems_per_word, "out_elems_per_word": o.elems_per_word,
        "in_words_per_frame": i.words_per_frame, "out_words_per_frame": o.words_per_frame,
    }


def write_driver(out: Path, graph, board) -> list[Path]:
    """The Zynq PYNQ driver; an Alveo build gets none (its xclbin is driven through XRT, not an AXI DMA: see
    OUT/vivado/README.md), so a stale one is removed."""
    from hwgen.codegen.dma import frames_per_call, geometry

    graph = getattr(graph, "single", graph) if hasattr(graph, "islands") else graph
    pkg = Path(out) / "driver" / PKG
    if pkg.exists():
        shutil.rmtree(pkg)
    if board.ps == "none" or graph is None:  # TODO(islands): the driver of a model with several islands
        return []
    pkg.mkdir(parents=True)
    files = []
    # driver_pkg is not a package inside hwgen (its modules import packing etc. relatively, as copied here)
    files.append(Path(shutil.copyfile(HERE / "driver_pkg" / "package_init.py", pkg / "__init__.py")))
    for f in ("__main__.py", "accelerator.py", "cpu_eval.py"):
        files.append(Path(shutil.copyfile(HERE / "driver_pkg" / f, pkg / f)))
    for f in SHARED_MODULES:
        files.append(Path(shutil.copyfile(HERE.parent / f, pkg / f)))
    meta = stream_meta(graph)
    meta.update({"board": board.name, "part": board.part, "clock_mhz": board.clock_mhz, "dma_name": "axi_dma_0",
                 "bitfile": "hwgen_top.bit", "dma_max_bytes": (1 << 26) - 1,
                 "dma": dict(geometry(graph, board.dma_width).as_dict(), frames_multiple=frames_per_call(graph))})
    (pkg / "meta.json").write_text(json.dumps(meta, indent=2))
    files.append(pkg / "meta.json")
    for part in (graph.head, graph.tail):
        desc, consts = part.numpy_desc()
        missing = sorted({n["op"] for n in desc["nodes"]} - OPS)
        desc["unsupported_on_board"] = missing  # reported; the evaluator raises if it meets one
        (pkg / f"{part.role}.json").write_text(json.dumps(desc, indent=1))
        np.savez(pkg / f"{part.role}.npz", **consts)
        files += [pkg / f"{part.role}.json", pkg / f"{part.role}.npz"]
    return files
