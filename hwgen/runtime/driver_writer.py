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
SHARED_MODULES = ("packing.py", "dtypes.py", "quant.py", "evaluator.py")  # the one implementation of each


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


def island_meta(hw, board) -> dict:
    """A hardware island as the driver sees it: its outer streams and its DMA's view of a frame."""
    from hwgen.codegen.dma import frames_per_call, geometry

    meta = stream_meta(hw)
    meta["dma"] = dict(geometry(hw, board.dma_width).as_dict(), frames_multiple=frames_per_call(hw))
    return meta


def _write_piece(pkg: Path, name: str, desc: dict, consts: dict) -> list[Path]:
    desc["unsupported_on_board"] = sorted({n["op"] for n in desc["nodes"]} - OPS)  # reported; the evaluator
    (pkg / f"{name}.json").write_text(json.dumps(desc, indent=1))                 # raises if it meets one
    np.savez(pkg / f"{name}.npz", **consts)
    return [pkg / f"{name}.json", pkg / f"{name}.npz"]


def write_driver(out: Path, graph, board) -> list[Path]:
    """The Zynq PYNQ driver (a one-island model, or islands: one DMA per hardware island); an Alveo build gets
    none (its xclbin is driven through XRT, not an AXI DMA: see OUT/vivado/README.md), so a stale one is
    removed."""
    islands = graph if hasattr(graph, "islands") else None
    single = islands.single if islands is not None else graph
    pkg = Path(out) / "driver" / PKG
    if pkg.exists():
        shutil.rmtree(pkg)
    if board.ps == "none" or (islands is not None and not islands.hw_islands):
        return []
    pkg.mkdir(parents=True)
    files = []
    # driver_pkg is not a package inside hwgen (its modules import packing etc. relatively, as copied here)
    files.append(Path(shutil.copyfile(HERE / "driver_pkg" / "package_init.py", pkg / "__init__.py")))
    for f in ("__main__.py", "accelerator.py", "cpu_eval.py"):
        files.append(Path(shutil.copyfile(HERE / "driver_pkg" / f, pkg / f)))
    for f in SHARED_MODULES:
        files.append(Path(shutil.copyfile(HERE.parent / f, pkg / f)))
    from hwgen.codegen.dma import IslandNames
    from hwgen.codegen.vivado import OUTPUT_NAME

    first = single if single is not None else islands.hw_islands[0]
    meta = island_meta(first, board)
    # the DMA cell names and the bitstream are the block design's (hwgen.codegen.vivado, one for all islands)
    meta.update({"board": board.name, "part": board.part, "clock_mhz": board.clock_mhz,
                 "dma_name": IslandNames(0).dma, "bitfile": f"{OUTPUT_NAME}.bit", "dma_max_bytes": (1 << 26) - 1})
    if single is not None:
        for part in (single.head, single.tail):
            files += _write_piece(pkg, part.role, *part.numpy_desc())
    else:  # islands in order: hardware island k behind axi_dma_<k>, CPU islands on the numpy evaluator
        meta.update(input_shape=islands.input_shape, input_name=islands.input_name,
                    output_name=islands.output_name, islands=[])
        k = 0
        for isl in islands.islands:
            if not hasattr(isl, "layers"):
                files += _write_piece(pkg, isl.name, *isl.numpy_desc())
                meta["islands"].append({"kind": "cpu", "file": isl.name})
                continue
            im = island_meta(isl, board)
            im.update(kind="hw", dma_name=IslandNames(k).dma, dma_max_bytes=(1 << 26) - 1, head=f"hw{k}_head",
                      tail=f"hw{k}_tail", input=isl.input_name, output=isl.output_name)
            files += _write_piece(pkg, f"hw{k}_head", *isl.head.numpy_desc())
            files += _write_piece(pkg, f"hw{k}_tail", *isl.tail.numpy_desc())
            meta["islands"].append(im)
            k += 1
    (pkg / "meta.json").write_text(json.dumps(meta, indent=2))
    files.append(pkg / "meta.json")
    return files
