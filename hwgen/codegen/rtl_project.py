"""The stitched RTL design of a hardware graph: OUT/rtl/.

    write_rtl_project(out_dir, graph) -> [paths]

writes, into out_dir (OUT/rtl/ in a build):
  <top>_<layer>.v + .mem   one block per layer (templates/rtl/<kind>.v.j2 via hwgen.codegen.rtl.write_block)
  <top>__dwc<i>.v          data-width converters where a layer's output word carries a different number of
                           elements than the next layer's input word (two, up to the lcm then down, when neither
                           count divides the other)
  <top>__fifo<i>.v         a FIFO in front of every layer but the first (depth: fifo_depth())
  <top>.v                  the top (templates/rtl/top.v.j2): ap_clk, ap_rst_n, AXI4-Stream in0_V_* / out_V_*
                           with out_V_TLAST on the last word of every frame; with `define HWGEN_MONITOR also
                           mon_valid / mon_ready (TVALID / TREADY of every internal stream, for the simulator)
  <top>.json               the manifest: files, stages, streams (name, producer, words per frame) and the
                           outside stream formats; hwgen.runtime.rtlsim and hwgen.sim.yosys read it
  <top>.f                  the Verilog file list (top first)

Module names are `<top>_<layer name>` (layer names are sanitized identifiers without "__") and
`<top>__fifo<i>` / `<top>__dwc<i>`, so they never collide with each other or with Verilog keywords. The ROM files
are read relative to the simulator's / synthesis tool's working directory: run from out_dir.

FIFO depth rule (issue 6 will size them from simulation): an MVAU reads its whole input vector (SF = MW/SIMD
words) during its first output fold and nothing during the other NF-1 folds, so the FIFO in front of it holds
SF + 2 words: a rate-matched producer then never blocks while the consumer works through its later folds. A label
select reads a whole frame before it answers (C/PE + 2); anything else gets 2 words.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from hwgen.codegen.render import render
from hwgen.codegen.rtl import _clog2, stream_widths, write_block
from hwgen.errors import UnsupportedModelError

KIND = {"MVAU": "mvau", "Thresholding": "thresholding", "LabelSelect": "label_select"}


def fifo_depth(consumer) -> int:
    """Words of the FIFO in front of `consumer` (see the module docstring)."""
    if consumer.op == "MVAU":
        return max(2, consumer.mw // consumer.simd + 2)
    if consumer.op == "LabelSelect":
        return max(2, consumer.in_words_per_frame() + 2)
    return 2


def layer_block(layer, top: str = "hwgen_top") -> tuple[str, dict]:
    """(RTL kind, params) of a layer's block, module name `<top>_<layer name>`."""
    kind = KIND.get(layer.op)
    if kind is None:
        raise UnsupportedModelError(f"layer {layer.name}: no RTL template for op {layer.op}")
    params = dict(layer.template_params())
    params["name"] = f"{top}_{layer.name}"
    return kind, params


def plan(graph, top: str = "hwgen_top", fifo_depths: dict | None = None) -> dict:
    """The stitched design without writing anything: {"stages": [...], "streams": [...], ...}.

    stages: {"module", "kind", "params", "layer" (layer name or None), "words_per_frame" (output words per frame)}
    streams: stream i enters stage i (stream len(stages) is out_V): {"name", "producer", "consumer",
    "words_per_frame", "layer" (the layer whose output this is, or None)}.
    fifo_depths: optional {layer name: depth} overriding fifo_depth() for the FIFO in front of that layer.
    """
    layers = list(graph.layers)
    if not layers:
        raise UnsupportedModelError("the hardware graph has no layers: nothing to put into RTL")
    stages = []
    n_dwc = n_fifo = 0
    for i, layer in enumerate(layers):
        if i > 0:
            prev = layers[i - 1]
            pe, simd = prev.out_elems_per_word(), layer.in_elems_per_word()
            if prev.out_dtype.bits != layer.in_dtype.bits:
                raise UnsupportedModelError(
                    f"layers {prev.name} -> {layer.name}: {prev.out_dtype.name} output feeds a "
                    f"{layer.in_dtype.name} input; the element widths must agree")
            eb = layer.in_dtype.bits
            elems = prev.num_vectors * prev.out_features
            widths = [pe]
            if pe != simd:
                if pe % simd == 0 or simd % pe == 0:
                    widths.append(simd)
                else:
                    widths += [pe * simd // math.gcd(pe, simd), simd]
            for a, b in zip(widths, widths[1:]):
                name = f"{top}__dwc{n_dwc}"
                n_dwc += 1
                stages.append({"module": name, "kind": "dwc", "layer": None, "words_per_frame": elems // b,
                               "params": {"name": name, "in_width": a * eb, "out_width": b * eb, "elem_bits": eb}})
            depth = (fifo_depths or {}).get(layer.name, fifo_depth(layer))
            if depth > 0:
                name = f"{top}__fifo{n_fifo}"
                n_fifo += 1
                stages.append({"module": name, "kind": "fifo", "layer": None, "words_per_frame": elems // simd,
                               "params": {"name": name, "width": simd * eb, "depth": int(depth)}})
        kind, params = layer_block(layer, top)
        stages.append({"module": params["name"], "kind": kind, "layer": layer.name, "params": params,
                       "words_per_frame": layer.out_words_per_frame()})
    for s in stages:
        s["in_tdw"], s["out_tdw"] = stream_widths(s["kind"], s["params"])
    for a, b in zip(stages, stages[1:]):
        if a["out_tdw"] != b["in_tdw"]:  # a bug in the rules above, not a user error
            raise AssertionError(f"{a['module']} sends {a['out_tdw']} bits, {b['module']} takes {b['in_tdw']}")
    for s in stages:  # short names for messages: the layer name, dwc<i>, fifo<i>
        s["label"] = s["layer"] or s["module"][len(top) + 2:]
    streams = [{"name": f"in0_V -> {stages[0]['label']}", "producer": "in0_V", "consumer": stages[0]["module"],
                "words_per_frame": layers[0].in_words_per_frame(), "layer": None}]
    for i, s in enumerate(stages):
        cons = stages[i + 1]["label"] if i + 1 < len(stages) else "out_V"
        streams.append({"name": f"{s['label']} -> {cons}", "producer": s["module"],
                        "consumer": stages[i + 1]["module"] if i + 1 < len(stages) else "out_V",
                        "words_per_frame": s["words_per_frame"], "layer": s["layer"]})
    first, last = layers[0], layers[-1]
    return {
        "top": top,
        "stages": stages,
        "streams": streams,
        "in": {"tdata_bits": stages[0]["in_tdw"], "dtype": first.in_dtype.name,
               "elems_per_word": first.in_elems_per_word(), "words_per_frame": first.in_words_per_frame(),
               "features": first.num_vectors * first.in_features},
        "out": {"tdata_bits": stages[-1]["out_tdw"], "dtype": last.out_dtype.name,
                "elems_per_word": last.out_elems_per_word(), "words_per_frame": last.out_words_per_frame(),
                "features": last.num_vectors * last.out_features},
        "layers": {lay.name: {"module": f"{top}_{lay.name}", "cycles": lay.cycles(),
                              "out_stream": next(j for j, st in enumerate(streams) if st["layer"] == lay.name)}
                   for lay in layers},
    }


def write_rtl_project(out_dir, graph, top: str = "hwgen_top", fifo_depths: dict | None = None) -> list[Path]:
    """Write the stitched design of `graph` into out_dir (see the module docstring); returns the written paths,
    the top's .v first."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    p = plan(graph, top, fifo_depths)
    paths: list[Path] = []
    blocks: dict[str, list[str]] = {}
    for s in p["stages"]:
        written = write_block(s["kind"], s["params"], out_dir)
        blocks[s["module"]] = [w.name for w in written]
        paths += written
    fw = p["out"]["words_per_frame"]
    stages = [{"module": s["module"], "in_tdw": s["in_tdw"], "out_tdw": s["out_tdw"]} for s in p["stages"]]
    text = render("rtl/top.v.j2", name=top, stages=stages, frame_words=fw, FW=_clog2(fw), monitor=True)
    top_v = out_dir / f"{top}.v"
    top_v.write_text(text)
    vfiles = [top_v.name] + [f for s in p["stages"] for f in blocks[s["module"]] if f.endswith(".v")]
    flist = out_dir / f"{top}.f"
    flist.write_text("\n".join(vfiles) + "\n")
    manifest = {k: v for k, v in p.items() if k != "stages"}
    manifest["stages"] = [{k: v for k, v in s.items() if k != "params"} | {"files": blocks[s["module"]]}
                          for s in p["stages"]]
    manifest["verilog"] = vfiles
    manifest["mem"] = sorted(f for fs in blocks.values() for f in fs if f.endswith(".mem"))
    mpath = out_dir / f"{top}.json"
    mpath.write_text(json.dumps(manifest, indent=2))
    return [top_v] + paths + [flist, mpath]


def load_manifest(rtl_dir, top: str = "hwgen_top") -> dict:
    return json.loads((Path(rtl_dir) / f"{top}.json").read_text())
