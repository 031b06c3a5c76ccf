"""The stitched RTL design of a hardware graph: OUT/rtl/.

    write_rtl_project(out_dir, graph) -> [paths]

renders the graph's finished design (graph.design(): width converters placed, a FIFO depth on every stream; the
same design the HLS top declares) into out_dir (OUT/rtl/ in a build):
  <top>_<node>.v + .mem       one block per node (each node's `rtl_template` and `rtl_context`), width
                              converters included
  hwgen_fifo.v, hwgen_*.v     the static library modules the design uses (hwgen.codegen.rtl.LIB_MODULES), once
                              each: the FIFO on every stream is an hwgen_fifo instance `<stream>_fifo` in the top
                              with that stream's WIDTH, DEPTH and STYLE
  <top>.v                     the top (templates/rtl/top.v.j2): ap_clk, ap_rst_n, AXI4-Stream in0_V_* / out_V_*
                              with out_V_TLAST on the last word of every frame; with `define HWGEN_MONITOR also
                              mon_valid / mon_ready (TVALID / TREADY of every wire, for the simulator)
  <top>.json                  the manifest: files, stages (each with its module, instance, a library module's
                              "params" and its "files": what synthesizing it alone needs), wires ("streams": name,
                              producer, consumer, words per frame), the design's streams with depths, the outside
                              stream formats; hwgen.runtime.rtlsim and hwgen.sim.yosys read it
  <top>.f                     the Verilog file list (top first)

Module names are `<top>_<node name>` (node names are sanitized identifiers without "__") and the library's
`hwgen_<function>`, so they never collide with each other or with Verilog keywords. The ROM files are read
relative to the simulator's / synthesis tool's working directory: run from out_dir.

Wires: each stream is two wires, `<stream>_w` (producer -> FIFO) and `<stream>` (FIFO -> consumer). Stage k of
the manifest (blocks and FIFOs in dataflow order) is entered by wire k when the design is a chain; on any graph
each stage lists its "in_wires" / "out_wires" (monitor indices), each layer its stage, wires and "timing_wire",
and "fifos" names the wire into and out of the FIFO of every stream (the simulator reads occupancies from them).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from hwgen.bits import pad8
from hwgen.codegen import rtl
from hwgen.codegen.render import render
from hwgen.errors import UnsupportedModelError


def fifo_depth(consumer) -> int:
    """Words of the FIFO in front of `consumer`: the kind's rule."""
    return consumer.fifo_depth(0)


def _with_depths(graph, fifo_depths):
    if not fifo_depths:
        return graph
    return dataclasses.replace(graph, fifo_depths={**graph.fifo_depths, **fifo_depths}, edges=list(graph.edges))


def sizing_fifo_cfg(module: str, width: int, depth: int) -> list[str]:
    """Lines of a sizing FIFO's configuration file (hwgen_fifo with SIZING = 1): its depth and whether the real
    FIFO of that depth is built in the "ram" style (the same rule, rtl.fifo_style). `module` and `width` name
    the FIFO for the caller; the rule needs only the depth."""
    return [f"{int(depth):x}", "1" if rtl.fifo_style(int(depth)) == "ram" else "0"]


def _fifo_params(name: str, s, sizing: dict | None) -> tuple[dict, dict]:
    """hwgen_fifo parameters of the FIFO on stream s, and its files (the configuration file of a sizing run:
    room for sizing[s.name] words, at least its depth and 2, the depth in use read from `<name>.depth`)."""
    if sizing is None:
        return rtl.fifo_params(s.bits, int(s.depth)), {}
    capacity = max(int(sizing.get(s.name, s.depth)), int(s.depth), 2)
    cfg = f"{name}.depth"
    params = dict(rtl.fifo_params(s.bits, capacity), STYLE=rtl.fifo_style(int(s.depth)), SIZING=1, CFG_FILE=cfg)
    return params, {cfg: sizing_fifo_cfg(name, s.bits, s.depth)}


def plan(graph, top: str = "hwgen_top", fifo_depths: dict | None = None, sizing: dict | None = None) -> dict:
    """The stitched design without writing anything.

    stages: {"module", "name" (unique: the module of a node's block, `<top>__fifo_<stream>` for a FIFO; the
    streams' producer / consumer), "instance", "kind" (the template's name), "op" (nodes), "template" (None: a
    library module, with "params"), "ctx", "files", "layer" (compute node name or None), "label",
    "words_per_frame" (output words per frame), "ports"}; streams (the top's wires, monitor order):
    {"name", "producer", "consumer", "words_per_frame", "layer" (the layer whose output this is, or None)};
    fifo_depths: optional {stream name: depth} overriding the graph's depths. sizing: {stream name: capacity}
    for FIFO sizing runs (hwgen.sim.fifo_sizing): every FIFO is an hwgen_fifo with SIZING = 1, room for that
    many words (at least its depth), reading its depth at run time from `<top>__fifo_<stream>.depth`.
    """
    g = _with_depths(graph, fifo_depths)
    if not g.layers:
        raise UnsupportedModelError("the hardware graph has no layers: nothing to put into RTL")
    d = g.design()
    compute = {lay.name for lay in g.layers}
    stages, wires = [], []

    def wire(name, bits, src, dst, wpf, layer, label):
        wires.append({"name": name, "tdw": pad8(bits), "src": src, "dst": dst, "words_per_frame": wpf,
                      "layer": layer, "label": label})

    def label(s):  # what messages call a stream: its ends, as the user named them
        return f"{s.src or 'in0_V'} -> {s.dst or 'out_V'}"

    def fifo_stage(s):
        name = f"{top}__fifo_{s.name}"  # the streams' name for it; names its sizing configuration file
        params, files = _fifo_params(name, s, sizing)
        src = f"{top}_{s.src}" if s.src else "in0_V"
        wire(f"{s.name}_w", s.bits, src, name, s.words_per_frame, s.src if s.src in compute else None,
             f"{label(s)} (into its FIFO)")
        stages.append({"module": "hwgen_fifo", "params": params, "name": name, "instance": f"{s.name}_fifo",
                       "kind": "fifo", "template": None, "dirs": (), "ctx": None, "files": files, "layer": None,
                       "label": f"fifo_{s.name}", "words_per_frame": s.words_per_frame, "stream": s.name,
                       "comment": f"stream {s.name}: {s.src or 'in0_V'} -> {s.dst or 'out_V'}, {s.bits} bits, "
                                  f"depth {s.depth}",
                       "ports": [{"port": "in0_V", "wire": f"{s.name}_w"}, {"port": "out_V", "wire": s.name}]})

    for node in d.nodes:
        module = f"{top}_{node.name}"
        ins, outs = d.inputs_of(node.name), d.outputs_of(node.name)
        for s in ins:
            fifo_stage(s)
            wire(s.name, s.bits, f"{top}__fifo_{s.name}", module, s.words_per_frame, None, label(s))
        if node.rtl_template is None:
            raise UnsupportedModelError(f"layer {node.name}: kind {node.op} has no RTL template")
        with rtl.timing_target(*rtl.target_of_meta(getattr(graph, "meta", None))):  # matrix pipeline depth
            ctx, files = node.rtl_context(rtl.LIB, module)
        in_ports, out_ports = rtl.ports(len(ins), len(outs))
        for s, p in zip(ins, in_ports):
            _check_width(ctx, p, s, module)
        stages.append({"module": module, "name": module, "instance": f"u_{node.name}", "op": node.op,
                       "kind": node.rtl_template.rsplit("/", 1)[-1].split(".")[0],
                       "template": node.rtl_template, "dirs": node.template_dirs, "ctx": ctx, "files": files,
                       "layer": node.name if node.name in compute else None, "label": node.name,
                       "words_per_frame": outs[0].words_per_frame, "comment": f"{node.op} {node.name}",
                       "ports": [{"port": p, "wire": s.name} for s, p in zip(ins, in_ports)]
                       + [{"port": p, "wire": f"{s.name}_w"} for s, p in zip(outs, out_ports)]})
    o = d.output
    fifo_stage(o)
    wire(o.name, o.bits, f"{top}__fifo_{o.name}", "out_V", o.words_per_frame, None, label(o))
    # monitor order: the wire entering each stage (its first input), the other wires, then the one into out_V
    # last (a chain: wire k enters stage k; the harness reads the last wire as the output)
    by_name = {w["name"]: w for w in wires}
    order = [by_name[s["ports"][0]["wire"]] for s in stages]
    order += [w for w in wires if w not in order and w["name"] != o.name] + [by_name[o.name]]
    streams = [{"name": w["label"], "wire": w["name"], "producer": w["src"], "consumer": w["dst"],
                "words_per_frame": w["words_per_frame"], "layer": w["layer"]} for w in order]
    i, out = d.input, d.output
    index = {w["name"]: j for j, w in enumerate(order)}
    for s in stages:  # what the harness measures per stage (idle cycles) and per stream
        s["in_wires"] = [index[p["wire"]] for p in s["ports"] if p["port"].startswith("in")]
        s["out_wires"] = [index[p["wire"]] for p in s["ports"] if p["port"].startswith("out")]
    stage_of = {s["layer"]: k for k, s in enumerate(stages) if s["layer"]}
    return {
        "top": top,
        "stages": stages,
        "wires": order,
        "streams": streams,
        "design_streams": [s.to_json() for s in d.streams],
        "in": {"tdata_bits": pad8(i.bits), "dtype": i.dtype.name, "elems_per_word": i.elems_per_word,
               "words_per_frame": i.words_per_frame, "features": i.words_per_frame * i.elems_per_word},
        "out": {"tdata_bits": pad8(out.bits), "dtype": out.dtype.name, "elems_per_word": out.elems_per_word,
                "words_per_frame": out.words_per_frame, "features": out.words_per_frame * out.elems_per_word},
        "layers": {lay.name: _layer_info(lay, top, stages[stage_of[lay.name]], stage_of[lay.name])
                   for lay in g.layers},
        # the FIFO of every design stream: the wire into it and the wire out of it (its occupancy is the
        # difference of their handshake counts)
        "fifos": [{"stream": s.name, "in_wire": index[f"{s.name}_w"], "out_wire": index[s.name],
                   "depth": int(s.depth)} for s in d.streams],
    }


def _layer_info(lay, top: str, stage: dict, k: int) -> dict:
    """A layer's entry in the manifest: its stage and wires. Its frame timing ("timing_wire") is read on its
    output, except for a fork (several outputs, which may run apart): on its input."""
    outs, ins = stage["out_wires"], stage["in_wires"]
    timing = outs[0] if len(outs) == 1 else ins[0]
    return {"module": f"{top}_{lay.name}", "cycles": lay.cycles(), "stage": k, "in_wires": ins, "out_wires": outs,
            "out_stream": outs[0], "timing_wire": timing, "timing_from": "output" if len(outs) == 1 else "input"}


def _check_width(ctx: dict, port: str, s, module: str) -> None:
    want = ctx.get("IN_TDW") if port == "in0_V" else None
    if want is not None and want != pad8(s.bits):  # a kind's template disagrees with its own stream interface
        raise AssertionError(f"{module}: template takes {want}-bit words, stream {s.name} carries {pad8(s.bits)}")


def write_rtl_project(out_dir, graph, top: str = "hwgen_top", fifo_depths: dict | None = None,
                      sizing: dict | None = None) -> list[Path]:
    """Write the stitched design of `graph` into out_dir (see the module docstring); returns the written paths,
    the top's .v first. sizing: see plan()."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    p = plan(graph, top, fifo_depths, sizing)
    paths: list[Path] = []
    blocks: dict[str, list[str]] = {}  # instance -> its files (its module's .v, the library modules it uses, ROMs)
    libs: set[str] = set()
    for s in p["stages"]:
        own: list[Path] = []
        if s["template"] is None:  # an instance of a library module
            used = [s["module"]]
        else:
            text = render(s["template"], extra_dirs=s["dirs"], **s["ctx"])
            own.append(out_dir / f"{s['module']}.v")
            own[0].write_text(text)
            used = rtl.lib_modules_in(text)
        paths += rtl.write_lib(out_dir, [m for m in used if m not in libs])
        libs.update(used)
        for fname, lines in s["files"].items():
            own.append(out_dir / fname)
            own[-1].write_text("\n".join(lines) + "\n")
        paths += own
        blocks[s["instance"]] = [f.name for f in own[:1] if f.suffix == ".v"] + [f"{m}.v" for m in used] + \
            [f.name for f in own if f.suffix != ".v"]
    text = rtl.render_top(top, [{k: s.get(k) for k in ("module", "params", "instance", "comment", "ports")}
                                for s in p["stages"]],
                          p["wires"], p["wires"][0]["name"], p["wires"][-1]["name"],
                          p["out"]["words_per_frame"], monitor=True,
                          streams=[dict(st, src=st["src"], dst=st["dst"]) for st in p["design_streams"]])
    top_v = out_dir / f"{top}.v"
    top_v.write_text(text)
    vfiles = list(dict.fromkeys([top_v.name] + [f for s in p["stages"] for f in blocks[s["instance"]]
                                                if f.endswith(".v")]))
    flist = out_dir / f"{top}.f"
    flist.write_text("\n".join(vfiles) + "\n")
    manifest = {k: v for k, v in p.items() if k not in ("stages", "wires")}
    manifest["stages"] = [{k: s[k] for k in ("module", "params", "name", "instance", "kind", "layer", "label",
                                             "words_per_frame", "in_wires", "out_wires")
                           if k in s and (k != "params" or s[k])} | {"files": blocks[s["instance"]]}
                          for s in p["stages"]]
    manifest["verilog"] = vfiles
    manifest["mem"] = sorted({f for fs in blocks.values() for f in fs if f.endswith(".mem")})
    mpath = out_dir / f"{top}.json"
    mpath.write_text(json.dumps(manifest, indent=2))
    return [top_v] + paths + [flist, mpath]


def load_manifest(rtl_dir, top: str = "hwgen_top") -> dict:
    return json.loads((Path(rtl_dir) / f"{top}.json").read_text())
