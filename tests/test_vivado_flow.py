"""Issue 4, acceptance 3: `hwgen build MODEL --board B` writes, for every board in boards/, a board project flow
(OUT/vivado/) that passes a run against stub Vivado / Vitis HLS / v++ commands (tests/vivado_stub/), run through
the user's own entry point `OUT/vivado/build.sh` with fake `vivado`, `vitis_hls` and `v++` on PATH.

The stubs record each call and check its arguments (parts and platforms from boards/, IP VLNVs from a known
catalog, CONFIG parameter names, files that exist, every required pin of every block-design cell connected
exactly once, AXI4-Stream widths equal across each connection). The mutation tests prove that a Tcl syntax
error, a missing file, an unconnected port (and a few more mistakes) make the run fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hwgen.boards import all_boards
from hwgen.cli import main
from hwgen.graph import HwGraph
from hwgen.codegen.vivado import DMA_MM_WIDTHS, DMA_STREAM_WIDTHS, accelerator_io, alveo_slot, stream_plan

ROOT = Path(__file__).resolve().parents[1]
STUB = ROOT / "tests" / "vivado_stub"
MODEL = ROOT / "tests" / "models" / "brevitas" / "mlp_w3a5_narrow.onnx"
BOARDS = all_boards()
ZYNQ = sorted(b for b, v in BOARDS.items() if v.ps != "none")
ALVEO = sorted(b for b, v in BOARDS.items() if v.ps == "none")

sys.path.insert(0, str(STUB))
from vpp_stub import parse_cfg  # noqa: E402

pytestmark = pytest.mark.requires_tool("tclsh")  # Tcl 8.6 (apt package tcl)


def build(tmp: Path, board: str, model: Path = MODEL, extra=()) -> Path:
    out = tmp / f"out_{board}"
    assert main(["build", str(model), "-o", str(out), "--board", board, "-q", *extra]) == 0
    return out


def run_flow(out: Path, *args, path_prefix=True, env_extra=None) -> tuple[subprocess.CompletedProcess, list]:
    """Run OUT/vivado/build.sh with the stub tools on PATH; returns the process and the call log."""
    log = out / "stub_calls.log"
    if log.exists():
        log.unlink()
    env = dict(os.environ, HWGEN_STUB_LOG=str(log), HWGEN_STUB_BOARDS=str(ROOT / "boards"))
    if path_prefix:
        env["PATH"] = f"{STUB / 'bin'}{os.pathsep}{env['PATH']}"
    env.update(env_extra or {})
    r = subprocess.run(["bash", str(out / "vivado" / "build.sh"), *args], capture_output=True, text=True,
                       env=env, timeout=120)
    calls = log.read_text().splitlines() if log.exists() else []
    return r, calls


def tcl_calls(calls: list, cmd: str) -> list[str]:
    return [c for c in calls if c.split(" ", 1)[0] == cmd]


def config_of(calls: list, cell: str) -> dict:
    """CONFIG.* values set on /cell through `set_property -dict {...} /cell` (stub log lines are Tcl lists)."""
    cfg = {}
    for c in tcl_calls(calls, "set_property"):
        if c.endswith(f" /{cell}") and " -dict " in c:
            body = c[len("set_property -dict "):-len(f" /{cell}")].strip("{}")
            toks = body.split()
            cfg.update({toks[i][len("CONFIG."):]: toks[i + 1] for i in range(0, len(toks), 2)})
    return cfg


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One build per board (module scope: the builds are shared by the checks below)."""
    tmp = tmp_path_factory.mktemp("vivado_boards")
    return {b: build(tmp, b) for b in BOARDS}


# ------------------------------------------------------------------------------------------------ every board

@pytest.mark.parametrize("board", sorted(BOARDS))
def test_every_board_flow_passes_the_stub_run(board, built, tmp_path):
    b = BOARDS[board]
    out = tmp_path / "o"
    shutil.copytree(built[board], out)
    r, calls = run_flow(out)
    assert r.returncode == 0, r.stdout + r.stderr
    in_bits, out_bits, in_words, out_words = accelerator_io(HwGraph.load(out))
    plan = stream_plan(in_bits, out_bits, in_words, out_words, b.dma_width)
    if b.ps == "none":
        outputs = out / "vivado" / "output" / "hwgen_top.xclbin"
        assert json.loads(outputs.read_text())["platform"] == b.platform
        vpp = [json.loads(c) for c in calls if c.startswith("[")]
        assert [c[1] for c in vpp] == ["-c", "-c", "-c", "-l"]
        entries = parse_cfg((out / "vivado" / "link.cfg").read_text())
        assert ("", "platform", b.platform) in entries
        conn = [v for s, k, v in entries if s == "connectivity" and k == "stream_connect"]
        assert conn == ["idma0.out:accel0.in0_V", "accel0.out_V:odma0.in"]
        clocks = [v for s, k, v in entries if s == "clock"]
        assert all(v.startswith(f"{int(b.clock_mhz * 1e6)}:") for v in clocks) and len(clocks) == 3
        return
    # Zynq: HLS ran on OUT/hls and exported an IP; the block design validated; bit + hwh written
    assert tcl_calls(calls, "set_part") == [f"set_part {b.part}"]
    assert tcl_calls(calls, "export_design") == ["export_design -format ip_catalog"]
    assert (out / "hls" / "hwgen_dma_top_hls" / "sol1" / "impl" / "ip" / "component.xml").is_file()
    assert f"-part {b.part}" in tcl_calls(calls, "create_project")[0]
    for step in ("validate_bd_design", "make_wrapper", "launch_runs", "wait_on_run", "write_hw_platform"):
        assert tcl_calls(calls, step), step
    assert calls[-1] == "RESULT ok"
    for f in ("hwgen_top.bit", "hwgen_top.hwh", "hwgen_top.xsa"):
        assert (out / "vivado" / "output" / f).is_file(), f
    dma = config_of(calls, "axi_dma_0")
    assert dma["c_include_sg"] == "0"
    assert int(dma["c_m_axi_mm2s_data_width"]) == int(dma["c_m_axi_s2mm_data_width"]) == plan.mm_bits
    assert plan.mm_bits == max(b.dma_width, plan.dma_in_bits, plan.dma_out_bits) and plan.mm_bits in DMA_MM_WIDTHS
    assert int(dma["c_m_axis_mm2s_tdata_width"]) == plan.dma_in_bits in DMA_STREAM_WIDTHS
    assert int(dma["c_s_axis_s2mm_tdata_width"]) == plan.dma_out_bits in DMA_STREAM_WIDTHS
    ps = config_of(calls, "ps")
    clock_key = "PCW_FPGA0_PERIPHERAL_FREQMHZ" if b.ps == "ps7" else "PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ"
    assert float(ps[clock_key]) == b.clock_mhz
    vlnv = [c.split()[4] for c in tcl_calls(calls, "create_bd_cell") if " -vlnv " in c]
    ps_ip = {"ps7": "processing_system7", "zynq_ultra_ps_e": "zynq_ultra_ps_e"}[b.ps]
    assert f"xilinx.com:ip:{ps_ip}:" in " ".join(vlnv) and "xilinx.com:hls:hwgen_dma_top:1.0" in vlnv
    # the stream path: the DMA's width end to end (hwgen_dma_top converts inside), no Xilinx width converter with
    # a non-integer ratio (in fact none at all)
    assert plan.mm_bits == plan.dma_in_bits == plan.dma_out_bits == b.dma_width
    assert_no_fractional_width_converter(calls)


def assert_no_fractional_width_converter(calls):
    cells = [c.split()[-1] for c in tcl_calls(calls, "create_bd_cell") if "axis_dwidth_converter" in c]
    for cell in cells:
        cfg = config_of(calls, cell)
        s, m = int(cfg["S_TDATA_NUM_BYTES"]), int(cfg["M_TDATA_NUM_BYTES"])
        assert max(s, m) % min(s, m) == 0, f"{cell}: {s} -> {m} bytes is a non-integer ratio"
    assert not cells, f"the block design has Xilinx width converters: {cells}"


def test_flow_matches_the_pynq_driver_package(built, tmp_path):
    """The DMA cell name and the bitstream name are the ones OUT/driver/hwgen_driver/meta.json expects, and the
    build drops the .bit / .hwh into the driver package."""
    out = tmp_path / "o"
    shutil.copytree(built["ultra96-v2"], out)
    meta_file = out / "driver" / "hwgen_driver" / "meta.json"
    if not meta_file.is_file():
        pytest.skip("hwgen build writes no PYNQ driver package")
    meta = json.loads(meta_file.read_text())
    r, calls = run_flow(out)
    assert r.returncode == 0, r.stderr
    assert any(c.endswith(f" {meta['dma_name']}") and "axi_dma" in c for c in tcl_calls(calls, "create_bd_cell"))
    bit = meta["bitfile"]
    assert (out / "vivado" / "output" / bit).is_file()
    assert (meta_file.parent / bit).is_file() and (meta_file.parent / bit.replace(".bit", ".hwh")).is_file()


def test_stream_plan_rules():
    for args in ((40, 16, 8, 10, 64), (256, 8, 1, 1, 64), (784, 8, 1, 1, 128)):  # any word: the DMA's width
        p = stream_plan(*args)
        assert (p.dma_in_bits, p.dma_out_bits, p.mm_bits, p.in_converter, p.out_converter) == (args[-1],) * 3 + (
            False, False)
    assert alveo_slot(5) == alveo_slot(8) and alveo_slot(5).per_beat == 8 and alveo_slot(98).beats == 2


def test_wide_tfc_like_stream_without_converters(tmp_path):
    """A folding whose words are not DMA widths (the digits MLP fully unrolled: 128-bit input, odd output)."""
    out = build(tmp_path, "zcu104", ROOT / "examples" / "digits" / "digits_mlp_w2a2.onnx", ["--target-fps", "1e8"])
    for extra in ((), ("--rtl",)):
        r, calls = run_flow(out, *extra)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "RESULT ok" in calls
        assert_no_fractional_width_converter(calls)


def test_rtl_option_adds_the_verilog_as_module_reference(built, tmp_path):
    out = tmp_path / "o"
    shutil.copytree(built["pynq-z2"], out)
    rtl = out / "rtl"
    if not (rtl / "hwgen_top.v").is_file():  # hwgen build writes OUT/rtl; if it did not: a ports-only module
        ib, ob, _, _ = accelerator_io(HwGraph.load(out))
        rtl.mkdir(exist_ok=True)
        (rtl / "hwgen_top.v").write_text(
            "module hwgen_top (\n  input wire ap_clk,\n  input wire ap_rst_n,\n"
            f"  input  wire [{ib - 1}:0] in0_V_TDATA,\n  input wire in0_V_TVALID,\n  output wire in0_V_TREADY,\n"
            f"  output wire [{ob - 1}:0] out_V_TDATA,\n  output wire out_V_TVALID,\n  input wire out_V_TREADY,\n"
            "  output wire out_V_TLAST\n);\nendmodule\n")
    r, calls = run_flow(out, "--rtl")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not tcl_calls(calls, "open_project")  # no Vitis HLS
    assert "create_bd_cell -type module -reference hwgen_dma_top accel" in calls
    assert (out / "vivado" / "output" / "hwgen_top.bit").is_file()
    # a memory file the Verilog reads is missing: synthesis (stub) fails
    mems = sorted(rtl.glob("*.mem"))
    if mems:
        shutil.rmtree(out / "vivado" / "project")
        mems[0].unlink()
        r, _ = run_flow(out, "--rtl")
        assert r.returncode != 0 and f"reads {mems[0].name}, which is not in the project" in r.stderr, r.stderr
    # without the Verilog the flow stops with a clear message
    shutil.rmtree(rtl)
    r, _ = run_flow(out, "--rtl")
    assert r.returncode != 0 and "no Verilog in ../rtl" in r.stderr


def test_board_preset_path(built, tmp_path):
    """With the board files installed (stub: HWGEN_STUB_BOARD_PARTS) the PS gets the board preset."""
    for board, bp in (("pynq-z2", "tul.com.tw:pynq-z2:part0:1.0"), ("zcu104", "xilinx.com:zcu104:part0:1.1")):
        out = tmp_path / board
        shutil.copytree(built[board], out)
        r, calls = run_flow(out, env_extra={"HWGEN_STUB_BOARD_PARTS": bp})
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"set_property board_part {bp} hwgen_{board.replace('-', '_')}" in calls
        assert any("apply_board_preset" in c for c in tcl_calls(calls, "apply_bd_automation"))


def test_build_sh_names_missing_tools(built, tmp_path):
    for board, tool in (("pynq-z2", "vivado"), ("alveo-u250", "v++")):
        out = tmp_path / board
        shutil.copytree(built[board], out)
        env = {"PATH": "/usr/bin:/bin"}  # no Xilinx tools
        r = subprocess.run(["bash", str(out / "vivado" / "build.sh")], capture_output=True, text=True,
                           env=env, timeout=60)
        assert r.returncode == 127
        assert f"'{tool}' is not on PATH" in r.stderr and "settings64.sh" in r.stderr
    # vivado present but vitis_hls missing: named too
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "vivado").symlink_to(STUB / "bin" / "vivado")
    r = subprocess.run(["bash", str(tmp_path / "pynq-z2" / "vivado" / "build.sh")], capture_output=True, text=True,
                       env={"PATH": f"{fake}:/usr/bin:/bin"}, timeout=60)
    assert r.returncode == 127 and "'vitis_hls' is not on PATH" in r.stderr and "--rtl" in r.stderr


def test_readme_says_what_it_needs(built):
    for board in ("pynq-z2", "kv260", "alveo-u55c"):
        text = (built[board] / "vivado" / "README.md").read_text()
        assert "build.sh" in text and "output/" in text and "2022.2" in text
        if BOARDS[board].ps == "none":
            assert BOARDS[board].platform in text and "xclbin" in text
        else:
            assert "hwgen_top.bit" in text and "hwgen_top.hwh" in text and "scp" in text


# ------------------------------------------------------------------------------------------------ mutations

def _mutate(path: Path, old, new, count=1):
    text = path.read_text()
    if isinstance(old, re.Pattern):
        assert old.search(text), f"{old.pattern!r} not in {path.name}"
        path.write_text(old.sub(new, text, count=count))
        return
    assert text.count(old) >= 1, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count))


TCL_MUTATIONS = {
    # name: (file relative to OUT, old, new, text expected in the failure)
    "syntax_unbalanced_brace": ("vivado/build.tcl", "set hw_source hls\n", "set hw_source {hls\n", ""),
    "syntax_unknown_command": ("vivado/build.tcl", "assign_bd_address\n", "assign_bd_adress\n",
                               'invalid command name "assign_bd_adress"'),
    "syntax_in_hls_tcl": ("hls/dma_hls.tcl", "csynth_design\n", "csynth_design [\n", ""),
    "unconnected_interrupt": ("vivado/build.tcl", "connect_bd_net [hw_pin axi_dma_0/mm2s_introut] [hw_pin irq_concat/In0]\n",
                              "", "validate_bd_design"),
    "unconnected_accel_output": ("vivado/build.tcl", "connect_bd_intf_net [hw_intf accel/out_V]", "#",
                                 "interface /accel/out_V is not connected"),
    "unconnected_accel_clock": ("vivado/build.tcl", "[hw_pin rst/slowest_sync_clk] [hw_pin accel/ap_clk]",
                                "[hw_pin rst/slowest_sync_clk]",
                                "input pin /accel/ap_clk is not driven"),
    "unconnected_accel_reset": ("vivado/build.tcl", "[hw_pin axi_dma_0/axi_resetn] [hw_pin accel/ap_rst_n]",
                                "[hw_pin axi_dma_0/axi_resetn]",
                                "input pin /accel/ap_rst_n is not driven"),
    "unconnected_dma_control": ("vivado/build.tcl", "connect_bd_intf_net [hw_intf ctrl_ic/M00_AXI] [hw_intf axi_dma_0/S_AXI_LITE]",
                                "", "is not connected"),
    "unconnected_dma_reset": ("vivado/build.tcl", " [hw_pin axi_dma_0/axi_resetn]", "", "/axi_dma_0/axi_resetn is not driven"),
    "pin_connected_twice": ("vivado/build.tcl", "connect_bd_net [hw_pin axi_dma_0/s2mm_introut] [hw_pin irq_concat/In1]",
                            "connect_bd_net [hw_pin axi_dma_0/s2mm_introut] [hw_pin irq_concat/In0]", "already driven"),
    "scatter_gather_on": ("vivado/build.tcl", "CONFIG.c_include_sg {0}", "CONFIG.c_include_sg {1}",
                          "/axi_dma_0/M_AXI_SG is not connected"),
    # the width depends on the folding the build chose: double whatever it is
    "stream_width_mismatch": ("vivado/build.tcl", re.compile(r"CONFIG\.c_s_axis_s2mm_tdata_width \{(\d+)\} "),
                              lambda m: f"CONFIG.c_s_axis_s2mm_tdata_width {{{2 * int(m.group(1))}}} ",
                              "TDATA widths differ"),
    "unknown_ip": ("vivado/build.tcl", "xilinx.com:ip:axi_dma:*", "xilinx.com:ip:axi_dmax:*", "not in the IP catalog"),
    "unknown_ip_parameter": ("vivado/build.tcl", "CONFIG.c_sg_length_width", "CONFIG.c_sg_length_bits",
                             "has no parameter c_sg_length_bits"),
    "part_not_in_boards": ("vivado/build.tcl", "set hw_part xc7z020clg400-1", "set hw_part xc7z030sbg485-1",
                           "not the part of any board"),
    "hls_part_not_in_boards": ("hls/dma_hls.tcl", "set_part {xc7z020clg400-1}", "set_part {xc7z020clg484-1}",
                               "not the part of any board"),
    "addresses_not_assigned": ("vivado/build.tcl", "assign_bd_address\n", "", "addresses not assigned"),
    "no_ps_interrupt_enabled": ("vivado/build.tcl", "CONFIG.PCW_IRQ_F2P_INTR {1}", "CONFIG.PCW_IRQ_F2P_INTR {0}",
                                "ps/IRQ_F2P does not exist"),
}


@pytest.mark.parametrize("name", sorted(TCL_MUTATIONS))
def test_tcl_mutation_fails_the_stub_run(name, built, tmp_path):
    rel, old, new, expect = TCL_MUTATIONS[name]
    out = tmp_path / "o"
    shutil.copytree(built["pynq-z2"], out)
    r, calls = run_flow(out)  # the unmutated flow passes in this copy ...
    assert r.returncode == 0, r.stderr
    shutil.rmtree(out / "vivado" / "project")
    _mutate(out / rel, old, new)
    r, calls = run_flow(out)  # ... the mutated one fails
    assert r.returncode != 0, f"mutation {name} was not caught:\n{r.stdout}"
    assert expect in r.stderr + r.stdout, r.stderr
    assert not (calls and calls[-1] == "RESULT ok" and "export_design" not in rel)


@pytest.mark.parametrize("failing", [{"HWGEN_STUB_WNS": "-0.412", "HWGEN_STUB_TNS": "-35.2"},
                                     {"HWGEN_STUB_WHS": "-0.020", "HWGEN_STUB_THS": "-0.090"}],
                         ids=["setup", "hold"])
def test_failed_timing_copies_no_bitstream(failing, built, tmp_path):
    """Implementation that misses timing (setup or hold) stops the flow before any .bit / .hwh leaves the run
    directory: nothing in output/ or the PYNQ driver package, and a message that says why and what to do."""
    out = tmp_path / "o"
    shutil.copytree(built["pynq-z2"], out)
    r, calls = run_flow(out, env_extra=failing)
    assert r.returncode != 0, r.stdout
    msg = r.stdout + r.stderr
    assert "timing not met at 100" in msg and "no bitstream copied" in msg and "--clock-mhz" in msg, msg
    assert ("WNS -0.412" in msg) if "HWGEN_STUB_WNS" in failing else ("WHS -0.020" in msg), msg
    assert not list((out / "vivado" / "output").glob("*.bit")) and not list((out / "vivado" / "output").glob("*.hwh"))
    assert (out / "vivado" / "output" / "timing_summary.rpt").is_file()  # the report to read is there
    driver = out / "driver" / "hwgen_driver"
    assert not list(driver.glob("*.bit")) and not list(driver.glob("*.hwh"))
    assert not tcl_calls(calls, "write_hw_platform")


@pytest.mark.parametrize("missing", ["hls/MVAU_0.hpp", "hls/mvau.hpp", "hls/dma_hls.tcl", "hls/hwgen_dma_top.cpp"])
def test_missing_file_fails_the_stub_run(missing, built, tmp_path):
    out = tmp_path / "o"
    shutil.copytree(built["kv260"], out)
    (out / missing).unlink()
    r, _ = run_flow(out)
    assert r.returncode != 0
    assert ("does not exist" in r.stderr or "missing" in r.stderr or "includes missing file" in r.stderr), r.stderr


def test_zynq_us_mutations(built, tmp_path):
    """ZynqMP: leaving HPM1_FPD enabled leaves its clock undriven; a wrong HP port name does not exist."""
    for old, new, expect in (("CONFIG.PSU__USE__M_AXI_GP1 {0}", "CONFIG.PSU__USE__M_AXI_GP1 {1}",
                              "maxihpm1_fpd_aclk is not driven"),
                             ("set hw_ps_mem ps/S_AXI_HP0_FPD", "set hw_ps_mem ps/S_AXI_HP1_FPD", "does not exist")):
        out = tmp_path / f"o{abs(hash(old))}"
        shutil.copytree(built["zcu102"], out)
        _mutate(out / "vivado" / "build.tcl", old, new)
        r, _ = run_flow(out)
        assert r.returncode != 0 and expect in r.stderr, r.stderr


ALVEO_MUTATIONS = {
    "stream_unconnected": ("vivado/link.cfg", "stream_connect=accel0.out_V:odma0.in\n", "",
                           "accel0.out_V is not connected"),
    "platform_typo": ("vivado/link.cfg", "platform=xilinx_u50", "platform=xilinx_u5O", "platform"),
    "cfg_syntax": ("vivado/link.cfg", "[connectivity]", "[connectivity", "not key=value"),
    "unknown_port": ("vivado/link.cfg", "accel0.in0_V", "accel0.in_V", "has no stream port in_V"),
    "kernel_name": ("vivado/kernels/hwgen_odma.cpp", "void hwgen_odma(", "void hwgen_odma2(", "not found"),
    "include_missing": ("vivado/kernels/hwgen_accel.cpp", '#include "hwgen_top.cpp"', '#include "hwgen_tp.cpp"',
                        "not found"),
}


@pytest.mark.parametrize("name", sorted(ALVEO_MUTATIONS))
def test_alveo_mutation_fails_the_stub_run(name, built, tmp_path):
    rel, old, new, expect = ALVEO_MUTATIONS[name]
    out = tmp_path / "o"
    shutil.copytree(built["alveo-u50"], out)
    _mutate(out / rel, old, new)
    r, _ = run_flow(out)
    assert r.returncode != 0 and expect in r.stderr, r.stderr


def test_alveo_missing_hls_source(built, tmp_path):
    out = tmp_path / "o"
    shutil.copytree(built["alveo-u250"], out)
    (out / "hls" / "MVAU_0.hpp").unlink()
    r, _ = run_flow(out)
    assert r.returncode != 0 and "MVAU_0.hpp" in r.stderr


# ------------------------------------------------------------------------------------------------ untrusted names

def test_hostile_model_names_and_paths_never_reach_the_flow(tmp_path):
    from tests.malformed_models import HOSTILE_CASES

    case = next(c for c in HOSTILE_CASES if c.id == "shell")
    weird = tmp_path / "dir with $(id) `x`; 'q'"
    weird.mkdir()
    model = case.make(weird)
    for board in ("pynq-z2", "alveo-u50"):
        out = build(tmp_path, board, model)
        texts = "\n".join(f.read_text() for f in (out / "vivado").rglob("*") if f.is_file())
        assert str(weird) not in texts and "pwned" not in texts and "rm -rf" not in texts
        # every Tcl variable the flow sets is a plain word
        if board == "pynq-z2":
            for m in re.finditer(r"^set (hw_\w+) (.+)$", (out / "vivado" / "build.tcl").read_text(), re.M):
                if m.group(1) in ("hw_board", "hw_part", "hw_ps", "hw_top", "hw_bd", "hw_output", "hw_clock_mhz"):
                    assert re.fullmatch(r"[A-Za-z0-9_.\-]+", m.group(2)), m.group(0)
        r, _ = run_flow(out)
        assert r.returncode == 0, r.stderr


def test_board_fields_are_validated_before_reaching_tcl(tmp_path):
    """Board YAML values go into Tcl / shell / cfg text only after validation."""
    import dataclasses

    from hwgen.codegen.vivado import write_vivado
    from hwgen.errors import HwgenError

    out = build(tmp_path, "pynq-z2")
    g = HwGraph.load(out)
    good = BOARDS["pynq-z2"]
    for bad in (dict(part="xc7z020 ; exec rm -rf /"), dict(part="xc7z020[exit]"), dict(clock_mhz=0.0),
                dict(dma_width=48), dict(ps="microblaze")):
        with pytest.raises(HwgenError):
            write_vivado(tmp_path / "v", g, dataclasses.replace(good, **bad))
    with pytest.raises(HwgenError):
        write_vivado(tmp_path / "v", g, dataclasses.replace(BOARDS["alveo-u50"], platform="p$(id)"))


# ------------------------------------------------------------------------------------------------ several islands

ISLANDS_MODEL = ROOT / "tests" / "models" / "islands" / "residual_float_sum.onnx"  # hw, cpu (float sum), hw


@pytest.fixture(scope="module")
def two_islands(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vivado_islands")
    return {b: build(tmp, b, ISLANDS_MODEL) for b in ("pynq-z2", "kv260", "alveo-u50")}


@pytest.mark.parametrize("board", ["pynq-z2", "kv260"])
@pytest.mark.parametrize("source", ["hls", "rtl"])
def test_two_islands_share_one_block_design(board, source, two_islands, tmp_path):
    """Each hardware island is its own accelerator (unique IP / module names) and AXI DMA (axi_dma_<k>) in ONE
    block design: one interconnect port and address window per DMA, one interrupt pair each; the .hwh names every
    DMA the driver's meta.json looks up."""
    out = tmp_path / "o"
    shutil.copytree(two_islands[board], out)
    assert not (out / "hw1" / "vivado").exists()  # no second project
    r, calls = run_flow(out, f"--{source}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(tcl_calls(calls, "create_project")) == 1 and len(tcl_calls(calls, "create_bd_design")) == 1
    cells = {c.split()[-1]: c for c in tcl_calls(calls, "create_bd_cell")}
    if source == "hls":
        assert tcl_calls(calls, "export_design") == ["export_design -format ip_catalog",
                                                     "export_design -format ip_catalog -ipname hw1_dma_top"]
        assert "config_rtl -module_prefix hw1_" in calls
        assert "xilinx.com:hls:hwgen_dma_top:1.0" in cells["accel"]
        assert "xilinx.com:hls:hw1_dma_top:1.0" in cells["accel_1"]
    else:
        assert cells["accel"].endswith("-reference hwgen_dma_top accel")
        assert cells["accel_1"].endswith("-reference hw1_dma_top accel_1")
    assert config_of(calls, "ctrl_ic")["NUM_MI"] == "2" and config_of(calls, "mem_ic")["NUM_SI"] == "4"
    assert config_of(calls, "irq_concat")["NUM_PORTS"] == "4"
    from hwgen.islands import IslandGraph

    g = IslandGraph.load(out)
    for k, hw in enumerate(g.hw_islands):
        plan = stream_plan(*accelerator_io(hw), BOARDS[board].dma_width)
        dma = config_of(calls, f"axi_dma_{k}")
        assert int(dma["c_m_axis_mm2s_tdata_width"]) == plan.dma_in_bits
        cell = "accel" if k == 0 else f"accel_{k}"
        assert f"connect_bd_intf_net /axi_dma_{k}/M_AXIS_MM2S /{cell}/in0_V" in calls
    meta = json.loads((out / "driver" / "hwgen_driver" / "meta.json").read_text())
    hwh = (out / "driver" / "hwgen_driver" / "hwgen_top.hwh").read_text()
    bases = set()
    for im in (i for i in meta["islands"] if i["kind"] == "hw"):
        m = re.search(rf'INSTANCE="{im["dma_name"]}" MODTYPE="axi_dma".*?BASEVALUE="(0x[0-9A-F]+)"', hwh, re.S)
        assert m, im["dma_name"]
        bases.add(m.group(1))
    assert len(bases) == 2


def test_two_islands_name_clash_is_caught(two_islands, tmp_path):
    """The stub fails a project where two islands' modules share names: the check behind the unique names."""
    out = tmp_path / "o"
    shutil.copytree(two_islands["pynq-z2"], out)
    _mutate(out / "hw1" / "hls" / "dma_hls.tcl", "config_rtl -module_prefix hw1_\n", "")
    r, _ = run_flow(out)
    assert r.returncode != 0 and "both generate modules hwgen_dma_top" in r.stderr, r.stderr
    shutil.rmtree(out / "vivado" / "project")
    _mutate(out / "vivado" / "rtl_hw1" / "hw1_top.v", "module hw1_top", "module hwgen_top")
    r, _ = run_flow(out, "--rtl")
    assert r.returncode != 0 and "module hwgen_top is defined twice" in r.stderr, r.stderr


def test_two_islands_alveo_link(two_islands, tmp_path):
    out = tmp_path / "o"
    shutil.copytree(two_islands["alveo-u50"], out)
    r, calls = run_flow(out)
    assert r.returncode == 0, r.stdout + r.stderr
    vpp = [json.loads(c) for c in calls if c.startswith("[")]
    assert [c[c.index("-k") + 1] for c in vpp if "-c" in c] == ["hwgen_idma", "hwgen_accel", "hwgen_odma",
                                                                 "hw1_idma", "hw1_accel", "hw1_odma"]
    accel1 = next(c for c in vpp if "hw1_accel" in c)
    assert accel1[accel1.index("-I") + 1] == "../hw1/hls"
    xclbin = json.loads((out / "vivado" / "output" / "hwgen_top.xclbin").read_text())
    assert set(xclbin["cus"]) == {"idma0", "accel0", "odma0", "idma1", "accel1", "odma1"}
    _mutate(out / "vivado" / "link.cfg", "stream_connect=accel1.out_V:odma1.in\n", "")
    r, _ = run_flow(out)
    assert r.returncode != 0 and "accel1.out_V is not connected" in r.stderr
