"""Icarus Verilog as the second Verilog-2005 parser: every generated .v must elaborate with `iverilog -g2005`
(Debian package `iverilog`) as well as lint clean with Verilator in 1364-2005 mode (hwgen.sim.verilator.lint).
Two front ends catch what one accepts silently (SystemVerilog casts, declarations Verilator tolerates)."""

from __future__ import annotations

import shutil

from hwgen.errors import ToolError
from hwgen.sim.verilator import run_tool


def find_iverilog() -> str:
    exe = shutil.which("iverilog")
    if exe is None:
        raise ToolError("iverilog not found: install Icarus Verilog (Debian/Ubuntu: `apt-get install iverilog`)")
    return exe


def lint(sources: list, top: str, params: dict | None = None, defines=(), cwd=None) -> str:
    """`iverilog -g2005 -Wall` elaboration of `sources` with root module `top` (params: {name: int or str} of
    the top, defines: macro names); returns the output, raises ToolError on any error or warning."""
    from hwgen.codegen.rtl import vparam

    ps = [f"-P{top}.{k}={vparam(v)}" for k, v in (params or {}).items()]
    cmd = [find_iverilog(), "-g2005", "-Wall", "-t", "null", "-s", top, *ps, *(f"-D{d}" for d in defines),
           *map(str, sources)]
    p = run_tool(cmd, cwd=cwd, what="iverilog -g2005")
    out = (p.stdout + p.stderr).strip()
    if out:
        raise ToolError(f"iverilog -g2005 warnings: {' '.join(cmd)}\n" + "\n".join(out.splitlines()[-30:]))
    return out
