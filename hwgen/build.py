"""`hwgen build`: import, lower into islands, fold, write the build directory and its report.

The finished design of every hardware island (HwGraph.design()) is computed once after folding (and FIFO sizing)
and is what every emitter, the report and the driver are handed."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from hwgen import fold
from hwgen.boards import get_board
from hwgen.errors import TimingError
from hwgen.frontend import import_model
from hwgen.graph import HwGraph
from hwgen.islands import IslandGraph
from hwgen.transforms.passes import lower


def compile_model(model_path, board: str | None = None, folding_file=None, target_fps=None,
                  clock_mhz=None, input_dtype: str | None = None, hw_only: bool = False) -> IslandGraph:
    """Model file -> folded islands (nothing written). clock_mhz overrides the board's clock (folding, reports);
    input_dtype: what the hardware receives when a float input feeds the first layer (--input-dtype); hw_only:
    refuse (naming the node) instead of running nodes on the CPU between hardware layers (--hw-only)."""
    from hwgen.frontend.input_types import parse

    p = str(Path(model_path).resolve())  # absolute: hwgraph.json must find the model from any directory
    b = board_at_clock(get_board(board), clock_mhz)
    declared = parse(input_dtype) if input_dtype else None
    mw = import_model(p)
    g = lower(mw, p, declared, hw_only=hw_only)
    g.model_path = str(Path(p).resolve())  # absolute: `hwgen verify` finds the model from any working directory
    from hwgen.transforms.prune_channels import prune_channels

    pruned = []  # constant or unread channels out of their layer and the next one, per hardware island
    for hw in g.hw_islands:
        pruned += prune_channels(hw.layers, hw.edges)
    explain = fold_islands(g, b, target_fps, folding_file)
    g.meta = {"board": b.name, "part": b.part, "clock_mhz": b.clock_mhz, "target_fps": target_fps,
              "model_sha256": hashlib.sha256(Path(p).read_bytes()).hexdigest(), "folding": explain,
              "input": input_summary(g, declared), "lowering": g.meta.get("lowering", {}), "pruned": pruned}
    for hw in g.hw_islands:
        hw.model_path, hw.meta = g.model_path, g.meta
    return g


def fold_islands(g: IslandGraph, b, target_fps, folding_file) -> dict | None:
    """All hardware islands folded together (they share the board's resources and run at one rate), each
    island's DMA bounding it."""
    from hwgen.codegen.dma import geometry

    hws = g.hw_islands
    if not hws:
        return None
    layers = [lay for hw in hws for lay in hw.layers]
    edges = [e for hw in hws for e in hw.edges]
    return fold.fold_graph(layers, b, target_fps, folding_file, edges=edges,
                           cpu_layers=(g.meta.get("lowering") or {}).get("cpu_layers"),
                           io_cycles=lambda ls: max(geometry(hw.layers, b.dma_width).io_cycles_per_frame
                                                    for hw in hws))


def input_summary(g, declared) -> dict:
    """What the first hardware layer receives and why (the head's reason says it in words)."""
    hws = g.hw_islands
    first = g.islands[0] if g.islands else None
    if not isinstance(first, HwGraph):
        why = (g.meta.get("lowering") or {}).get("head_error") or "the model's first nodes run on the CPU"
        return {"declared": declared and declared.name, "source": declared and declared.source,
                "first_layer": "cpu", "explain": f"the model's input enters a CPU island first: {why}" if hws else
                f"nothing of the model runs in hardware: {why}"}
    head = first.head
    grid = declared or head.input_check
    return {"declared": grid and grid.name, "source": grid and grid.source,
            "first_layer": "cpu" if any(n.op_type in ("MatMul", "Gemm", "Conv") for n in head.nodes) else "hardware",
            "explain": head.explain or head.reason}


def board_at_clock(b, clock_mhz=None):
    """The board with its clock replaced by clock_mhz (None: the board's own clock)."""
    if clock_mhz is None:
        return b
    from dataclasses import replace

    from hwgen.errors import HwgenError

    c = float(clock_mhz)
    if not 1.0 <= c <= 1000.0:
        raise HwgenError(f"clock {clock_mhz!r} MHz is out of range; give a clock between 1 and 1000 MHz.")
    return replace(b, clock_mhz=c)


def as_islands(g) -> IslandGraph:
    """An HwGraph (a graph edited in Python) as a one-island model."""
    if isinstance(g, IslandGraph):
        return g
    return IslandGraph([g], g.input_name, g.input_shape, g.output_name, g.model_path, g.meta)


def summary(g, designs: list | None = None) -> dict:
    """summary.json. designs: the finished design of each hardware island (computed once by the caller)."""
    from hwgen.codegen.dma import geometry, io_estimate
    from hwgen.fold.search import RESOURCES, board_use
    from hwgen.fold.units import estimate
    from hwgen.layers.fifo_cost import fifo_resources
    from hwgen.plan.memory import plan_memories

    g = as_islands(g)
    hws = g.hw_islands
    designs = designs if designs is not None else [hw.design() for hw in hws]
    clock = g.meta["clock_mhz"]
    board = get_board(g.meta["board"])
    has_uram = board.resources.get("uram", 0) > 0
    layers = []
    for k, hw in enumerate(hws):
        for layer in hw.layers:
            layers.append({
                "name": layer.name, "op": layer.op, "island": f"hw{k}", "pe": layer.pe, "simd": layer.simd,
                "in_shape": layer.in_shape, "out_shape": layer.out_shape,
                "in_nhwc": layer.in_nhwc, "out_nhwc": layer.out_nhwc,
                "in_dtype": layer.in_dtype.name, "out_dtype": layer.out_dtype.name,
                "weight_dtype": getattr(layer, "w_dtype", None) and layer.w_dtype.name,
                "cycles": layer.cycles(), "onnx_nodes": layer.onnx_nodes,
                "resources": {"estimate": estimate(layer, has_uram)},
            })
    parts = cpu_partitions(g)
    cap = board.resources
    tot = {r: sum(board_use(lay["resources"]["estimate"])[r] for lay in layers) for r in RESOURCES}
    # the glue the finished designs add around the layers: a FIFO on every stream and the width converters
    streams, converters = [], []
    for k, d in enumerate(designs):
        for st in d.summary():
            st["island"] = f"hw{k}"
            st["resources"] = {"estimate": fifo_resources(st["bits"], st["depth"])}
            streams.append(st)
        converters += [n for n in d.nodes if n.inserted]
    glue = [board_use(st["resources"]["estimate"]) for st in streams]
    glue += [board_use(n.resources()) for n in converters]
    glue_tot = {r: sum(x[r] for x in glue) for r in RESOURCES}
    partitions = g.partitions(designs)
    est = {"cycles_per_frame": None, "fps": None, "compute_fps": None, "bound": "cpu", "bottleneck": None}
    if layers:
        cpf = max(lay["cycles"] for lay in layers)
        # each island's DMA pair carries its own frames: the slowest bounds the model (CPU islands not counted)
        ios = [io_estimate(geometry(hw, board.dma_width), clock) for hw in hws]
        io = min(ios, key=lambda x: x["io_bound_fps"])
        compute_fps = clock * 1e6 / cpf
        est = {"cycles_per_frame": cpf, "fps": min(compute_fps, io["io_bound_fps"]), "compute_fps": compute_fps,
               **io, "bound": "io" if io["io_bound_fps"] < compute_fps else "compute",
               "bottleneck": max(layers, key=lambda lay: lay["cycles"])["name"]}
    est["boundaries"] = [{"island": p["name"], "in_bytes_per_frame": p["in_bytes_per_frame"],
                          "out_bytes_per_frame": p["out_bytes_per_frame"]} for p in partitions if p["kind"] == "hw"]
    est["cpu_islands"] = [p["name"] for p in partitions if p["kind"] == "cpu"]
    if est["cpu_islands"]:
        est["note"] = ("fps counts the hardware islands and their DMA transfers only; the CPU islands between them "
                       "run on the processor (see partitions)")
    return {
        "model": g.model_path,
        "board": g.meta["board"],
        "clock_mhz": clock,
        "layers": layers,
        # cycles_per_frame: the layers' pipeline (what rtlsim measures); fps: no faster than the DMA delivers
        "estimate": est,
        "partitions": partitions,
        "cpu_partitions": parts,
        "input": g.meta.get("input"),
        # channels the prune_channels pass removed (constant output, or not read by the next matrix layer)
        "pruned": g.meta.get("pruned") or [],
        # estimate: the layers (what the folding search budgets); glue_estimate: FIFOs and width converters;
        # design_estimate: both (what yosys --synth totals)
        "totals": {"estimate": tot, "glue_estimate": glue_tot,
                   "design_estimate": {r: tot[r] + glue_tot[r] for r in RESOURCES},
                   "capacity": {r: cap.get(r, 0) for r in RESOURCES},
                   "utilization": {r: (tot[r] / cap[r] if cap.get(r) else None) for r in RESOURCES}},
        "memory": plan_memories([lay for hw in hws for lay in hw.layers], has_uram=has_uram),
        "folding": g.meta.get("folding"),
        # every stream of the finished designs: the names and FIFO depths of the HLS tops and the RTL tops
        "streams": streams,
        "width_converters": [{"name": n.name, "in_elems": n.in_elems, "out_elems": n.out_elems,
                              "cycles": n.cycles(), "resources": {"estimate": n.resources()}}
                             for n in converters],
    }


def cpu_partitions(g: IslandGraph) -> list[dict]:
    """Every piece the CPU runs, in order: each hardware island's head and tail, and the CPU islands."""
    parts, k = [], 0
    for isl in g.islands:
        if isinstance(isl, HwGraph):
            pre = "" if len(g.hw_islands) == 1 else f"hw{k} "
            for part in (isl.head, isl.tail):
                if part.nodes or part.role == "tail":
                    parts.append({"role": pre + part.role, "nodes": part.node_names, "reason": part.reason})
            k += 1
        else:
            parts.append({"role": f"{isl.name} (CPU island)", "nodes": [n.name for n in isl.nodes],
                          "reason": island_reason(isl)})
    return parts


FOLLOWS = ("a float tensor computed on the CPU", "recomputed on the CPU")  # reasons that only follow another


def island_reason(isl) -> str:
    """Why a CPU island is not in hardware, in short: the nodes with a reason of their own (the others follow
    them: they read float tensors the CPU computes, or are recomputed there)."""
    own = [isl.reasons[n.name] for n in isl.nodes if isl.reasons.get(n.name) and
           not any(f in isl.reasons[n.name] for f in FOLLOWS)]
    rest = len(isl.nodes) - len(own)
    text = "; ".join(dict.fromkeys(own)) or "nodes that read float tensors computed on the CPU"
    return text + (f"; {rest} more node(s) after them, reading float tensors computed on the CPU" if own and rest
                   else "")


def build(model_path, out, board=None, folding_file=None, target_fps=None, synth=False, size_fifos=False,
          log=print, clock_mhz=None, input_dtype=None, hw_only=False, ecp5=False, strict=False) -> dict:
    t0 = time.perf_counter()
    g = compile_model(model_path, board, folding_file, target_fps, clock_mhz, input_dtype=input_dtype,
                      hw_only=hw_only)
    return write_build(g, out, synth=synth, size_fifos=size_fifos, log=log, t0=t0, ecp5=ecp5, strict=strict)


def write_build(g, out, synth=False, size_fifos=False, log=print, t0=None, ecp5=False, strict=False) -> dict:
    """Write the build directory of folded islands (or of one HwGraph): the graph, every backend's project per
    hardware island (all rendered from its one finished design), the report. Also the way to build a graph edited
    in Python (a kind of one's own).

    Atomic (hwgen.outdir.staged_build): everything is written into a temporary sibling of `out` with a manifest
    (hwgen.manifest), which then replaces `out`; a failed build leaves the old `out` as it was, and a second
    concurrent build into `out` is refused (BuildDirError).

    synth: yosys resources and the open timing estimate of every block (hwgen.sim.yosys.synth_build); ecp5: also
    place and route every block for an ECP5 (implies synth); strict: a timing estimate below the clock raises
    TimingError and leaves `out` as it was (without strict it is summary["timing"] only)."""
    from hwgen.outdir import staged_build

    t0 = time.perf_counter() if t0 is None else t0
    with staged_build(out, log=log) as work:
        return _write_build_dir(as_islands(g), work, synth or ecp5, size_fifos, log, t0, ecp5, strict)


def _write_build_dir(g: IslandGraph, out: Path, synth, size_fifos, log, t0, ecp5=False, strict=False) -> dict:
    from hwgen.codegen.project import write_generated

    out.mkdir(parents=True, exist_ok=True)
    g.save(out)
    fifos = None
    if size_fifos:
        from hwgen.codegen.rtl_project import write_rtl_project
        from hwgen.sim.fifo_sizing import size_fifos as size

        fifos = {}
        for k, hw in enumerate(g.hw_islands):
            d = g.island_dir(out, k)
            log(f"sizing FIFOs of hardware island {k} in the Verilator model ..." if k else
                "sizing FIFOs in the Verilator model ...")
            write_rtl_project(d / "rtl", hw)  # the rule's design first (sizing simulates its own copies)
            res = size(d, hw, log=log)
            hw.fifo_depths = dict(res["depths"])  # both tops are rendered with the measured depths
            fifos = res if k == 0 else {**fifos, f"hw{k}": res}
        g.save(out)
    designs = [hw.design() for hw in g.hw_islands]  # the finished designs, once: every writer below gets them
    s = summary(g, designs)
    board = board_at_clock(get_board(g.meta["board"]), g.meta["clock_mhz"])
    s["generated"] = {}
    for k, hw in enumerate(g.hw_islands):
        d = g.island_dir(out, k)
        for proj, files in write_generated(d, hw, board, k).items():
            s["generated"].setdefault(proj, []).extend(str((d / f).relative_to(out)) for f in files)
    if g.hw_islands:  # the board flow: ONE block design (or xclbin) with every hardware island
        from hwgen.codegen.vivado import write_vivado

        s["generated"]["vivado"] = [str(f.relative_to(out)) for f in write_vivado(out / "vivado", g, board)]
    from hwgen.runtime.driver_writer import write_driver

    s["generated"]["driver"] = [str(f.relative_to(out)) for f in write_driver(out, g, board)]
    s["build_seconds"] = round(time.perf_counter() - t0, 3)
    if fifos is not None:
        s["fifos"] = fifos
    if synth and g.hw_islands:
        from hwgen.sim.yosys import synth_build

        # every hardware island's blocks, each in its own directory (OUT/synth, OUT/hw<k>/synth)
        per = []
        for k, hw in enumerate(g.hw_islands):
            if k:
                log(f"hardware island {k}:")
            per.append(synth_build(g.island_dir(out, k), hw, board, log=log, ecp5=ecp5,
                                   jobs=max(1, min(4, os.cpu_count() or 1))))
        s["synth"], s["timing"] = synth_islands(per)
        if strict:
            from hwgen.sim.timing_report import verdict

            below, line = verdict(s["timing"])
            if below:
                raise TimingError(line + " (--strict: nothing written). Lower --clock-mhz, or fold / pipeline the "
                                         "block.")
    write_report(out, s)
    return s


def synth_islands(per: list) -> tuple[dict, dict]:
    """(summary.json "synth", "timing") from each hardware island's synth_build result. One island: its result
    (its "timing" moved to the top level; hwgen/sim/timing_report.py documents the keys). Several: resources
    summed over the islands (they share the board), "layers" of all of them (layer names are unique in a model),
    "glue" blocks named hw<k>/<block> after island 0, "islands": each island's own totals; "timing" the slowest
    island's estimate (one clock), every island's blocks (timing_report.islands_timing)."""
    from hwgen.sim.timing_report import islands_timing

    if len(per) == 1:
        synth = dict(per[0])
        return synth, synth.pop("timing")
    res = ("luts", "ffs", "brams", "dsps")
    synth = {"tool": per[0]["tool"], "family": per[0]["family"], **{r: sum(p[r] for p in per) for r in res},
             "layers": {}, "glue": {}, "islands": {},
             "seconds": round(sum(p["seconds"] for p in per), 2)}
    for k, p in enumerate(per):
        synth["layers"].update(p["layers"])
        synth["glue"].update({(f"hw{k}/" if k else "") + b: v for b, v in p["glue"].items()})
        synth["islands"][f"hw{k}"] = {**{r: p[r] for r in res}, "seconds": p["seconds"]}
    return synth, islands_timing([(f"hw{k}", p["timing"]) for k, p in enumerate(per)])


def write_report(out: Path, s: dict) -> None:
    """summary.json for tools, index.html for people."""
    from hwgen.report_html import render

    (out / "report").mkdir(parents=True, exist_ok=True)
    (out / "report" / "summary.json").write_text(json.dumps(s, indent=2))
    (out / "report" / "index.html").write_text(render(s))


# what `hwgen report` prints from summary.json: key -> type (a dict: nested keys), checked before printing
_REPORT_KEYS = {"board": str, "clock_mhz": (int, float), "layers": list, "cpu_partitions": list,
                "estimate": {"cycles_per_frame": (int, float), "bottleneck": str, "fps": (int, float)}}
_LAYER_KEYS = {"name": str, "op": str, "pe": int, "simd": int, "in_shape": list, "out_shape": list, "in_dtype": str,
               "out_dtype": str, "weight_dtype": (str, type(None)), "cycles": (int, float)}
_OPTIONAL_KEYS = {"rtlsim": {"cycles_per_frame": (int, float, type(None)), "latency_cycles": int, "frames": int},
                  "synth": {}, "input": {}}


def _summary_problem(s) -> str | None:
    def check(doc, spec, where):
        for k, t in spec.items():
            if k not in doc:
                return f"has no {where}{k!r}"
            if isinstance(t, dict):
                if not isinstance(doc[k], dict):
                    return f"has {where}{k!r} that is not an object"
                problem = check(doc[k], t, f"{where}{k}.")
                if problem:
                    return problem
            elif not isinstance(doc[k], t) or isinstance(doc[k], bool):
                return f"has {where}{k!r} = {doc[k]!r} of the wrong type"
        return None

    if not isinstance(s, dict):
        return "is not a JSON object"
    problem = check(s, _REPORT_KEYS, "")
    for i, lay in enumerate([] if problem else s["layers"]):
        problem = problem or (f"has layer {i} that is not an object" if not isinstance(lay, dict) else
                              check(lay, _LAYER_KEYS, f"layers[{i}]."))
    for i, part in enumerate([] if problem else s["cpu_partitions"]):
        if not (isinstance(part, dict) and isinstance(part.get("nodes"), list) and "role" in part and "reason" in part):
            return f"has cpu_partitions[{i}] without role, nodes and reason"
    for k, spec in _OPTIONAL_KEYS.items():
        if not problem and k in s and s[k] is not None:
            problem = check({k: s[k]}, {k: spec}, "")
    return problem


def load_summary(out: Path) -> dict:
    """OUT/report/summary.json, checked to hold what `hwgen report` prints (BuildDirError naming the file and the
    key when not)."""
    from hwgen.errors import BuildDirError

    f = Path(out) / "report" / "summary.json"
    if not f.is_file():
        raise BuildDirError(f"{str(f)!r} not found; is {str(out)!r} an hwgen build directory? Run `hwgen build`.")
    try:
        s = json.loads(f.read_bytes().decode("utf-8"))
    except OSError as e:
        raise BuildDirError(f"{str(f)!r} cannot be read ({e.strerror}).") from None
    except UnicodeDecodeError as e:
        raise BuildDirError(f"{str(f)!r} is not UTF-8 text (byte {e.start}); rebuild with `hwgen build`.") from None
    except json.JSONDecodeError as e:
        raise BuildDirError(f"{str(f)!r} is not valid JSON ({e}); rebuild.") from None
    problem = _summary_problem(s)
    if problem:
        raise BuildDirError(f"{str(f)!r} {problem}: it was edited or written by another hwgen version; rebuild with "
                            "`hwgen build` (the report is rewritten).")
    return s
